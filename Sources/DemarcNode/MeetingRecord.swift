import Placement
import Residency

/// What a node keeps about one meeting it serves or holds in its directory. Lives only
/// on nodes the meeting's policy allows for signaling (DESIGN.md invariant 5); never
/// gossiped. Participant ids are the identities the tenant's tokens carry.
struct MeetingRecord: Codable, Sendable, Equatable {
    enum Status: String, Codable, Sendable { case active, suspended, ended }

    struct ParticipantSpec: Codable, Sendable, Equatable {
        var id: String
        var country: String?
        var at: [Double]?
    }

    struct Assignment: Codable, Sendable, Equatable {
        var participant: String
        var edge: String
        var region: String
        var jurisdiction: String
        var estimated_rtt_ms: Double?
    }

    struct Link: Codable, Sendable, Equatable {
        var parent: String
        var child: String
        var rtt_ms: Double
    }

    struct Exclusion: Codable, Sendable, Equatable {
        var node: String
        var region: String
        var jurisdiction: String
        var reasons: [String]
    }

    var tenant: String
    var id: String
    var status: Status
    /// Why the meeting is suspended (a placement error code and message), when it is.
    var reason: String?
    var policy_version: Int
    /// Increases with every re-placement; a replica keeps the highest it has seen.
    var generation: Int
    var participants: [ParticipantSpec]
    /// Participants who have joined (asked for their edge with a participant token).
    var joined: [String]?
    var shape: String
    var home: String
    var nodes: [String]
    /// Every node that ever served the meeting (each keeps its own log of it).
    var history: [String]?
    var assignments: [Assignment]
    var relay_tree: [Link]
    var mean_pair_latency_ms: Double
    /// Nodes that hold this record (home, edges, and the directory nodes allowed for signaling).
    var replicas: [String]
    var exclusions: [Exclusion]
    var updated_at: Int64

    /// The participants as placement sees them.
    var placementParticipants: [Participant] { Self.placementParticipants(participants) }

    static func placementParticipants(_ specs: [ParticipantSpec]) -> [Participant] {
        specs.map { p in
            Participant(id: p.id, location: ParticipantLocation(
                point: p.at.flatMap { $0.count == 2 ? GeoPoint(latitude: $0[0], longitude: $0[1]) : nil },
                country: p.country.flatMap(CountryCode.init)))
        }
    }

    /// A new meeting, before placement.
    init(tenant: String, id: String, policyVersion: Int, participants: [ParticipantSpec], now: Int64) {
        self.init(tenant: tenant, id: id, status: .active, policy_version: policyVersion, generation: 1, participants: participants,
                  joined: [], shape: "", home: "", nodes: [], assignments: [], relay_tree: [], mean_pair_latency_ms: 0,
                  replicas: [], exclusions: [], updated_at: now)
    }

    init(tenant: String, id: String, status: Status, reason: String? = nil, policy_version: Int, generation: Int,
         participants: [ParticipantSpec], joined: [String]?, shape: String, home: String, nodes: [String],
         assignments: [Assignment], relay_tree: [Link], mean_pair_latency_ms: Double, replicas: [String],
         exclusions: [Exclusion], updated_at: Int64) {
        self.tenant = tenant
        self.id = id
        self.status = status
        self.reason = reason
        self.policy_version = policy_version
        self.generation = generation
        self.participants = participants
        self.joined = joined
        self.shape = shape
        self.home = home
        self.nodes = nodes
        self.assignments = assignments
        self.relay_tree = relay_tree
        self.mean_pair_latency_ms = mean_pair_latency_ms
        self.replicas = replicas
        self.exclusions = exclusions
        self.updated_at = updated_at
    }

    /// Applies a placement decision (fresh or re-placed).
    mutating func apply(_ d: PlacementDecision) {
        status = .active
        reason = nil
        policy_version = d.policyVersion
        shape = d.shape.rawValue
        home = d.home.rawValue
        nodes = d.nodes.map(\.rawValue)
        history = Set(history ?? []).union(nodes).sorted()
        assignments = d.assignments.map {
            Assignment(participant: $0.participant, edge: $0.edge.rawValue, region: $0.region.rawValue,
                       jurisdiction: $0.jurisdiction.rawValue, estimated_rtt_ms: $0.estimatedRTTMilliseconds)
        }
        relay_tree = d.relayTree.map { Link(parent: $0.parent.rawValue, child: $0.child.rawValue, rtt_ms: $0.rttMilliseconds) }
        mean_pair_latency_ms = d.meanPairLatencyMilliseconds.isFinite ? d.meanPairLatencyMilliseconds : 0
        exclusions = Self.exclusions(d.exclusions)
    }

    static func exclusions(_ list: [NodeExclusion]) -> [Exclusion] {
        list.map { e in
            Exclusion(node: e.node.rawValue, region: e.region.rawValue, jurisdiction: e.jurisdiction.rawValue,
                      reasons: e.reasons.map { "\($0.code): \($0.explanation)" })
        }
    }

    /// The decision this record describes, for `PlacementEngine.replace`.
    var decision: PlacementDecision {
        PlacementDecision(restoring: tenant, policyVersion: policy_version,
                          shape: PlacementDecision.Shape(rawValue: shape) ?? .singleNode, home: NodeID(home),
                          assignments: assignments.compactMap { a in
                              CountryCode(a.jurisdiction).map {
                                  ParticipantAssignment(participant: a.participant, edge: NodeID(a.edge), region: RegionID(a.region),
                                                        jurisdiction: $0, estimatedRTTMilliseconds: a.estimated_rtt_ms, latencySource: .unknown)
                              }
                          },
                          relayTree: relay_tree.map { RelayLink(parent: NodeID($0.parent), child: NodeID($0.child), rttMilliseconds: $0.rtt_ms) },
                          nodes: nodes.map(NodeID.init))
    }

    func assignment(of participant: String) -> Assignment? { assignments.first { $0.participant == participant } }
}
