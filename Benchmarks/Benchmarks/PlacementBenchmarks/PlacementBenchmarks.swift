import Benchmark
import Placement
import Residency

/// Placement decisions per second for meetings of 2, 10 and 100 participants on
/// clusters of 10, 100 and 1,000 nodes (issue 2's benchmark). The cluster is a
/// synthetic world of 50 regions in 12 jurisdictions; the policy allows six of
/// them (an EU-like tenant), so most nodes are excluded and explained, as in
/// production. Deterministic: a fixed seed builds the same inputs every run.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           maxDuration: .seconds(3), maxIterations: 1_000_000)
    for nodeCount in [10, 100, 1_000] {
        for participantCount in [2, 10, 100] {
            let world = World(nodes: nodeCount, participants: participantCount, seed: 2026)
            Benchmark("place \(participantCount) participants on \(nodeCount) nodes") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(try world.engine.place(world.participants, policy: world.policy, in: world.view))
                }
            }
        }
    }
    let world = World(nodes: 1_000, participants: 10, seed: 7)
    Benchmark("replace 10 participants after losing 1 of 1000 nodes") { benchmark in
        let before = try world.engine.place(world.participants, policy: world.policy, in: world.view)
        let lost = try world.view.removing([before.nodes[0]])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try world.engine.replace(before, participants: world.participants, policy: world.policy, in: lost))
        }
    }
}

struct World {
    let engine: PlacementEngine
    let view: ClusterView
    let policy: ResidencyPolicy
    let participants: [Participant]

    init(nodes nodeCount: Int, participants participantCount: Int, seed: UInt64) {
        var rng = SplitMix(seed)
        let codes = ["DE", "FR", "IE", "NL", "SE", "PL", "CH", "GB", "US", "CA", "AU", "JP"].map { CountryCode($0)! }
        let regions = (0..<50).map { i in
            Region(id: RegionID("r\(i)"), jurisdiction: codes[i % codes.count],
                   location: GeoPoint(latitude: rng.double(in: -40...65), longitude: rng.double(in: -120...150)))
        }
        let nodes = (0..<nodeCount).map { i in
            let r = regions[i % regions.count]
            return ClusterNode(id: NodeID("n\(i)"), region: r.id, jurisdiction: r.jurisdiction, load: Int(rng.next() % 100), capacity: 500)
        }
        let allowed = Set(codes.prefix(6))
        var rules: [DataCategory: CategoryRule] = [:]
        for c in DataCategory.allCases { rules[c] = CategoryRule(allowed: allowed, allowExpression: ["EU-LIKE"]) }
        policy = ResidencyPolicy(tenant: "bench", version: 1, rules: rules)
        view = try! ClusterView(nodes: nodes, regions: regions)
        participants = (0..<participantCount).map { i in
            Participant(id: "p\(i)", location: ParticipantLocation(point: GeoPoint(latitude: rng.double(in: 35...60), longitude: rng.double(in: -10...30))))
        }
        engine = PlacementEngine(countryLocations: [:])
    }
}

struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func double(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }
}
