/// A participant of the meeting on this node, as the signaling layer numbered it. A small
/// integer rather than a string so directives carry it without reference counting.
public struct ParticipantID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: ParticipantID, b: ParticipantID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "participant \(rawValue)" }
}

/// A published track (one `m=` section of a publisher: its mid, and its msid track id in
/// signaling). Numbered by the signaling layer; unique within the meeting.
public struct TrackID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: TrackID, b: TrackID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "track \(rawValue)" }
}

public enum MediaKind: Sendable, Equatable {
    case audio
    case video
}

/// The codec of a payload type, as far as forwarding cares: where keyframes are found.
public enum ForwardedCodec: Sendable, Equatable {
    case vp8
    case h264
    case opus
    /// Any other codec: forwarded, but its keyframes are not recognised, so a video track
    /// with it is forwarded from its first packet and never switches layers.
    case other
}
