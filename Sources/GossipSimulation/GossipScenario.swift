public import Gossip

/// The standard measurement run behind `demarc simulate gossip` and docs/performance.md:
/// a converged cluster runs in steady state, one member changes its state, then
/// `crashCount` members crash at once.
public struct GossipScenario: Sendable {
    public var nodeCount: Int
    public var lossRate: Double
    public var seed: UInt64
    /// Steady-state observation (bytes/s, false positives) before the change and the crashes.
    public var steadyDuration: Duration = .seconds(30)
    /// How long to watch after the crashes (bytes/s while churning; detection).
    public var crashObservation: Duration = .seconds(30)
    public var crashCount: Int = 1
    public var gossip = GossipSettings()
    public var slowMember: (index: Int, delay: Duration)?

    public init(nodeCount: Int, lossRate: Double, seed: UInt64) {
        self.nodeCount = nodeCount
        self.lossRate = lossRate
        self.seed = seed
    }
}

/// What one scenario run measured. Times are simulated seconds.
public struct GossipScenarioReport: Sendable, Codable, Equatable {
    public struct Crash: Sendable, Codable, Equatable {
        public var nodeID: String
        /// From the crash to the first member suspecting it.
        public var firstSuspicionSeconds: Double?
        /// From the crash until every live member marks it dead.
        public var allDeadSeconds: Double?
    }

    public var nodes: Int
    public var lossRate: Double
    public var seed: UInt64
    /// From one member's state change until every live member has it.
    public var stateChangeConvergenceSeconds: Double?
    public var crashes: [Crash]
    /// Live members declared dead, counted per (member, incarnation), during the whole run.
    public var falsePositives: Int
    /// Live members suspected, counted per (member, incarnation).
    public var falseSuspicions: Int
    public var falsePositivesPerMemberHour: Double
    public var steadyBytesPerSecondPerMember: Double
    /// The push-pull (TCP) part of `steadyBytesPerSecondPerMember`.
    public var steadyPushPullBytesPerSecondPerMember: Double
    public var churnBytesPerSecondPerMember: Double
    public var packetsDropped: Int
    public var simulatedSeconds: Double
}

extension GossipScenario {
    /// Runs the scenario; `progress` receives one line per simulated second or phase.
    public func run(progress: (String) -> Void = { _ in }) throws -> GossipScenarioReport {
        var settings = SimulationSettings(nodeCount: nodeCount, seed: seed)
        settings.lossRate = lossRate
        settings.gossip = gossip
        settings.slowMember = slowMember
        let net = try SimulatedNetwork(settings: settings)
        var rng = GossipRandom(seed: seed ^ 0xC0FFEE)
        let candidates = Array(3..<max(3, nodeCount)).shuffled(using: &rng)
        let crashed = Set(candidates.prefix(max(0, min(crashCount, candidates.count))))

        var falseDead = Set<String>(), falseSuspect = Set<String>()
        var firstSuspicion: [Int: GossipInstant] = [:]
        var deadObservers: [Int: Set<Int>] = [:]
        var crashAt: GossipInstant?
        net.onMembershipChange = { observer, change, time in
            guard let subject = net.index(of: change.nodeID) else { return }
            let key = "\(change.nodeID)#\(change.incarnation)"
            if crashed.contains(subject), let crashAt, time >= crashAt {
                if change.status == .suspect || change.status == .dead, firstSuspicion[subject] == nil { firstSuspicion[subject] = time }
                if change.status == .dead { deadObservers[subject, default: []].insert(observer) }
                return
            }
            if change.status == .dead { falseDead.insert(key) }
            if change.status == .suspect { falseSuspect.insert(key) }
        }

        func bytes() -> Int { net.nodes.reduce(0) { $0 + $1.bytesSent } }
        func pushPullBytes() -> Int { net.nodes.reduce(0) { $0 + $1.pushPullBytesSent } }
        func step(_ total: Duration, label: String) {
            let start = net.now
            var reported = 0
            while net.now < start + total {
                net.run(for: .milliseconds(100))
                let elapsed = Int((net.now - start).gossipMilliseconds / 1000)
                if elapsed > reported { reported = elapsed; progress("\(label): \(elapsed)s of \(Int(total.gossipMilliseconds / 1000))s simulated") }
            }
        }

        // Warm-up: coordinates settle, first probes spread.
        step(.seconds(3), label: "warm-up")
        let steadyStart = net.now, steadyBytes = bytes(), steadyPushPull = pushPullBytes()
        step(steadyDuration, label: "steady state")
        let steadySeconds = (net.now - steadyStart).gossipMilliseconds / 1000
        let steadyRate = Double(bytes() - steadyBytes) / steadySeconds / Double(nodeCount)
        let steadyPushPullRate = Double(pushPullBytes() - steadyPushPull) / steadySeconds / Double(nodeCount)

        // One state change: member 1 reports a new load.
        progress("state change on node-1")
        try net.updateState(of: 1) { $0.load += 1 }
        let target = net.nodes[1].instance.incarnation
        let changeAt = net.now
        var converged: Double?
        while net.now < changeAt + .seconds(30) {
            net.run(for: .milliseconds(10))
            let all = net.nodes.indices.allSatisfy { i in
                i == 1 || net.nodes[i].crashed || (net.nodes[i].instance.members[SimulatedNetwork.nodeID(1)]?.incarnation ?? 0) >= target
            }
            if all { converged = (net.now - changeAt).gossipMilliseconds / 1000; break }
        }

        // Crashes.
        var reports: [GossipScenarioReport.Crash] = []
        var churnRate = 0.0
        if !crashed.isEmpty {
            progress("crashing \(crashed.count) member(s)")
            net.run(for: .seconds(2))
            crashAt = net.now
            for i in crashed { net.crash(i) }
            let churnStart = net.now, churnBytes = bytes()
            let live = nodeCount - crashed.count
            var allDead: [Int: GossipInstant] = [:]
            var reported = 0
            while net.now < churnStart + crashObservation {
                net.run(for: .milliseconds(10))
                for i in crashed where allDead[i] == nil && (deadObservers[i]?.count ?? 0) >= live { allDead[i] = net.now }
                let elapsed = Int((net.now - churnStart).gossipMilliseconds / 1000)
                if elapsed > reported {
                    reported = elapsed
                    progress("after crash: \(elapsed)s, \(allDead.count)/\(crashed.count) known dead everywhere")
                }
            }
            churnRate = Double(bytes() - churnBytes) / ((net.now - churnStart).gossipMilliseconds / 1000) / Double(live)
            for i in crashed.sorted() {
                reports.append(.init(nodeID: SimulatedNetwork.nodeID(i),
                                     firstSuspicionSeconds: firstSuspicion[i].map { ($0 - churnStart).gossipMilliseconds / 1000 },
                                     allDeadSeconds: allDead[i].map { ($0 - churnStart).gossipMilliseconds / 1000 }))
            }
        }
        let totalSeconds = net.now.timeInSeconds
        let memberHours = Double(nodeCount) * totalSeconds / 3600
        let dropped = net.nodes.reduce(0) { $0 + $1.security.counters.dropped }
        return GossipScenarioReport(nodes: nodeCount, lossRate: lossRate, seed: seed, stateChangeConvergenceSeconds: converged,
                                    crashes: reports, falsePositives: falseDead.count, falseSuspicions: falseSuspect.count,
                                    falsePositivesPerMemberHour: Double(falseDead.count) / memberHours,
                                    steadyBytesPerSecondPerMember: steadyRate, steadyPushPullBytesPerSecondPerMember: steadyPushPullRate,
                                    churnBytesPerSecondPerMember: churnRate,
                                    packetsDropped: dropped, simulatedSeconds: totalSeconds)
    }
}
