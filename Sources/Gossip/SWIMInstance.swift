public import ControlPlaneWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SWIM + Lifeguard membership protocol as a value type that does no I/O
/// (STYLE.md §1; the shape follows apple/swift-cluster-membership's SWIMInstance).
///
/// Every event method takes `now` and returns the directives the shell must
/// perform, in order. Between events the shell keeps one timer armed for
/// `nextWakeup` and calls `tick(now:)` when it fires.
///
/// What is implemented, with sources:
/// - randomized round-robin probing, one target per protocol period (SWIM §4.3);
/// - indirect probes through k members (SWIM §3.1) with nacks (Lifeguard §IV.A);
/// - suspicion with incarnation numbers and refutation (SWIM §4.2);
/// - the local health multiplier scaling probe interval and timeout (Lifeguard §IV.A);
/// - the dynamic suspicion timeout shortened by independent confirmations (Lifeguard §IV.B);
/// - the buddy system: a suspect learns of its suspicion first (Lifeguard §IV.C);
/// - piggybacked, transmit-limited dissemination bounded to one datagram (SWIM §4.1);
/// - push-pull anti-entropy, seeds retried forever, tombstones reaped.
public struct SWIMInstance: Sendable {
    public let settings: GossipSettings
    public let localNodeID: String
    public internal(set) var incarnation: UInt64
    /// This node's own state as it announces it (coordinate stripped).
    public internal(set) var localState: NodeStateMessage
    /// Every other member known, including suspect, dead and left ones until reaped.
    public internal(set) var members: [String: Member] = [:]
    /// Lifeguard's local health multiplier (0 = healthy).
    public internal(set) var localHealth = 0
    public internal(set) var counters = GossipCounters()
    public internal(set) var vivaldi: VivaldiClient
    /// Latest coordinate each member reported about itself (Serf's coordinate cache).
    public internal(set) var coordinates: [String: VivaldiCoordinate] = [:]
    public internal(set) var isLeaving = false
    public let seeds: [GossipEndpoint]

    var random: GossipRandom
    var broadcasts = BroadcastQueue()
    var suspicions: [String: Suspicion] = [:]
    var probeOrder: [String] = []
    var probeIndex = 0
    var probe: ProbeInFlight?
    var relays: [UInt32: Relay] = [:]
    var sequence: UInt32 = 0
    var nextProbeAt: GossipInstant
    var nextGossipAt: GossipInstant
    var nextPushPullAt: GossipInstant
    var nextSeedRetryAt: GossipInstant
    var nextReapAt: GossipInstant
    /// Bytes of a gossip packet's fixed part (replay fields at their widest).
    let packetOverheadReserve: Int
    /// Members alive or suspect (this node excluded), maintained on every status change.
    var liveMembers = 0

    struct Suspicion: Sendable {
        var startedAt: GossipInstant
        /// Members whose suspicion we have counted (the originator included, not counted as a confirmation).
        var seen: Set<String>
        var confirmations: Int
        var deadline: GossipInstant
    }

    struct ProbeInFlight: Sendable {
        var target: String
        var sequence: UInt32
        var sentAt: GossipInstant
        var directDeadline: GossipInstant
        var periodEnd: GossipInstant
        var indirectSent = false
        var acked = false
        var expectedNacks = 0
        var nacks = 0
    }

    struct Relay: Sendable {
        var requester: GossipEndpoint
        var originalSequence: UInt32
        var nackAt: GossipInstant
        var nackSent = false
        var expiresAt: GossipInstant
    }

    /// - Parameters:
    ///   - localState: this node's state; `status` must be `.alive` or `.draining`.
    ///   - seeds: endpoints to join through; contacted at `start` and retried while not alive in our view.
    ///   - incarnation: start value; a restarted node may start at 0, refutation lifts it as needed.
    public init(localState: NodeStateMessage, seeds: [GossipEndpoint] = [], settings: GossipSettings = GossipSettings(),
                incarnation: UInt64 = 0, randomSeed: UInt64, now: GossipInstant) throws(GossipError) {
        do { try settings.validate() } catch { throw .invalidSettings(error) }
        guard localState.status == .alive || localState.status == .draining else {
            throw .invalidLocalState("status must be alive or draining, not \(localState.status)")
        }
        self.settings = settings
        localNodeID = localState.nodeID
        self.incarnation = incarnation
        var state = localState
        state.incarnation = incarnation
        state.coordinate = nil
        self.localState = state
        let own = GossipEndpoint(host: localState.address, port: UInt16(clamping: localState.port))
        self.seeds = seeds.filter { $0 != own }
        random = GossipRandom(seed: randomSeed)
        vivaldi = VivaldiClient(randomSeed: randomSeed)
        // Spread the first probe over one interval so a cluster started at once does not probe in lockstep.
        nextProbeAt = now + settings.probing.interval.scaled(random.unit())
        nextGossipAt = now
        nextPushPullAt = now + settings.antiEntropy.pushPullInterval.scaled(0.5 + random.unit())
        nextSeedRetryAt = now + settings.antiEntropy.seedRetryInterval
        nextReapAt = now + .seconds(1)
        // Fixed part of the smallest packet that carries updates (a gossip packet) with the
        // replay fields at their widest; probes measure their own fixed part per packet.
        let gossipPacket = GossipPacketMessage(kind: .gossip, senderNodeID: localState.nodeID, senderEpoch: .max,
                                               packetSequence: .max, sentAtUnixMilliseconds: .min)
        do { packetOverheadReserve = try gossipPacket.serialized().count } catch { throw .invalidLocalState(error.description) }
        let selfSize = try Self.encodedSize(of: MemberUpdateMessage(kind: .alive, nodeID: localNodeID, incarnation: .max, state: state))
        let budget = settings.dissemination.maximumPacketSize - PacketEnvelope.overhead - packetOverheadReserve
        guard selfSize <= budget else {
            throw .updateTooLarge(nodeID: localNodeID, bytes: selfSize, limit: budget)
        }
    }

    // MARK: - Reading

    /// Members currently alive or suspect, excluding this node.
    public var liveMemberCount: Int { liveMembers }

    /// Member count used for log-scaling: this node plus every member not dead or left.
    var clusterSize: Int { 1 + liveMemberCount }

    /// Updates still waiting to be sent; a leaving node waits for this to reach 0.
    public var pendingBroadcasts: Int { broadcasts.count }

    /// The earliest instant at which `tick(now:)` has work to do.
    public var nextWakeup: GossipInstant {
        var t = min(nextPushPullAt, nextSeedRetryAt, nextReapAt)
        if !isLeaving { t = min(t, nextProbeAt) }
        if !broadcasts.isEmpty { t = min(t, nextGossipAt) }
        if let probe, !probe.acked, !probe.indirectSent { t = min(t, probe.directDeadline) }
        for r in relays.values { t = min(t, r.nackSent ? r.expiresAt : r.nackAt) }
        for s in suspicions.values { t = min(t, s.deadline) }
        return t
    }

    /// Base duration scaled by the local health multiplier (Lifeguard §IV.A).
    func scaled(_ d: Duration) -> Duration { d * (localHealth + 1) }

    /// This node's own full state with its current coordinate, as push-pull carries it.
    var localStateWithCoordinate: NodeStateMessage {
        var s = localState
        s.coordinate = vivaldi.coordinate
        return s
    }

    // MARK: - Lifecycle

    /// Joins through the seeds (a push-pull with each) and arms the first probe.
    public mutating func start(now: GossipInstant) -> [GossipDirective] {
        var d: [GossipDirective] = []
        d.reserveCapacity(seeds.count)
        for seed in seeds { d.append(.pushPull(makePushPullRequest(join: true), to: seed)) }
        counters.joinAttempts += seeds.count
        return d
    }

    /// Changes this node's announced state (load, capacity, draining, version, address) and
    /// disseminates it under a new incarnation. Throws, changing nothing, if the state could
    /// not be carried in one datagram or the node ID would change.
    public mutating func updateLocalState(now: GossipInstant, _ change: (inout NodeStateMessage) -> Void) throws(GossipError) -> [GossipDirective] {
        var next = localState
        change(&next)
        next.coordinate = nil
        guard next.nodeID == localNodeID else { throw .invalidLocalState("the node ID cannot change") }
        guard next.status == .alive || next.status == .draining else {
            throw .invalidLocalState("status must be alive or draining, not \(next.status)")
        }
        next.incarnation = incarnation + 1
        let update = MemberUpdateMessage(kind: .alive, nodeID: localNodeID, incarnation: incarnation + 1, state: next)
        let size = try Self.encodedSize(of: update)
        guard size <= updateBudget else {
            counters.updatesRefusedTooLarge += 1
            throw .updateTooLarge(nodeID: localNodeID, bytes: size, limit: updateBudget)
        }
        incarnation += 1
        localState = next
        broadcasts.enqueue(update, size: size)
        return []
    }

    /// Announces a graceful leave. Keep ticking until `pendingBroadcasts` is 0 (or a
    /// short deadline passes), then stop the shell.
    public mutating func leave(now: GossipInstant) -> [GossipDirective] {
        guard !isLeaving else { return [] }
        isLeaving = true
        probe = nil
        let update = MemberUpdateMessage(kind: .left, nodeID: localNodeID, incarnation: incarnation, fromNodeID: localNodeID)
        enqueue(update)
        var d: [GossipDirective] = []
        gossipRound(now: now, into: &d)
        return d
    }

    // MARK: - Helpers shared by the extensions

    static func encodedSize(of update: MemberUpdateMessage) throws(GossipError) -> Int {
        do { return try update.encodedSizeInPacket() } catch { throw .invalidLocalState(error.description) }
    }

    /// Bytes available for updates in one gossip datagram; an update larger than this can never be sent.
    var updateBudget: Int { settings.dissemination.maximumPacketSize - PacketEnvelope.overhead - packetOverheadReserve }

    /// λ · ceil(log10(N + 1)) transmissions per update (SWIM §4.1, memberlist RetransmitMult).
    var retransmitLimit: Int {
        settings.dissemination.retransmitMultiplier * max(1, Int(log10(Double(clusterSize + 1)).rounded(.up)))
    }

    /// Queues an update for dissemination; one that cannot fit a datagram is counted and not sent.
    mutating func enqueue(_ update: MemberUpdateMessage) {
        guard let size = try? Self.encodedSize(of: update), size <= updateBudget else {
            counters.updatesRefusedTooLarge += 1
            return
        }
        broadcasts.enqueue(update, size: size)
    }

    mutating func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// A packet to `destination` with as many pending updates as fit. A suspect
    /// destination hears about its own suspicion first (buddy system, Lifeguard §IV.C).
    mutating func makePacket(_ packet: GossipPacketMessage, to destination: String?) -> GossipPacketMessage {
        var packet = packet
        var budget = updateBudget
        if packet.kind != .gossip {
            // Measure this packet's own fixed part (probe fields, coordinate) with widest replay fields.
            var probe = packet
            probe.senderEpoch = .max
            probe.packetSequence = .max
            probe.sentAtUnixMilliseconds = .min
            let fixed = (try? probe.serialized().count) ?? settings.dissemination.maximumPacketSize
            budget = settings.dissemination.maximumPacketSize - PacketEnvelope.overhead - fixed
        }
        if let destination, let m = members[destination], m.status == .suspect {
            let buddy = MemberUpdateMessage(kind: .suspect, nodeID: destination, incarnation: m.incarnation, fromNodeID: localNodeID)
            if let size = try? Self.encodedSize(of: buddy), size <= budget {
                packet.updates.append(buddy)
                budget -= size
                counters.buddyNotifications += 1
            }
        }
        if !broadcasts.isEmpty {
            packet.updates += broadcasts.take(budget: budget, limit: retransmitLimit,
                                              excluding: packet.updates.isEmpty ? nil : destination)
        }
        return packet
    }

    /// Up to `count` distinct random members with one of `statuses`. Samples positions of the
    /// probe order (O(count) expected); falls back to a full scan when few members qualify.
    mutating func randomMembers(count: Int, excluding: Set<String>, statuses: Set<MemberStatus> = [.alive],
                                admit: (Member) -> Bool = { _ in true }) -> [Member] {
        guard count > 0, !probeOrder.isEmpty else { return [] }
        var picked: [Member] = []
        var ids: Set<String> = []
        for _ in 0..<(count * 8) where picked.count < count {
            let id = probeOrder[Int(random.next() % UInt64(probeOrder.count))]
            guard !ids.contains(id), !excluding.contains(id), let m = members[id], statuses.contains(m.status), admit(m) else { continue }
            ids.insert(id)
            picked.append(m)
        }
        if picked.count == count { return picked }
        // Reservoir sampling over the whole table.
        var candidates: [Member] = []
        var seen = 0
        for m in members.values where statuses.contains(m.status) && !excluding.contains(m.nodeID) && admit(m) {
            seen += 1
            if candidates.count < count {
                candidates.append(m)
            } else {
                let j = Int(random.next() % UInt64(seen))
                if j < count { candidates[j] = m }
            }
        }
        return candidates
    }
}

/// Why the SWIM instance refused a request.
public enum GossipError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidSettings(GossipSettingsError)
    case invalidLocalState(String)
    /// An update that does not fit in one datagram is refused, never truncated (memberlist PR#260).
    case updateTooLarge(nodeID: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case let .invalidSettings(e): e.description
        case let .invalidLocalState(reason): "invalid local node state: \(reason)"
        case let .updateTooLarge(id, bytes, limit):
            "the state of node '\(id)' takes \(bytes) bytes but one gossip datagram has room for \(limit); shorten the software version, address or region"
        }
    }
}

/// Protocol counters, for metrics. Monotonic.
public struct GossipCounters: Sendable, Equatable {
    public var probesSent = 0
    public var indirectProbesSent = 0
    public var probesFailed = 0
    public var nacksReceived = 0
    public var pingsAnswered = 0
    public var misdirectedPings = 0
    public var suspicionsRaised = 0
    public var refutations = 0
    public var membersDeclaredDead = 0
    public var buddyNotifications = 0
    public var gossipPacketsSent = 0
    public var pushPullsStarted = 0
    public var pushPullsFailed = 0
    /// Push-pulls started because a requester's digest showed entries newer than ours.
    public var pullBacks = 0
    public var joinAttempts = 0
    public var membersReaped = 0
    /// Updates refused because they could not fit one datagram.
    public var updatesRefusedTooLarge = 0
    /// Packets of a kind not valid on the path they arrived on.
    public var unexpectedPackets = 0
}

extension SWIMInstance {
    /// Adds members as alive without disseminating them: for restoring a persisted
    /// snapshot, and for simulations that start from an already converged cluster.
    /// Members already known are left alone.
    public mutating func seedMembership(_ states: [NodeStateMessage], now: GossipInstant) {
        seedMembership(MembershipSnapshot(states), now: now)
    }

    /// Seeds members from a snapshot built once: instances seeded from the same snapshot
    /// share each member's state instead of copying it (the simulator's N tables).
    public mutating func seedMembership(_ snapshot: MembershipSnapshot, now: GossipInstant) {
        members.reserveCapacity(members.count + snapshot.boxes.count)
        for (box, coordinate) in zip(snapshot.boxes, snapshot.coordinates)
        where box.state.nodeID != localNodeID && members[box.state.nodeID] == nil {
            if let coordinate { cacheCoordinate(coordinate, of: box.state.nodeID) }
            members[box.state.nodeID] = Member(sharing: box, status: .alive, incarnation: box.state.incarnation, statusChangedAt: now)
            liveMembers += 1
            probeOrder.append(box.state.nodeID)
        }
        probeOrder.shuffle(using: &random)
        probeIndex = 0
        // Spread the first push-pull over one (size-scaled) interval.
        nextPushPullAt = now + pushPullInterval.scaled(random.unit())
    }
}

/// Members' states prepared once for `SWIMInstance.seedMembership`: every instance seeded
/// from one snapshot shares the states (and their certificate bytes) instead of copying them.
public struct MembershipSnapshot: Sendable {
    let boxes: [StateBox]
    let coordinates: [VivaldiCoordinate?]

    public init(_ states: [NodeStateMessage]) {
        var boxes: [StateBox] = [], coordinates: [VivaldiCoordinate?] = []
        boxes.reserveCapacity(states.count)
        coordinates.reserveCapacity(states.count)
        for var state in states {
            coordinates.append(state.coordinate)
            state.coordinate = nil
            if state.status != .draining { state.status = .alive }
            boxes.append(StateBox(state))
        }
        self.boxes = boxes
        self.coordinates = coordinates
    }
}
