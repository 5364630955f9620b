/// Packets the core dropped or could not serve, by reason (for metrics).
public struct ForwardingCounters: Sendable, Equatable {
    public var packetsReceived = 0
    public var packetsForwarded = 0
    public var retransmissionsSent = 0
    public var droppedMalformed = 0
    public var droppedUnknownSource = 0
    /// A packet whose SSRC belongs to another participant's track.
    public var droppedForeignSource = 0
    public var droppedOversize = 0
    public var droppedUnknownPayloadType = 0
    /// Publisher RTX (recovery toward the SFU) is not handled yet.
    public var droppedPublisherRTX = 0
    public var nackMisses = 0
    public var malformedRTCP = 0
    public init() {}
}
