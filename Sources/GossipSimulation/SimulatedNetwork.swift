public import Gossip
public import ControlPlaneWire
public import SodiumWrapper
import NodeTrust

/// Settings of a simulated cluster. Everything random derives from `seed`.
public struct SimulationSettings: Sendable {
    public var nodeCount: Int
    public var seed: UInt64
    /// Probability that any one datagram is lost, 0...1.
    public var lossRate: Double = 0
    /// One-way latency: `baseLatency` plus a uniform jitter in [0, `latencyJitter`).
    public var baseLatency: Duration = .milliseconds(2)
    public var latencyJitter: Duration = .milliseconds(3)
    /// A member that processes everything it receives this much late (Lifeguard's slow member).
    public var slowMember: (index: Int, delay: Duration)?
    public var gossip = GossipSettings()
    /// Start from a converged cluster (every member knows every other) instead of joining through seeds.
    public var startConverged = true
    /// How many of the first members serve as seeds for the others.
    public var seedCount = 3
    /// Members whose certificate is signed by an untrusted key (for view tests).
    public var untrustedMembers: Set<Int> = []

    public init(nodeCount: Int, seed: UInt64) {
        self.nodeCount = nodeCount
        self.seed = seed
    }
}

/// An in-memory network driving N SWIM instances from one manual clock,
/// deterministically from a seed: latency, loss, partitions, crashes and one
/// slow member. Every packet goes through the real seal/open path.
public final class SimulatedNetwork {
    public struct Node {
        public internal(set) var instance: SWIMInstance
        public internal(set) var security: PacketSecurity
        public let endpoint: GossipEndpoint
        public internal(set) var crashed = false
        public internal(set) var partition = 0
        /// Everything sent: datagrams and push-pull frames.
        public internal(set) var bytesSent = 0
        /// The push-pull (TCP) part of `bytesSent`: requests and responses.
        public internal(set) var pushPullBytesSent = 0
        public internal(set) var packetsSent = 0
        var scheduledWakeup: GossipInstant?
    }

    public let settings: SimulationSettings
    public private(set) var now: GossipInstant = .zero
    public private(set) var nodes: [Node] = []
    public let operatorKey: Ed25519.PrivateKey
    /// Called for every membership change any member reports: (observer, change, time).
    public var onMembershipChange: ((Int, MembershipChange, GossipInstant) -> Void)?
    public private(set) var datagramsDelivered = 0
    public private(set) var datagramsLost = 0

    private var random: GossipRandom
    private var queue = EventQueue()
    private var indexByEndpoint: [GossipEndpoint: Int] = [:]
    private let unixOrigin: Int64 = 1_790_000_000_000

    enum Event {
        case wake(Int)
        case datagram([UInt8], from: GossipEndpoint, to: Int)
        case pushPullRequest([UInt8], from: Int, to: Int)
        case pushPullResponse([UInt8], to: Int)
        case pushPullFailed(GossipEndpoint, to: Int)
    }

    public static func nodeID(_ i: Int) -> String { "node-\(i)" }
    public static func endpoint(_ i: Int) -> GossipEndpoint { GossipEndpoint(host: "10.\(i / 65_536).\(i / 256 % 256).\(i % 256)", port: 7946) }

    public init(settings: SimulationSettings) throws {
        self.settings = settings
        random = GossipRandom(seed: settings.seed)
        var seedBytes = (0..<32).map { UInt8(truncatingIfNeeded: settings.seed >> (($0 % 8) * 8)) ^ UInt8($0) }
        operatorKey = try Ed25519.PrivateKey(seed: &seedBytes)
        var rogueSeed = [UInt8](repeating: 0xEE, count: 32)
        let rogueKey = try Ed25519.PrivateKey(seed: &rogueSeed)
        var keyBytes = [UInt8](repeating: 0x42, count: 32)
        let keyring = Keyring(primary: .init(id: "sim", key: try XChaCha20Poly1305.Key(consuming: &keyBytes)))
        let regions = [("eu-de-fra", "DE"), ("eu-ie-dub", "IE"), ("ca-central-mtl", "CA"), ("eu-ch-zrh", "CH")]
        var nodeKeySeed = [UInt8](repeating: 7, count: 32)
        let nodeKey = try Ed25519.PrivateKey(seed: &nodeKeySeed) // one key for all: certificates differ by ID
        var states: [NodeStateMessage] = []
        states.reserveCapacity(settings.nodeCount)
        for i in 0..<settings.nodeCount {
            let (region, country) = regions[i % regions.count]
            let id = Self.nodeID(i)
            let certificate = try NodeCertificate.issue(
                nodeID: id, nodePublicKey: nodeKey.publicKey, region: region, jurisdiction: country,
                notBeforeUnix: 1_700_000_000, notAfterUnix: 1_900_000_000, serial: UInt64(i),
                signer: settings.untrustedMembers.contains(i) ? rogueKey : operatorKey)
            let ep = Self.endpoint(i)
            states.append(NodeStateMessage(nodeID: id, address: ep.host, port: UInt32(ep.port), region: region, jurisdiction: country,
                                           certificate: certificate.message, status: .alive, incarnation: 0, load: 0,
                                           capacity: 500, softwareVersion: "0.1.0", coordinate: nil))
        }
        let seeds = (0..<min(settings.seedCount, settings.nodeCount)).map(Self.endpoint)
        let snapshot = MembershipSnapshot(states)
        for i in 0..<settings.nodeCount {
            var instance = try SWIMInstance(localState: states[i], seeds: seeds, settings: settings.gossip,
                                            randomSeed: settings.seed &+ UInt64(i) &* 0x9E37_79B9, now: now)
            if settings.startConverged { instance.seedMembership(snapshot, now: now) }
            let security = PacketSecurity(keyring: keyring, localNodeID: states[i].nodeID, epoch: UInt64(unixOrigin))
            nodes.append(Node(instance: instance, security: security, endpoint: Self.endpoint(i)))
            indexByEndpoint[Self.endpoint(i)] = i
        }
        for i in nodes.indices {
            let directives = settings.startConverged ? [] : nodes[i].instance.start(now: now)
            perform(directives, at: i)
        }
    }

    // MARK: Control

    /// Advances the manual clock to `deadline`, processing every event due before it.
    public func run(until deadline: GossipInstant) {
        while let next = queue.peekTime, next <= deadline {
            let (time, event) = queue.pop()!
            now = time
            handle(event)
        }
        now = max(now, deadline)
    }

    public func run(for duration: Duration) { run(until: now + duration) }

    /// Stops a member dead: it sends and receives nothing from now on.
    public func crash(_ i: Int) { nodes[i].crashed = true }

    /// Splits the members into groups that cannot reach each other; unlisted members join group 0.
    public func partition(_ groups: [[Int]]) {
        for i in nodes.indices { nodes[i].partition = 0 }
        for (g, members) in groups.enumerated() { for i in members { nodes[i].partition = g } }
    }

    public func heal() { for i in nodes.indices { nodes[i].partition = 0 } }

    /// Restarts a member as its process would after a crash: a fresh instance at
    /// incarnation 0 that knows nobody, a new packet-security epoch, a join through the seeds.
    public func restart(_ i: Int) throws {
        var state = nodes[i].instance.localState
        state.incarnation = 0
        let instance = try SWIMInstance(localState: state, seeds: nodes[i].instance.seeds, settings: settings.gossip,
                                        randomSeed: settings.seed &+ UInt64(i) &* 0x9E37_79B9 &+ UInt64(now.nanoseconds), now: now)
        nodes[i].instance = instance
        nodes[i].security = PacketSecurity(keyring: nodes[i].security.keyring, localNodeID: state.nodeID, epoch: UInt64(unixMilliseconds))
        nodes[i].crashed = false
        nodes[i].scheduledWakeup = nil
        perform(nodes[i].instance.start(now: now), at: i)
    }

    /// Changes a member's announced state (load, draining...) as its node would.
    public func updateState(of i: Int, _ change: (inout NodeStateMessage) -> Void) throws(GossipError) {
        let directives = try nodes[i].instance.updateLocalState(now: now, change)
        perform(directives, at: i)
    }

    public func leave(_ i: Int) { perform(nodes[i].instance.leave(now: now), at: i) }

    /// Index of a member's node by ID.
    public func index(of nodeID: String) -> Int? {
        guard nodeID.hasPrefix("node-"), let i = Int(nodeID.dropFirst(5)), nodes.indices.contains(i) else { return nil }
        return i
    }

    var unixMilliseconds: Int64 { unixOrigin + now.nanoseconds / 1_000_000 }

    // MARK: Engine

    private func handle(_ event: Event) {
        switch event {
        case let .wake(i):
            guard !nodes[i].crashed, nodes[i].scheduledWakeup == now else { return }
            nodes[i].scheduledWakeup = nil
            perform(nodes[i].instance.tick(now: now), at: i)
        case let .datagram(bytes, from, i):
            guard !nodes[i].crashed else { return }
            guard let packet = try? nodes[i].security.open(bytes, nowUnixMilliseconds: unixMilliseconds) else { return }
            datagramsDelivered += 1
            perform(nodes[i].instance.receive(packet, from: from, now: now), at: i)
        case let .pushPullRequest(bytes, from, i):
            guard !nodes[i].crashed, reachable(from, i) else {
                schedule(.pushPullFailed(nodes[i].endpoint, to: from), after: .seconds(1))
                return
            }
            guard let packet = try? nodes[i].security.open(bytes, nowUnixMilliseconds: unixMilliseconds) else { return }
            let (response, directives) = nodes[i].instance.receivePushPullRequest(packet, now: now)
            perform(directives, at: i)
            guard let sealed = try? nodes[i].security.seal(response, nowUnixMilliseconds: unixMilliseconds,
                                                           maximumSize: PacketEnvelope.maximumFrameSize) else { return }
            nodes[i].bytesSent += sealed.count
            nodes[i].pushPullBytesSent += sealed.count
            schedule(.pushPullResponse(sealed, to: from), after: latency(from: i, to: from))
        case let .pushPullResponse(bytes, i):
            guard !nodes[i].crashed else { return }
            guard let packet = try? nodes[i].security.open(bytes, nowUnixMilliseconds: unixMilliseconds) else { return }
            perform(nodes[i].instance.receivePushPullResponse(packet, now: now), at: i)
        case let .pushPullFailed(endpoint, i):
            guard !nodes[i].crashed else { return }
            nodes[i].instance.pushPullFailed(to: endpoint, now: now)
        }
        rearm(nodeAffectedBy: event)
    }

    private func rearm(nodeAffectedBy event: Event) {
        switch event {
        case let .wake(i), let .datagram(_, _, i), let .pushPullRequest(_, _, i), let .pushPullResponse(_, i), let .pushPullFailed(_, i):
            rearm(i)
        }
    }

    private func rearm(_ i: Int) {
        guard !nodes[i].crashed else { return }
        let t = max(nodes[i].instance.nextWakeup, now)
        if nodes[i].scheduledWakeup != t {
            nodes[i].scheduledWakeup = t
            queue.push(t, .wake(i))
        }
    }

    private func reachable(_ a: Int, _ b: Int) -> Bool {
        !nodes[a].crashed && !nodes[b].crashed && nodes[a].partition == nodes[b].partition
    }

    private func latency(from a: Int, to b: Int) -> Duration {
        var d = settings.baseLatency + settings.latencyJitter.scaledBy(random.unit())
        if let slow = settings.slowMember, slow.index == b { d += slow.delay }
        return d
    }

    private func schedule(_ event: Event, after delay: Duration) { queue.push(now + delay, event) }

    private func perform(_ directives: [GossipDirective], at i: Int) {
        for directive in directives {
            switch directive {
            case let .send(packet, endpoint):
                guard let bytes = try? nodes[i].security.seal(packet, nowUnixMilliseconds: unixMilliseconds,
                                                              maximumSize: settings.gossip.dissemination.maximumPacketSize) else { continue }
                nodes[i].bytesSent += bytes.count
                nodes[i].packetsSent += 1
                guard let j = indexByEndpoint[endpoint] else { continue }
                if !reachable(i, j) || random.unit() < settings.lossRate { datagramsLost += 1; continue }
                schedule(.datagram(bytes, from: nodes[i].endpoint, to: j), after: latency(from: i, to: j))
            case let .pushPull(packet, endpoint):
                guard let bytes = try? nodes[i].security.seal(packet, nowUnixMilliseconds: unixMilliseconds,
                                                              maximumSize: PacketEnvelope.maximumFrameSize) else { continue }
                nodes[i].bytesSent += bytes.count
                nodes[i].pushPullBytesSent += bytes.count
                guard let j = indexByEndpoint[endpoint] else { continue }
                // A TCP exchange: connection set-up plus the request.
                schedule(.pushPullRequest(bytes, from: i, to: j), after: latency(from: i, to: j) * 3)
            case let .membershipChanged(change):
                onMembershipChange?(i, change, now)
            case .memberStateUpdated:
                break
            }
        }
        rearm(i)
    }
}

extension Duration {
    func scaledBy(_ f: Double) -> Duration {
        let (s, a) = components
        return .nanoseconds(Int64(Double(s * 1_000_000_000 + a / 1_000_000_000) * f))
    }
}

/// A binary min-heap of timed events; ties break by insertion order, so runs are deterministic.
struct EventQueue {
    private var heap: [(time: GossipInstant, order: UInt64, event: SimulatedNetwork.Event)] = []
    private var counter: UInt64 = 0

    var peekTime: GossipInstant? { heap.first?.time }

    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].time != heap[b].time ? heap[a].time < heap[b].time : heap[a].order < heap[b].order
    }

    mutating func push(_ time: GossipInstant, _ event: SimulatedNetwork.Event) {
        counter += 1
        heap.append((time, counter, event))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (GossipInstant, SimulatedNetwork.Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count, less(l, m) { m = l }
            if r < heap.count, less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.event)
    }
}
