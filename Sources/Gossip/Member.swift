public import ControlPlaneWire

/// Where a member listens for gossip (UDP, and TCP on the same port).
public struct GossipEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// SWIM membership status of a member as this node currently believes it.
public enum MemberStatus: String, Sendable, Hashable, CaseIterable {
    case alive, suspect, dead, left
}

/// One member of the cluster as this node knows it.
///
/// 32 bytes inline: the state lives in a shared immutable box, so tables that hold the
/// same state (a restored snapshot, the simulator's N tables of N members) hold one copy.
public struct Member: Sendable, Equatable {
    /// The member's own state from its latest accepted alive update (coordinate stripped;
    /// coordinates are kept in `SWIMInstance.coordinates`). `state.status` is what the member
    /// declares about itself: `.alive` or `.draining`.
    public internal(set) var state: NodeStateMessage {
        get { box.state }
        set { box = StateBox(newValue) }
    }
    private var box: StateBox
    public internal(set) var status: MemberStatus
    public internal(set) var incarnation: UInt64
    /// When `status` last changed; tombstones are reaped relative to it.
    public internal(set) var statusChangedAt: GossipInstant

    init(state: NodeStateMessage, status: MemberStatus, incarnation: UInt64, statusChangedAt: GossipInstant) {
        box = StateBox(state)
        self.status = status
        self.incarnation = incarnation
        self.statusChangedAt = statusChangedAt
    }

    /// Shares `box` instead of copying the state.
    init(sharing box: StateBox, status: MemberStatus, incarnation: UInt64, statusChangedAt: GossipInstant) {
        self.box = box
        self.status = status
        self.incarnation = incarnation
        self.statusChangedAt = statusChangedAt
    }

    public static func == (a: Member, b: Member) -> Bool {
        a.status == b.status && a.incarnation == b.incarnation && a.statusChangedAt == b.statusChangedAt
            && (a.box === b.box || a.box.state == b.box.state)
    }

    public var nodeID: String { state.nodeID }
    public var endpoint: GossipEndpoint { GossipEndpoint(host: state.address, port: UInt16(clamping: state.port)) }
    public var isDraining: Bool { state.status == .draining }

    /// The status as push-pull carries it: the member's own alive/draining, or what the cluster decided.
    var announcedStatus: NodeStatusMessage {
        switch status {
        case .alive: state.status == .draining ? .draining : .alive
        case .suspect: .suspect
        case .dead: .dead
        case .left: .left
        }
    }

    /// The member's full state with this node's view of its status and incarnation.
    var announcedState: NodeStateMessage {
        var s = state
        s.incarnation = incarnation
        s.status = announcedStatus
        return s
    }
}

/// An immutable node state, shared between the member tables that hold it.
final class StateBox: Sendable {
    let state: NodeStateMessage
    init(_ state: NodeStateMessage) { self.state = state }
}

/// A membership event, reported to the shell in a `GossipDirective`.
public struct MembershipChange: Sendable, Equatable {
    public var nodeID: String
    /// nil when the member was not known before.
    public var previousStatus: MemberStatus?
    /// nil when the member was reaped (forgotten after its tombstone period).
    public var status: MemberStatus?
    public var incarnation: UInt64
}
