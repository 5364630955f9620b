/// Tunables of the SWIM + Lifeguard state machine. Defaults are tuned for a
/// cluster whose member-to-member round-trip times stay below ~150 ms
/// (one continent); see docs/gossip.md for the reasoning behind each value
/// and `wideArea` for intercontinental pools.
public struct GossipSettings: Sendable, Equatable {
    /// Failure detection (SWIM §3, Lifeguard §IV).
    public struct Probing: Sendable, Equatable {
        /// One protocol period: one member is probed per period (SWIM §3.1).
        public var interval: Duration = .milliseconds(500)
        /// How long to wait for a direct ack before asking `indirectProbeCount` members to help.
        public var timeout: Duration = .milliseconds(200)
        /// k in SWIM §3.1: members asked to probe on our behalf.
        public var indirectProbeCount: Int = 3
        /// A relay sends a nack when the target has not answered after this fraction of the timeout (Lifeguard §IV.A).
        public var nackFraction: Double = 0.8
        /// Lifeguard's S: the local health multiplier ranges over 0..<maximumLocalHealth; interval
        /// and timeout are multiplied by (LHM + 1).
        public var maximumLocalHealth: Int = 8
        public init() {}
    }

    /// Suspicion (Lifeguard §IV.B): timeout = max(min, max − (max − min)·log(C+1)/log(K+1)).
    public struct Suspicion: Sendable, Equatable {
        /// α: min = α · max(1, log10(N)) · probe interval.
        public var minimumMultiplier: Double = 2
        /// β: max = β · min.
        public var maximumMultiplier: Double = 6
        /// K: independent confirmations after which the timeout reaches its minimum.
        public var expectedConfirmations: Int = 3
        public init() {}
    }

    /// Dissemination (SWIM §4.1, memberlist's TransmitLimitedQueue).
    public struct Dissemination: Sendable, Equatable {
        /// λ: each update is sent about λ · ceil(log10(N + 1)) times.
        public var retransmitMultiplier: Int = 4
        /// Besides piggybacking on probes and acks, pending updates are pushed to
        /// `fanout` random members this often (only while there is something to send).
        public var gossipInterval: Duration = .milliseconds(100)
        public var fanout: Int = 4
        /// Members declared dead are still gossiped to for this long, so one that was wrongly
        /// declared dead (a long pause, a one-way partition) learns it and refutes
        /// (memberlist's GossipToTheDeadTime; zero turns it off).
        public var gossipToTheDeadTime: Duration = .seconds(30)
        /// Largest UDP payload sent, encryption envelope included.
        public var maximumPacketSize: Int = 1_400
        public init() {}
    }

    /// Anti-entropy and membership bookkeeping.
    public struct AntiEntropy: Sendable, Equatable {
        /// Full state exchange with one random member (scaled up above 32 members, as memberlist does).
        public var pushPullInterval: Duration = .seconds(30)
        /// Seeds not currently alive in our view are contacted this often, forever
        /// (memberlist#243: a cluster must heal from a long partition by itself).
        public var seedRetryInterval: Duration = .seconds(10)
        /// Dead and left members are forgotten after this (memberlist#253).
        public var tombstoneDuration: Duration = .seconds(300)
        public init() {}
    }

    public var probing = Probing()
    public var suspicion = Suspicion()
    public var dissemination = Dissemination()
    public var antiEntropy = AntiEntropy()

    public init() {}

    /// Settings for a pool spanning continents (RTT up to ~350 ms).
    public static var wideArea: GossipSettings {
        var s = GossipSettings()
        s.probing.interval = .seconds(2)
        s.probing.timeout = .milliseconds(800)
        s.dissemination.gossipInterval = .milliseconds(300)
        return s
    }

    /// Checks every field; the error names the field and what is wrong.
    public func validate() throws(GossipSettingsError) {
        func fail(_ field: String, _ reason: String) -> GossipSettingsError { GossipSettingsError(field: field, reason: reason) }
        guard probing.interval > .zero else { throw fail("probing.interval", "must be positive") }
        guard probing.timeout > .zero, probing.timeout < probing.interval else {
            throw fail("probing.timeout", "must be positive and shorter than probing.interval")
        }
        guard probing.indirectProbeCount >= 0 else { throw fail("probing.indirectProbeCount", "must not be negative") }
        guard probing.nackFraction > 0, probing.nackFraction < 1 else { throw fail("probing.nackFraction", "must be in (0, 1)") }
        guard probing.maximumLocalHealth >= 1 else { throw fail("probing.maximumLocalHealth", "must be at least 1") }
        guard suspicion.minimumMultiplier > 0 else { throw fail("suspicion.minimumMultiplier", "must be positive") }
        guard suspicion.maximumMultiplier >= 1 else { throw fail("suspicion.maximumMultiplier", "must be at least 1") }
        guard suspicion.expectedConfirmations >= 0 else { throw fail("suspicion.expectedConfirmations", "must not be negative") }
        guard dissemination.retransmitMultiplier >= 1 else { throw fail("dissemination.retransmitMultiplier", "must be at least 1") }
        guard dissemination.gossipInterval > .zero else { throw fail("dissemination.gossipInterval", "must be positive") }
        guard dissemination.fanout >= 1 else { throw fail("dissemination.fanout", "must be at least 1") }
        guard dissemination.gossipToTheDeadTime >= .zero else { throw fail("dissemination.gossipToTheDeadTime", "must not be negative") }
        guard (512...65_000).contains(dissemination.maximumPacketSize) else {
            throw fail("dissemination.maximumPacketSize", "must be between 512 and 65000 bytes")
        }
        guard antiEntropy.pushPullInterval > .zero else { throw fail("antiEntropy.pushPullInterval", "must be positive") }
        guard antiEntropy.seedRetryInterval > .zero else { throw fail("antiEntropy.seedRetryInterval", "must be positive") }
        guard antiEntropy.tombstoneDuration > .zero else { throw fail("antiEntropy.tombstoneDuration", "must be positive") }
    }
}

/// A gossip setting out of range.
public struct GossipSettingsError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "gossip setting \(field) \(reason)" }
}
