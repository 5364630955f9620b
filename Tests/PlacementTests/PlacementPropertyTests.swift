import Testing
import Residency
import Placement
import DemarcTestSupport

/// Properties over random clusters, policies and participants (seeded: a failure
/// prints its seed and reproduces).
@Suite struct PlacementPropertyTests {
    static let engine = PlacementEngine(catalog: Fixtures.catalog)

    /// An independent statement of who may serve: written from DESIGN.md, not from the engine.
    static func mayServe(_ n: ClusterNode, _ s: RandomScenario) -> Bool {
        guard case .valid = n.certificate, n.health == .alive, n.load < n.capacity,
              let region = s.regions.first(where: { $0.id == n.region }), region.jurisdiction == n.jurisdiction else { return false }
        return [DataCategory.media, .signaling, .logs, .transparency].allSatisfy { s.policy.allows($0, in: n.jurisdiction) }
    }

    static func checkInvariants(_ d: PlacementDecision, _ s: RandomScenario, seed: UInt64) {
        let byID = Dictionary(uniqueKeysWithValues: s.nodes.map { ($0.id, $0) })
        let used = Set(d.nodes).union(d.assignments.map(\.edge)).union([d.home])
        #expect(Set(d.nodes) == used, "seed \(seed): node list must cover edges and home")
        for id in used {
            let n = byID[id]!
            #expect(mayServe(n, s), "seed \(seed): \(id) used but may not serve")
            if used.count > 1 { #expect(s.policy.allows(.relay, in: n.jurisdiction), "seed \(seed): \(id) relays without relay permission") }
            let placedHere = d.assignments.filter { $0.edge == id }.count
            #expect(placedHere <= n.capacity - n.load, "seed \(seed): \(id) over capacity")
        }
        #expect(d.assignments.map(\.participant) == s.participants.map(\.id).sorted(), "seed \(seed): everyone placed exactly once")
        #expect(d.relayTree.count == max(0, used.count - 1), "seed \(seed): the relay tree spans the nodes")
        // Every node not used for a reason is named; no usable node is called excluded.
        for e in d.exclusions {
            let n = byID[e.node]!
            #expect(!e.reasons.isEmpty)
            if e.reasons != [.relayNotAllowed(jurisdiction: n.jurisdiction)] { #expect(!mayServe(n, s), "seed \(seed): \(e.node) excluded but fine") }
        }
        for n in s.nodes where !mayServe(n, s) { #expect(d.exclusions.contains { $0.node == n.id }, "seed \(seed): \(n.id) not explained") }
    }

    @Test func placementsNeverUseADisallowedNodeAndFailClosed() throws {
        var placed = 0, refused = 0
        for seed in UInt64(1)...400 {
            var rng = SeededGenerator(seed: seed)
            let s = RandomScenario.make(&rng)
            let view = try ClusterView(nodes: s.nodes, regions: s.regions, latency: s.latency)
            // (Result rather than do/catch: Swift 6.3 crashes on do/catch over typed throws here.)
            switch Result<PlacementDecision, any Error>(catching: { try Self.engine.place(s.participants, policy: s.policy, in: view) }) {
            case .success(let d):
                Self.checkInvariants(d, s, seed: seed)
                placed += 1
            case .failure(let error):
                refused += 1
                guard let e = error as? PlacementError else { Issue.record("seed \(seed): untyped \(error)"); continue }
                switch e {
                case .noCompliantNode:
                    #expect(!s.nodes.contains { Self.mayServe($0, s) }, "seed \(seed): refused although a node may serve")
                case let .insufficientCapacity(needed, available, _):
                    #expect(needed == s.participants.count && available < needed, "seed \(seed)")
                default:
                    Issue.record("seed \(seed): unexpected \(e)")
                }
            }
        }
        // The generator must exercise both outcomes, or this test proves little.
        #expect(placed > 50 && refused > 20, "placed \(placed), refused \(refused)")
    }

    @Test func theAnswerDoesNotDependOnInputOrder() throws {
        for seed in UInt64(1)...200 {
            var rng = SeededGenerator(seed: seed)
            let s = RandomScenario.make(&rng)
            let a = Result { try Self.engine.place(s.participants, policy: s.policy, in: try ClusterView(nodes: s.nodes, regions: s.regions, latency: s.latency)) }
            let b = Result {
                try Self.engine.place(s.participants.shuffled(using: &rng), policy: s.policy,
                                      in: try ClusterView(nodes: s.nodes.shuffled(using: &rng), regions: s.regions.shuffled(using: &rng), latency: s.latency))
            }
            switch (a, b) {
            case let (.success(x), .success(y)): #expect(x == y, "seed \(seed)")
            case let (.failure(x as PlacementError), .failure(y as PlacementError)): #expect(x == y, "seed \(seed)")
            default: Issue.record("seed \(seed): one order placed, the other failed")
            }
        }
    }

    @Test func replacementAfterLosingNodesKeepsTheInvariantOrFailsTyped() throws {
        var replaced = 0, stayedTotal = 0
        for seed in UInt64(1)...400 {
            var rng = SeededGenerator(seed: seed)
            var s = RandomScenario.make(&rng)
            let view = try ClusterView(nodes: s.nodes, regions: s.regions, latency: s.latency)
            guard let before = try? Self.engine.place(s.participants, policy: s.policy, in: view) else { continue }
            let lost = Set(before.nodes.filter { _ in Bool.random(using: &rng) } + s.nodes.map(\.id).filter { _ in Int.random(in: 0..<4, using: &rng) == 0 })
            // Gossip reports the survivors' load including this meeting's participants.
            s.nodes = s.nodes.filter { !lost.contains($0.id) }.map { n in
                var n = n
                n.load = min(n.capacity, n.load + before.assignments.filter { $0.edge == n.id }.count)
                return n
            }
            let after = try view.removing(lost)
            let outcome = Result<PlacementDecision, any Error>(catching: { try Self.engine.replace(before, participants: s.participants, policy: s.policy, in: after) })
            switch outcome {
            case .success(let d):
                for id in d.nodes { #expect(!lost.contains(id), "seed \(seed): lost node \(id) reused") }
                for a in d.assignments {
                    let old = before.assignment(of: a.participant)!
                    if !lost.contains(old.edge), before.shape == d.shape, d.shape == .cascaded {
                        #expect(a.edge == old.edge, "seed \(seed): \(a.participant) moved off a surviving node")
                    }
                    if a.edge != old.edge { #expect(d.moves.contains { $0.participant == a.participant && $0.to == a.edge }) }
                    if a.edge == old.edge { stayedTotal += 1 }
                }
                let byID = Dictionary(uniqueKeysWithValues: s.nodes.map { ($0.id, $0) })
                for id in d.nodes {
                    let n = byID[id]!
                    #expect(s.policy.allows(.media, in: n.jurisdiction) && s.policy.allows(.signaling, in: n.jurisdiction), "seed \(seed)")
                    if d.nodes.count > 1 { #expect(s.policy.allows(.relay, in: n.jurisdiction), "seed \(seed)") }
                }
                replaced += 1
            case .failure(let error):
                // A typed refusal is acceptable; any other error type is not.
                #expect(error is PlacementError, "seed \(seed): \(error)")
            }
        }
        #expect(replaced > 30, "only \(replaced) re-placements exercised")
        #expect(stayedTotal > 0, "nobody ever stayed: re-placement is not keeping anyone")
    }
}
