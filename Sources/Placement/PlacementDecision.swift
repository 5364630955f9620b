public import Residency

/// A participant to place. The id is opaque to placement (the caller uses a
/// commitment or session id, never a name or e-mail).
public struct Participant: Hashable, Sendable {
    public var id: String
    public var location: ParticipantLocation

    public init(id: String, location: ParticipantLocation) {
        self.id = id
        self.location = location
    }
}

/// What is known about where a participant is, best first: measured RTTs (to a
/// node id or a region id), coordinates, or just a country.
public struct ParticipantLocation: Hashable, Sendable {
    public var measuredRTT: [String: Double]
    public var point: GeoPoint?
    public var country: CountryCode?

    public init(measuredRTT: [String: Double] = [:], point: GeoPoint? = nil, country: CountryCode? = nil) {
        self.measuredRTT = measuredRTT
        self.point = point
        self.country = country
    }
}

/// How a participant's latency to its edge was estimated.
public enum LatencySource: String, Hashable, Sendable, Codable {
    case measured, coordinates, country
    /// Nothing known: the participant joins at the meeting's home node.
    case unknown
}

/// Why a node was not used. `code` is stable for machines; `explanation` for people.
public enum ExclusionReason: Hashable, Sendable {
    /// The policy does not allow `category` in the node's jurisdiction.
    case jurisdictionNotAllowed(category: DataCategory, jurisdiction: CountryCode)
    /// The node's operator certificate did not verify (so its region claim is not believed).
    case certificateInvalid(reason: String)
    /// The node is draining and takes no new meetings.
    case draining
    /// Gossip reports the node suspect, dead or gone.
    case notAlive(NodeHealth)
    /// No free participant slots.
    case full(load: Int, capacity: Int)
    /// The node names a region the cluster does not define.
    case unknownRegion(RegionID)
    /// The node's certified jurisdiction differs from its region's.
    case regionJurisdictionMismatch(region: RegionID, regionJurisdiction: CountryCode, nodeJurisdiction: CountryCode)
    /// Allowed to serve a meeting alone but not to relay; the plan needs relaying.
    case relayNotAllowed(jurisdiction: CountryCode)

    public var code: String {
        switch self {
        case .jurisdictionNotAllowed: "jurisdiction_not_allowed"
        case .certificateInvalid: "certificate_invalid"
        case .draining: "draining"
        case .notAlive: "not_alive"
        case .full: "full"
        case .unknownRegion: "unknown_region"
        case .regionJurisdictionMismatch: "region_jurisdiction_mismatch"
        case .relayNotAllowed: "relay_not_allowed"
        }
    }

    public var explanation: String {
        switch self {
        case let .jurisdictionNotAllowed(c, j): "\(c.rawValue) is not allowed in \(j) by the policy"
        case let .certificateInvalid(r): "certificate invalid: \(r)"
        case .draining: "draining (takes no new meetings)"
        case let .notAlive(h): "not alive (\(h.rawValue))"
        case let .full(l, c): "full (\(l)/\(c) slots in use)"
        case let .unknownRegion(r): "region '\(r)' is not defined in the cluster"
        case let .regionJurisdictionMismatch(r, rj, nj): "certificate says \(nj) but region \(r) is in \(rj)"
        case let .relayNotAllowed(j): "relay is not allowed in \(j), and this meeting needs relaying between nodes"
        }
    }
}

/// Every reason one node was not used.
public struct NodeExclusion: Hashable, Sendable {
    public var node: NodeID
    public var region: RegionID
    public var jurisdiction: CountryCode
    public var reasons: [ExclusionReason]
}

/// Where one participant connects.
public struct ParticipantAssignment: Hashable, Sendable {
    public var participant: String
    public var edge: NodeID
    public var region: RegionID
    public var jurisdiction: CountryCode
    /// Estimated RTT participant↔edge, ms; nil when the location is unknown.
    public var estimatedRTTMilliseconds: Double?
    public var latencySource: LatencySource

    public init(participant: String, edge: NodeID, region: RegionID, jurisdiction: CountryCode,
                estimatedRTTMilliseconds: Double?, latencySource: LatencySource) {
        self.participant = participant
        self.edge = edge
        self.region = region
        self.jurisdiction = jurisdiction
        self.estimatedRTTMilliseconds = estimatedRTTMilliseconds
        self.latencySource = latencySource
    }
}

/// A node-to-node media link of the relay tree (parent is nearer the home).
public struct RelayLink: Hashable, Sendable {
    public var parent: NodeID
    public var child: NodeID
    public var rttMilliseconds: Double

    public init(parent: NodeID, child: NodeID, rttMilliseconds: Double) {
        self.parent = parent
        self.child = child
        self.rttMilliseconds = rttMilliseconds
    }
}

/// A participant moved by re-placement.
public struct ParticipantMove: Hashable, Sendable {
    public var participant: String
    public var from: NodeID
    public var to: NodeID
}

/// The answer: edges, home, relay tree, estimates, and why every other node was not used.
public struct PlacementDecision: Hashable, Sendable {
    public enum Shape: String, Hashable, Sendable, Codable {
        /// Every participant on one node; no relaying.
        case singleNode = "single-node"
        /// Participants on nearby nodes joined by a relay tree.
        case cascaded
    }

    public var tenant: String
    public var policyVersion: Int
    public var shape: Shape
    public var home: NodeID
    public var assignments: [ParticipantAssignment]
    public var relayTree: [RelayLink]
    /// Nodes the meeting uses, sorted by id.
    public var nodes: [NodeID]
    /// Mean over participant pairs of the estimated one-way mouth-to-ear latency, ms.
    public var meanPairLatencyMilliseconds: Double
    /// Worst such pair, ms.
    public var maxPairLatencyMilliseconds: Double
    /// Why nodes were not used, kept compact (one array) and expanded on demand.
    var exclusionSource: ExclusionSource
    /// Participants moved by re-placement (empty for a fresh placement).
    public var moves: [ParticipantMove]

    /// Every node not used for a reason, sorted by node id. The relay reason is
    /// listed only when the chosen plan relays between nodes.
    public var exclusions: [NodeExclusion] { exclusionSource.materialize() }

    public func assignment(of participant: String) -> ParticipantAssignment? {
        assignments.first { $0.participant == participant }
    }
}

/// Placement could not produce a compliant answer. Never followed by a fallback.
public enum PlacementError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No node may serve the meeting under its policy; `exclusions` says why for each.
    case noCompliantNode(tenant: String, policyVersion: Int, exclusions: [NodeExclusion])
    /// Compliant nodes exist but have too few free slots.
    case insufficientCapacity(needed: Int, available: Int, exclusions: [NodeExclusion])
    /// Two participants share an id.
    case duplicateParticipant(String)
    /// The cluster description itself is inconsistent.
    case invalidCluster(String)

    public var code: String {
        switch self {
        case .noCompliantNode: "no_compliant_node"
        case .insufficientCapacity: "insufficient_capacity"
        case .duplicateParticipant: "duplicate_participant"
        case .invalidCluster: "invalid_cluster"
        }
    }

    public var description: String {
        switch self {
        case let .noCompliantNode(t, v, ex):
            "no node may serve this meeting under policy \(t) v\(v) (\(ex.count) node\(ex.count == 1 ? "" : "s") excluded); nothing was placed elsewhere"
        case let .insufficientCapacity(n, a, _):
            "compliant nodes have \(a) free participant slot\(a == 1 ? "" : "s"), \(n) needed; nothing was placed elsewhere"
        case let .duplicateParticipant(id): "participant id '\(id)' appears twice"
        case let .invalidCluster(why): "invalid cluster: \(why)"
        }
    }
}

/// The compact record of why nodes were excluded, materialised on demand.
struct ExclusionSource: Hashable, Sendable {
    let nodes: [ClusterNode]
    let regions: [Region]
    let regionIndexOfNode: [Int]
    let masks: [ExclusionMask]
    let includeRelay: Bool

    func materialize() -> [NodeExclusion] {
        var out: [NodeExclusion] = []
        for (i, m) in masks.enumerated() {
            let relevant = includeRelay ? m : m.subtracting(.relay)
            guard !relevant.isEmpty else { continue }
            let n = nodes[i]
            var reasons: [ExclusionReason] = []
            for (c, category) in PlacementEngine.servingCategories.enumerated() where relevant.contains(.category(c)) {
                reasons.append(.jurisdictionNotAllowed(category: category, jurisdiction: n.jurisdiction))
            }
            if relevant.contains(.certificate), case let .invalid(reason) = n.certificate { reasons.append(.certificateInvalid(reason: reason)) }
            if relevant.contains(.unknownRegion) { reasons.append(.unknownRegion(n.region)) }
            if relevant.contains(.regionMismatch) {
                reasons.append(.regionJurisdictionMismatch(region: n.region, regionJurisdiction: regions[regionIndexOfNode[i]].jurisdiction,
                                                           nodeJurisdiction: n.jurisdiction))
            }
            if relevant.contains(.draining) { reasons.append(.draining) }
            if relevant.contains(.notAlive) { reasons.append(.notAlive(n.health)) }
            if relevant.contains(.full) { reasons.append(.full(load: n.load, capacity: n.capacity)) }
            // Relay matters only for a node that passed everything else.
            if relevant.contains(.relay), reasons.isEmpty { reasons.append(.relayNotAllowed(jurisdiction: n.jurisdiction)) }
            if !reasons.isEmpty { out.append(NodeExclusion(node: n.id, region: n.region, jurisdiction: n.jurisdiction, reasons: reasons)) }
        }
        return out
    }
}

extension PlacementDecision {
    /// A decision restored from what a node stored (for `PlacementEngine.replace` after a
    /// restart or on another node): no exclusions, no moves, latencies unknown.
    public init(restoring tenant: String, policyVersion: Int, shape: Shape, home: NodeID,
                assignments: [ParticipantAssignment], relayTree: [RelayLink], nodes: [NodeID]) {
        self.tenant = tenant
        self.policyVersion = policyVersion
        self.shape = shape
        self.home = home
        self.assignments = assignments
        self.relayTree = relayTree
        self.nodes = nodes.sorted()
        meanPairLatencyMilliseconds = .nan
        maxPairLatencyMilliseconds = .nan
        exclusionSource = ExclusionSource(nodes: [], regions: [], regionIndexOfNode: [], masks: [], includeRelay: false)
        moves = []
    }
}
