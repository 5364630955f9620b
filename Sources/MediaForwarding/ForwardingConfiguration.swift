public import MediaCore

/// Tunables of the forwarding core, with defaults that suit browsers.
public struct ForwardingConfiguration: Sendable {
    /// Largest RTP packet forwarded or cached (bytes).
    public var maxPacketSize = 1500
    /// Per-layer retransmission cache for video (packets; rounded up to a power of two).
    public var videoCacheCapacity = 512
    /// Per-track retransmission cache for audio.
    public var audioCacheCapacity = 64
    /// Per-subscription memory of outgoing → source sequence numbers (packets).
    public var sequenceMapCapacity = 1024
    /// At most one keyframe request per published layer this often (RFC 4585 §6.3.1).
    public var keyframeRequestInterval: Duration = .milliseconds(500)
    /// NACK repairs toward subscribers: the per-subscriber budget, the age limit and the
    /// per-packet resend interval (``RetransmissionConfiguration``).
    public var retransmission = RetransmissionConfiguration()
    /// NACKs as a congestion signal (``RepairLossConfiguration``).
    public var repairLoss = RepairLossConfiguration()
    /// Layer switches under congestion (``LayerSwitchConfiguration``).
    public var layerSwitch = LayerSwitchConfiguration()
    /// Layer bitrates are measured over this window.
    public var bitrateWindow: Duration = .seconds(1)
    /// Share of a subscriber's estimate given to video, after audio's fixed reserve.
    public var audioReserveBitsPerSecond = 64_000
    /// A layer silent for this long is treated as off (the publisher dropped it).
    public var layerInactivityTimeout: Duration = .seconds(2)
    /// The estimate from subscribers' receiver reports (used until a subscriber sends REMB).
    public var lossEstimator = LossBasedBandwidthEstimatorConfiguration()
    /// Whether packets lost on a publisher's uplink are NACKed to it (its RTX is then
    /// unwrapped and forwarded, RFC 4588 §4).
    public var publisherLossRecovery: PublisherLossRecovery = .nack
    /// Active-speaker detection.
    public var activeSpeaker = ActiveSpeakerConfiguration()

    public init() {}
}

/// How the SFU treats loss between a publisher and itself.
public enum PublisherLossRecovery: Sendable, Equatable {
    /// NACK missing video packets (RFC 4585 §6.2.1) and forward the publisher's RTX.
    case nack
    /// Forward what arrives; subscribers see the publisher's loss as their own.
    case off
}
