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
public struct Member: Sendable, Equatable {
    /// The member's own state from its latest accepted alive update (coordinate stripped;
    /// coordinates are kept by `VivaldiCoordinateCache`). `state.status` is what the member
    /// declares about itself: `.alive` or `.draining`.
    public internal(set) var state: NodeStateMessage
    public internal(set) var status: MemberStatus
    public internal(set) var incarnation: UInt64
    /// When `status` last changed; tombstones are reaped relative to it.
    public internal(set) var statusChangedAt: GossipInstant

    public var nodeID: String { state.nodeID }
    public var endpoint: GossipEndpoint { GossipEndpoint(host: state.address, port: UInt16(clamping: state.port)) }
    public var isDraining: Bool { state.status == .draining }
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
