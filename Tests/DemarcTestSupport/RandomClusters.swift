public import Residency
public import Placement

/// Random clusters, policies and participants for property tests of placement.
public struct RandomScenario: Sendable {
    public var regions: [Region]
    public var nodes: [ClusterNode]
    public var latency: LatencyMatrix
    public var policy: ResidencyPolicy
    public var participants: [Participant]

    public static let codes: [CountryCode] = ["DE", "FR", "IE", "CH", "GB", "US", "CA", "AU", "HK", "GI", "NL", "JP"].map { CountryCode($0)! }

    public static func make(_ rng: inout SeededGenerator, maxNodes: Int = 40, maxParticipants: Int = 12) -> RandomScenario {
        let regionCount = Int.random(in: 1...8, using: &rng)
        var regions: [Region] = []
        for i in 0..<regionCount {
            let code = codes.randomElement(using: &rng)!
            regions.append(Region(id: RegionID("r\(i)-\(code.rawValue.lowercased())"), jurisdiction: code,
                                  location: GeoPoint(latitude: Double.random(in: -60...70, using: &rng), longitude: Double.random(in: -180...180, using: &rng))))
        }
        var latency = LatencyMatrix()
        for a in regions { for b in regions where a.id < b.id && Bool.random(using: &rng) {
            latency.set(a.id, b.id, milliseconds: Double(Int.random(in: 1...300, using: &rng)))
        } }
        var nodes: [ClusterNode] = []
        for i in 0..<Int.random(in: 0...maxNodes, using: &rng) {
            let region = regions.randomElement(using: &rng)!
            // Mostly consistent; sometimes a certificate jurisdiction that disagrees with the region.
            let jurisdiction = Int.random(in: 0..<10, using: &rng) == 0 ? codes.randomElement(using: &rng)! : region.jurisdiction
            let health: NodeHealth = Int.random(in: 0..<5, using: &rng) == 0 ? NodeHealth.allCases.randomElement(using: &rng)! : .alive
            let capacity = Int.random(in: 0...20, using: &rng)
            nodes.append(ClusterNode(id: NodeID("n\(i)"), region: region.id, jurisdiction: jurisdiction, health: health,
                                     certificate: Int.random(in: 0..<8, using: &rng) == 0 ? .invalid(reason: "expired") : .valid,
                                     load: Int.random(in: 0...capacity, using: &rng), capacity: capacity))
        }
        func randomSet() -> Set<CountryCode> { Set(codes.filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }) }
        var rules: [DataCategory: CategoryRule] = [:]
        for c in DataCategory.allCases {
            let s = Bool.random(using: &rng) ? randomSet() : Set(codes)
            rules[c] = CategoryRule(allowed: s, allowExpression: s.sorted().map(\.rawValue))
        }
        let policy = ResidencyPolicy(tenant: "t", version: 1, rules: rules)
        var participants: [Participant] = []
        for i in 0..<Int.random(in: 0...maxParticipants, using: &rng) {
            var loc = ParticipantLocation()
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: loc.country = codes.randomElement(using: &rng)
            case 1: loc.point = GeoPoint(latitude: Double.random(in: -60...70, using: &rng), longitude: Double.random(in: -180...180, using: &rng))
            case 2: if let r = regions.randomElement(using: &rng) { loc.measuredRTT[r.id.rawValue] = Double.random(in: 1...200, using: &rng) }
            default: break // unknown location
            }
            participants.append(Participant(id: "p\(i)", location: loc))
        }
        return RandomScenario(regions: regions, nodes: nodes, latency: latency, policy: policy, participants: participants)
    }
}
