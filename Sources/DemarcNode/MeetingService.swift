import Gossip
import GossipNIO
import Placement
import Residency
import Transparency
import TransparencyStore
import TenantDirectory
import SodiumWrapper
import Logging
import MediaSignaling
import Foundation

/// The node's meeting brain: places meetings over the gossip view, owns the meetings it
/// is home for, serves the ones placement gave it (after checking itself that the policy
/// allows its jurisdiction — DESIGN.md invariant 1, defence in depth), re-places meetings
/// when nodes fail or drain (only onto compliant nodes, else suspends them with the
/// reason — invariant 3), replicates tenants and policies, and appends every step it
/// takes to its own transparency log (invariant 4). docs/node.md explains the protocol.
/// Placement's cluster view (the gossip module has a `ClusterView` of its own).
typealias PlacementView = Placement.ClusterView

actor MeetingService {
    struct Key: Hashable, Sendable { var tenant: String; var id: String }

    let nodeID: String
    let location: NodeLocation
    let gossip: GossipNode
    let directory: TenantDirectory
    let log: TransparencyLog
    let store: MeetingStore
    let engine: PlacementEngine
    let regions: [Region]
    let latency: LatencyMatrix
    let client: PeerClient
    let metrics: NodeMetrics
    let logger: Logger
    var viewBuilder: ClusterViewBuilder
    var peerDirectory: PeerDirectory
    var records: [Key: MeetingRecord] = [:]
    var replayGuard = PeerReplayGuard()
    /// Policy versions already logged as applied at this node, per meeting.
    var loggedPolicy: [Key: Int] = [:]
    /// Meetings whose media this node has recorded as processed, with whether it was
    /// recorded end-to-end encrypted.
    var mediaLogged: [Key: Bool] = [:]
    var draining = false
    /// The SFU, for relay links (issue 7) and E2EE observations; nil on a node without media.
    var mediaPlane: (any NodeMediaPlane)?
    /// Relay links open at this node, by tree edge.
    var relayLinks: [RelayEdge: OpenRelay] = [:]
    /// When to offer a link again after a failed attempt (the child may not hold the record yet).
    var relayRetryAt: [RelayEdge: ContinuousClock.Instant] = [:]
    /// Edges whose offer is in flight (reconcile runs from several triggers; one offer per edge).
    var relayOffering: Set<RelayEdge> = []
    var knownAlive: Set<String> = []
    /// The signaling sessions on this node, told to reconnect when their edge moves.
    var signalingSessions: SignalingSessions?
    /// Where participants reach this node: its HTTP API and its media port, when it has one.
    let apiBase: String?
    let mediaEndpoint: String?

    init(nodeID: String, location: NodeLocation, gossip: GossipNode, directory: TenantDirectory, log: TransparencyLog,
         store: MeetingStore, engine: PlacementEngine, regions: Topology, operators: [Ed25519.PublicKey], client: PeerClient,
         metrics: NodeMetrics, logger: Logger, apiBase: String?, mediaEndpoint: String?) throws {
        self.apiBase = apiBase
        self.mediaEndpoint = mediaEndpoint
        self.nodeID = nodeID
        self.location = location
        self.gossip = gossip
        self.directory = directory
        self.log = log
        self.store = store
        self.engine = engine
        self.regions = regions.regions
        latency = regions.latency
        self.client = client
        self.metrics = metrics
        self.logger = logger
        viewBuilder = ClusterViewBuilder(trustedOperators: operators)
        peerDirectory = PeerDirectory(trustedOperators: operators)
        for r in try store.all() { records[Key(tenant: r.tenant, id: r.id)] = r }
    }

    func attachMediaPlane(_ plane: any NodeMediaPlane) { mediaPlane = plane }
    func attachSignaling(_ sessions: SignalingSessions) { signalingSessions = sessions }

    // MARK: The view

    var nowUnix: Int64 { Int64(Date().timeIntervalSince1970) }

    /// Placement's view of the cluster from gossip: verified members only, regions from the catalog.
    func placementView() async throws(MeetingError) -> PlacementView {
        let instance = await gossip.instance
        let gossipView = viewBuilder.build(from: instance, nowUnix: nowUnix)
        peerDirectory.rebuild(from: instance, nowUnix: nowUnix)
        do { return try Placement.ClusterView(nodes: gossipView.nodes, regions: regions, latency: latency) } catch {
            throw MeetingError(.internalServerError, error.code, error.description)
        }
    }

    /// The gossip view: verified members, and the unverified with the reason.
    func gossipView() async -> Gossip.ClusterView { viewBuilder.build(from: await gossip.instance, nowUnix: nowUnix) }

    func peer(_ id: String) async -> Peer? {
        if let p = peerDirectory.peers[id] { return p }
        await refreshPeers()
        return peerDirectory.peers[id]
    }

    /// Rebuilds the verified peers from the current gossip state (cheap: certificates are cached).
    func refreshPeers() async { peerDirectory.rebuild(from: await gossip.instance, nowUnix: nowUnix) }

    /// Verifies a signed peer request; returns the calling node's id.
    func authenticatePeer(method: String, path: String, node: String?, time: String?, signature: String?, body: [UInt8]) async throws(MeetingError) -> String {
        if let node, peerDirectory.peers[node] == nil { await refreshPeers() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        do {
            let caller = try PeerRequestSignature.verify(method: method, path: path, headers: (node, time, signature), body: body,
                                                         nowUnixMilliseconds: now) { peerDirectory.peers[$0]?.publicKey }
            guard let signature, replayGuard.accept(signature, at: now) else { throw PeerRequestSignature.Failure.replayed }
            return caller
        } catch {
            metrics.peerRequestsRefused.increment()
            // The route only: paths carry tenant and meeting ids, which logs never do.
            let route = path.split(separator: "/").prefix(3).joined(separator: "/")
            logger.warning("peer request refused", metadata: ["route": "/\(route)", "peer": "\(node?.prefix(64) ?? "-")", "reason": "\(error)"])
            throw MeetingError(.unauthorized, "peer_unauthenticated", "\(error)")
        }
    }

    // MARK: Policies

    func policy(tenant: String) throws(MeetingError) -> ResidencyPolicy {
        let current: (PolicyVersion, ResidencyPolicy)?
        do { current = try directory.currentPolicy(tenant: tenant) } catch {
            throw MeetingError(.notFound, error.code, error.description)
        }
        guard let (_, policy) = current else {
            throw MeetingError(.conflict, "no_policy", "tenant '\(tenant)' has no residency policy on this node yet; PUT one first")
        }
        return policy
    }

    /// Whether this node may serve a meeting of `policy` (the same categories placement
    /// requires of a node, plus relay when the meeting is cascaded); the first reason if not.
    func refusal(of policy: ResidencyPolicy, cascaded: Bool) -> RefusalReason? {
        if draining { return .draining }
        var categories = PlacementEngine.servingCategories
        if cascaded { categories.append(.relay) }
        for c in categories where !policy.allows(c, in: location.jurisdiction) { return .jurisdictionNotAllowed }
        return nil
    }

    // MARK: The transparency log

    func commitment(tenant: String, meeting: String) async throws -> (TenantCommitmentKey, Commitment) {
        guard let key = try await log.store.commitmentKey(forTenant: tenant, create: true) else {
            throw MeetingError(.internalServerError, "log_unavailable", "no commitment key for the tenant")
        }
        return (key, key.meeting(meeting))
    }

    /// Appends one event about a meeting to this node's log. A meeting step whose entry
    /// cannot be written fails: nothing happens that the log does not record.
    func append(_ event: Transparency.LogEvent, tenant: String, meeting: String) async throws(MeetingError) {
        do {
            let (_, c) = try await commitment(tenant: tenant, meeting: meeting)
            try await log.record(event, meeting: c, tenant: tenant)
            metrics.logAppends.increment()
        } catch {
            logger.error("transparency append failed", metadata: ["error": "\(error)"])
            throw MeetingError(.serviceUnavailable, "log_unavailable", "the transparency log could not record this step; nothing was done")
        }
    }

    func participantCommitment(tenant: String, meeting: String, participant: String) async throws(MeetingError) -> Commitment {
        do { return try await commitment(tenant: tenant, meeting: meeting).0.participant(participant, inMeeting: meeting) } catch {
            throw MeetingError(.serviceUnavailable, "log_unavailable", "the transparency log is unavailable")
        }
    }

    func location(of nodeID: String, view: PlacementView) -> NodeLocation? {
        if nodeID == self.nodeID { return location }
        guard let n = view.nodes.first(where: { $0.id.rawValue == nodeID }) else { return nil }
        return NodeLocation(node: n.id, region: n.region, jurisdiction: n.jurisdiction)
    }

    static func snapshot(_ p: ResidencyPolicy) -> PolicySnapshot {
        var allowed: [Transparency.DataCategory: Set<CountryCode>] = [:]
        var retention: [ArtifactKind: UInt64] = [:]
        for c in Residency.DataCategory.allCases {
            guard let t = Transparency.DataCategory.allCases.first(where: { $0.description == c.rawValue }) else { continue }
            allowed[t] = p.rule(c).allowed
        }
        for kind in ArtifactKind.allCases {
            guard let c = Residency.DataCategory(rawValue: kind.description), let r = p.rule(c).retention else { continue }
            retention[kind] = UInt64(max(0, r.seconds))
        }
        let e2ee: E2EERequirement = switch p.e2ee { case .required: .required; case .preferred: .preferred; case .off: .off }
        return PolicySnapshot(version: UInt64(p.version), digest: SHA256.hash(Array(p.canonicalText.utf8)), e2ee: e2ee,
                              allowed: allowed, retentionSeconds: retention)
    }

    // MARK: Records

    func save(_ record: MeetingRecord) throws(MeetingError) {
        do { try store.save(record) } catch {
            throw MeetingError(.serviceUnavailable, "storage", "the node could not store the meeting: \(error)")
        }
        records[Key(tenant: record.tenant, id: record.id)] = record
        metrics.meetingsHeld.set(Int64(records.values.filter { $0.status == .active }.count))
        // Participants here whose edge moved are told where to go now, and the links of the
        // new tree open now rather than at the next tick.
        Task {
            await moveSessions(of: record)
            await reconcileRelays()
        }
    }

    /// Participant slots this node serves, announced in gossip so placement elsewhere counts them.
    func announceLoad() async {
        let load = records.values.filter { $0.status == .active }.reduce(0) { n, r in n + r.assignments.filter { $0.edge == nodeID }.count }
        try? await gossip.updateLocalState { $0.load = UInt32(load) }
    }

    func holds(tenant: String, id: String) -> MeetingRecord? { records[Key(tenant: tenant, id: id)] }

    func meetings(ofTenant tenant: String) -> [MeetingRecord] {
        records.values.filter { $0.tenant == tenant }.sorted { $0.id < $1.id }
    }

    func encode(_ value: some Encodable) -> Data { (try? JSONEncoder().encode(value)) ?? Data() }
}
