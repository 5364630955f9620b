import Testing
import ControlPlaneWire
import Placement
import Residency
@testable import Gossip
@testable import GossipSimulation

/// Simulated-network tests: deterministic from a seed and a manual clock.
@Suite struct SimulationTests {
    func everyLiveMember(_ net: SimulatedNetwork, sees subject: Int, as status: MemberStatus) -> Bool {
        net.nodes.indices.allSatisfy { i in
            i == subject || net.nodes[i].crashed || net.nodes[i].instance.members[SimulatedNetwork.nodeID(subject)]?.status == status
        }
    }

    func falseDeaths(_ net: SimulatedNetwork, crashed: Set<Int> = []) -> Int {
        net.nodes.indices.reduce(0) { sum, i in
            sum + net.nodes[i].instance.members.values.filter { m in
                (m.status == .dead) && !crashed.contains(net.index(of: m.nodeID)!)
            }.count
        }
    }

    @Test func joinThroughSeedsConverges() throws {
        var s = SimulationSettings(nodeCount: 24, seed: 11)
        s.startConverged = false
        let net = try SimulatedNetwork(settings: s)
        var converged: GossipInstant?
        while net.now < .zero + .seconds(20) {
            net.run(for: .milliseconds(100))
            if net.nodes.allSatisfy({ $0.instance.members.values.filter { $0.status == .alive }.count == 23 }) { converged = net.now; break }
        }
        #expect(converged != nil, "not converged after 20 s")
        #expect(converged.map { $0 < .zero + .seconds(5) } ?? false)
    }

    @Test func crashedMemberIsDetectedEverywhere() throws {
        let net = try SimulatedNetwork(settings: SimulationSettings(nodeCount: 30, seed: 5))
        net.run(for: .seconds(3))
        net.crash(17)
        let crashAt = net.now
        var deadEverywhere: GossipInstant?
        while net.now < crashAt + .seconds(20) {
            net.run(for: .milliseconds(50))
            if everyLiveMember(net, sees: 17, as: .dead) { deadEverywhere = net.now; break }
        }
        let detection = try #require(deadEverywhere) - crashAt
        #expect(detection < .seconds(6), "dead everywhere after \(detection)")
        #expect(falseDeaths(net, crashed: [17]) == 0)
    }

    @Test func noFalsePositiveUnderFivePercentLoss() throws {
        var s = SimulationSettings(nodeCount: 30, seed: 21)
        s.lossRate = 0.05
        let net = try SimulatedNetwork(settings: s)
        var deaths = 0
        net.onMembershipChange = { _, change, _ in if change.status == .dead { deaths += 1 } }
        net.run(for: .seconds(60))
        #expect(deaths == 0)
        #expect(net.datagramsLost > 0)
    }

    @Test func noFalsePositiveWithOneSlowMember() throws {
        var s = SimulationSettings(nodeCount: 20, seed: 8)
        // Everything the slow member receives is processed 600 ms late: longer than a protocol period.
        s.slowMember = (index: 4, delay: .milliseconds(600))
        let net = try SimulatedNetwork(settings: s)
        var deaths = 0
        net.onMembershipChange = { _, change, _ in if change.status == .dead { deaths += 1 } }
        net.run(for: .seconds(60))
        #expect(deaths == 0)
        // Its own probes failed (it blamed others, who refuted), and it was suspected and refuted in turn.
        #expect(net.nodes[4].instance.counters.probesFailed > 0)
        #expect(net.nodes[4].instance.counters.refutations > 0)
        #expect(net.nodes.indices.allSatisfy { net.nodes[$0].instance.members.values.allSatisfy { $0.status != .dead } })
    }

    @Test func partitionThenHealRestoresOneCluster() throws {
        var s = SimulationSettings(nodeCount: 16, seed: 3)
        s.gossip.antiEntropy.seedRetryInterval = .seconds(5)
        let net = try SimulatedNetwork(settings: s)
        net.run(for: .seconds(2))
        // Seeds 0...2 all on one side: the other side can only heal by retrying them.
        net.partition([Array(0..<8), Array(8..<16)])
        net.run(for: .seconds(40))
        #expect(net.nodes[0].instance.members[SimulatedNetwork.nodeID(12)]?.status == .dead)
        #expect(net.nodes[12].instance.members[SimulatedNetwork.nodeID(0)]?.status == .dead)
        net.heal()
        var healed: GossipInstant?
        let healAt = net.now
        while net.now < healAt + .seconds(60) {
            net.run(for: .milliseconds(200))
            if net.nodes.allSatisfy({ $0.instance.members.values.allSatisfy { $0.status == .alive } && $0.instance.members.count == 15 }) {
                healed = net.now
                break
            }
        }
        #expect(healed != nil, "cluster did not heal within 60 s")
    }

    @Test func deadMembersAreReapedEverywhere() throws {
        var s = SimulationSettings(nodeCount: 12, seed: 4)
        s.gossip.antiEntropy.tombstoneDuration = .seconds(15)
        let net = try SimulatedNetwork(settings: s)
        net.run(for: .seconds(1))
        net.crash(9)
        net.leave(10)
        net.run(for: .seconds(10))
        // Node 10 has left and is no longer gossiped to; everyone else knows.
        #expect((0..<9).allSatisfy { net.nodes[$0].instance.members["node-9"]?.status == .dead })
        #expect(net.nodes[11].instance.members["node-9"]?.status == .dead)
        #expect(net.nodes.indices.filter { $0 != 10 && $0 != 9 }.allSatisfy { net.nodes[$0].instance.members["node-10"]?.status == .left })
        net.crash(10)
        net.run(for: .seconds(25))
        for i in 0..<9 {
            #expect(net.nodes[i].instance.members["node-9"] == nil)
            #expect(net.nodes[i].instance.members["node-10"] == nil)
            #expect(!net.nodes[i].instance.makePushPullRequest(join: false).digests.contains { $0.nodeID == "node-9" })
        }
    }

    @Test func stateChangeReachesEveryMember() throws {
        let net = try SimulatedNetwork(settings: SimulationSettings(nodeCount: 40, seed: 6))
        net.run(for: .seconds(1))
        try net.updateState(of: 2) { $0.status = .draining; $0.load = 42 }
        let start = net.now
        while net.now < start + .seconds(3) {
            net.run(for: .milliseconds(10))
            if net.nodes.indices.allSatisfy({ $0 == 2 || net.nodes[$0].instance.members["node-2"]?.isDraining == true }) { break }
        }
        #expect(net.now - start < .seconds(1))
        #expect(net.nodes[7].instance.members["node-2"]?.state.load == 42)
    }

    @Test func restartedMemberLiftsItsIncarnationAndRelearnsEveryCertificate() throws {
        let net = try SimulatedNetwork(settings: SimulationSettings(nodeCount: 24, seed: 13))
        net.run(for: .seconds(1))
        try net.updateState(of: 9) { $0.load = 7 }
        try net.updateState(of: 9) { $0.load = 8 }
        net.run(for: .seconds(2))
        net.crash(9)
        let crashAt = net.now
        while net.now < crashAt + .seconds(20), !everyLiveMember(net, sees: 9, as: .dead) { net.run(for: .milliseconds(100)) }
        #expect(everyLiveMember(net, sees: 9, as: .dead))
        #expect(net.nodes[0].instance.members["node-9"]?.incarnation == 2)
        // The process comes back knowing nothing, at incarnation 0, and joins through the seeds.
        try net.restart(9)
        let restartAt = net.now
        while net.now < restartAt + .seconds(10), !everyLiveMember(net, sees: 9, as: .alive) { net.run(for: .milliseconds(100)) }
        #expect(everyLiveMember(net, sees: 9, as: .alive), "the restarted member is not alive everywhere")
        #expect(net.nodes[9].instance.incarnation > 2, "it must refute the death it was declared at incarnation 2")
        // Digest push-pull taught it every member with its certificate: its placement view admits them all.
        #expect(net.nodes[9].instance.liveMemberCount == 23)
        var builder = ClusterViewBuilder(trustedOperators: [net.operatorKey.publicKey])
        let view = builder.build(from: net.nodes[9].instance, nowUnix: 1_790_000_000)
        #expect(view.nodes.count == 24 && view.unverified.isEmpty)
        #expect(falseDeaths(net, crashed: [9]) == 0)
    }

    @Test func scenarioIsDeterministicForASeed() throws {
        var scenario = GossipScenario(nodeCount: 20, lossRate: 0.05, seed: 99)
        scenario.steadyDuration = .seconds(5)
        scenario.crashObservation = .seconds(10)
        let a = try scenario.run(), b = try scenario.run()
        #expect(a == b)
        #expect(a.crashes.count == 1 && a.crashes[0].allDeadSeconds != nil)
    }

    @Test func placementViewAdmitsOnlyVerifiedMembers() throws {
        var s = SimulationSettings(nodeCount: 8, seed: 2)
        s.untrustedMembers = [5]
        let net = try SimulatedNetwork(settings: s)
        net.run(for: .seconds(20))
        var builder = ClusterViewBuilder(trustedOperators: [net.operatorKey.publicKey])
        let view = builder.build(from: net.nodes[0].instance, nowUnix: 1_790_000_000)
        #expect(view.nodes.count == 7)
        #expect(!view.nodes.contains { $0.id == "node-5" })
        #expect(view.nodes.allSatisfy { $0.certificate == .valid })
        #expect(view.unverified.map(\.nodeID) == ["node-5"])
        #expect(view.unverified[0].reason.contains("not trusted"))
        #expect(view.nodes.first { $0.id == "node-1" }?.jurisdiction == CountryCode("IE"))
        // Vivaldi estimates exist after some probing and are plausible (2–5 ms one way).
        let rtt = try #require(view.estimatedRTTMilliseconds("node-0", "node-1"))
        #expect(rtt > 0.5 && rtt < 30, "estimated \(rtt) ms")
        #expect(view.rttEstimator("node-0", "node-0") == 0)
        // An expired certificate is invalid even though its signature verified before.
        let later = builder.build(from: net.nodes[0].instance, nowUnix: 1_950_000_000)
        #expect(later.nodes.isEmpty && later.unverified.count == 8)
        // A member claiming another region than its certificate is rejected.
        var forged = net.nodes[3].instance.localState
        forged.region = "us-east"
        forged.incarnation = 50
        var d: [GossipDirective] = []
        var observer = net.nodes[0].instance
        observer.applyAlive(state: forged, incarnation: 50, now: net.now, into: &d)
        let forgedView = builder.build(from: observer, nowUnix: 1_790_000_000)
        #expect(!forgedView.nodes.contains { $0.id == "node-3" })
        #expect(forgedView.unverified.contains { $0.nodeID == "node-3" })
    }
}
