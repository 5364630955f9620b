/// One simulcast layer (RFC 8853) of a published video track, or the single stream of a
/// track without simulcast.
public struct SimulcastLayerDescription: Sendable, Equatable {
    /// The `a=rid` of the layer (RFC 8851), nil without simulcast.
    public var rid: String?
    /// The media SSRC when signaled (`a=ssrc`); nil when it is learned from the first
    /// packet carrying the rid header extension, as browsers send simulcast.
    public var ssrc: UInt32?
    /// The RTX SSRC (`a=ssrc-group:FID`) when signaled; learned from repaired-rid otherwise.
    public var rtxSSRC: UInt32?

    public init(rid: String? = nil, ssrc: UInt32? = nil, rtxSSRC: UInt32? = nil) {
        self.rid = rid
        self.ssrc = ssrc
        self.rtxSSRC = rtxSSRC
    }
}

/// A payload type the publisher negotiated for a track.
public struct PayloadTypeDescription: Sendable, Equatable {
    public var payloadType: UInt8
    public var codec: ForwardedCodec
    /// The RTX payload type associated with it (`a=fmtp:<rtx> apt=<payloadType>`, RFC 4588 §8.6).
    public var rtxPayloadType: UInt8?

    public init(payloadType: UInt8, codec: ForwardedCodec, rtxPayloadType: UInt8? = nil) {
        self.payloadType = payloadType
        self.codec = codec
        self.rtxPayloadType = rtxPayloadType
    }
}

/// What a publisher announced for one track, from its SDP offer.
public struct PublishedTrackDescription: Sendable, Equatable {
    public var id: TrackID
    public var mid: String
    public var kind: MediaKind
    /// RTP clock rate (Hz): 90,000 for video, 48,000 for Opus.
    public var clockRate: Int
    public var payloadTypes: [PayloadTypeDescription]
    /// Simulcast layers from lowest to highest quality (at most 3), or one entry.
    public var layers: [SimulcastLayerDescription]

    public init(id: TrackID, mid: String, kind: MediaKind, clockRate: Int? = nil,
                payloadTypes: [PayloadTypeDescription], layers: [SimulcastLayerDescription]) {
        self.id = id
        self.mid = mid
        self.kind = kind
        self.clockRate = clockRate ?? (kind == .audio ? 48_000 : 90_000)
        self.payloadTypes = payloadTypes
        self.layers = layers
    }
}

/// What a subscriber negotiated for its copy of a track, from the SFU's offer/answer with it.
public struct SubscriptionDescription: Sendable, Equatable {
    /// The SSRC the subscriber sees for this track (chosen by the SFU, unique on the node).
    public var ssrc: UInt32
    /// The publisher's payload type → the subscriber's, where they differ.
    public var payloadTypeMap: [UInt8: UInt8]
    /// Retransmissions are sent as RTX (RFC 4588) with this SSRC and payload-type map
    /// (subscriber media payload type → RTX payload type); nil sends plain retransmissions.
    public var rtx: RTX?
    /// Random offsets hiding the publisher's numbering (RFC 3550 §5.1).
    public var initialSequenceOffset: UInt16
    public var initialTimestampOffset: UInt32

    public struct RTX: Sendable, Equatable {
        public var ssrc: UInt32
        public var payloadTypes: [UInt8: UInt8]
        public init(ssrc: UInt32, payloadTypes: [UInt8: UInt8]) {
            self.ssrc = ssrc
            self.payloadTypes = payloadTypes
        }
    }

    public init(ssrc: UInt32, payloadTypeMap: [UInt8: UInt8] = [:], rtx: RTX? = nil,
                initialSequenceOffset: UInt16 = 0, initialTimestampOffset: UInt32 = 0) {
        self.ssrc = ssrc
        self.payloadTypeMap = payloadTypeMap
        self.rtx = rtx
        self.initialSequenceOffset = initialSequenceOffset
        self.initialTimestampOffset = initialTimestampOffset
    }
}
