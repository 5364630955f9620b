public import ControlPlaneWire

/// What the SWIM instance asks its shell to do. The shell performs every
/// directive, in order; none may be dropped.
///
/// Timers are not directives: after handling any event the shell re-arms a
/// single timer for `SWIMInstance.nextWakeup` and calls `tick(now:)` when it fires.
public enum GossipDirective: Sendable, Equatable {
    /// Seal `packet` with the keyring and send it in one UDP datagram.
    case send(GossipPacketMessage, to: GossipEndpoint)
    /// Open a TCP connection, send `packet` (a push-pull request), and hand the
    /// response to `receivePushPullResponse(_:now:)` (or report `pushPullFailed`).
    case pushPull(GossipPacketMessage, to: GossipEndpoint)
    /// A member appeared, changed status, or was reaped.
    case membershipChanged(MembershipChange)
    /// A member's state (load, draining, version, address...) changed without a status change.
    case memberStateUpdated(nodeID: String, incarnation: UInt64)
}
