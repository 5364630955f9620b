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
    /// Publisher RTX that could not be used: padding-only probes (no original sequence
    /// number), an RTX payload type with no media type, or a layer whose SSRC is unknown.
    public var droppedPublisherRTX = 0
    /// Packets recovered from a publisher's RTX and forwarded (RFC 4588 §4).
    public var publisherRetransmissionsReceived = 0
    /// Generic NACK packets sent to publishers for loss on their uplink.
    public var nacksSentToPublishers = 0
    public var nackMisses = 0
    /// NACKed packets not resent: older than `retransmission.maximumAge`.
    public var repairsTooOld = 0
    /// NACKed packets not resent: of a layer being left while a switch is pending.
    public var repairsDroppedForSwitch = 0
    /// Repairs sent again at once because no NACK confirmed them (``RetransmissionConfiguration/unconfirmedRepairRetries``;
    /// those that had to wait for the budget are counted in `repairsQueued`).
    public var unconfirmedRepairsResent = 0
    /// Repairs that waited for the subscriber's retransmission budget (queued, then sent on a tick).
    public var repairsQueued = 0
    /// Queued repairs dropped: too old by the time tokens came back, or the queue overflowed.
    public var repairsExpired = 0
    /// Packets of a layer being left that were held (paused) while a congested switch down waited for the target keyframe.
    public var packetsHeldForSwitch = 0
    /// Keyframe requests because the target keyframe of a switch was lost on the way to the subscriber.
    public var keyframeRerequests = 0
    /// Loss reports from subscribers' NACKs (before their next receiver report).
    public var repairLossReports = 0
    /// The SFU's own RTCP: sender reports to subscribers, receiver reports to publishers.
    public var senderReportsSent = 0
    public var receiverReportsSent = 0
    /// Bandwidth estimates derived from subscribers' receiver reports.
    public var lossBasedEstimates = 0
    /// Subscriptions moved to another simulcast layer (each `layerSwitched` directive).
    public var layerSwitches = 0
    public var malformedRTCP = 0
    public init() {}
}
