/// Why the forwarding core refused a control event (publish, subscribe…). These reach the
/// signaling layer, which answers the client with them.
public enum ForwardingError: Error, Equatable, Sendable {
    case unknownParticipant(ParticipantID)
    case participantAlreadyJoined(ParticipantID)
    case unknownTrack(TrackID)
    case trackAlreadyPublished(TrackID)
    /// A track needs 1 to 3 layers (simulcast is at most 3 in browsers).
    case invalidLayerCount(TrackID, count: Int)
    /// The SSRC is already used by another stream of this meeting on this node.
    case ssrcInUse(UInt32)
    /// The publisher already has a track with this mid (packets are routed by mid, RFC 8843).
    case midInUse(String, ParticipantID)
    /// A participant cannot subscribe to its own track (it would receive its own media).
    case ownTrack(TrackID, ParticipantID)
    case alreadySubscribed(TrackID, ParticipantID)
    case notSubscribed(TrackID, ParticipantID)
}
