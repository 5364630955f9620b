public import MediaPackets
public import MediaForwarding

/// What the SFU puts in every description it writes about its own end of a peer
/// connection: ICE-lite credentials, host candidates on the node's one media port, and the
/// DTLS certificate fingerprint (RFC 8839 §5, RFC 8122 §5).
public struct LocalTransport: Sendable, Equatable {
    public struct Candidate: Sendable, Equatable {
        /// An IP literal (v4 or v6) the node is reachable at.
        public var address: String
        public var port: Int
        public init(address: String, port: Int) { self.address = address; self.port = port }
    }

    public var ufrag: String
    public var password: String
    public var fingerprint: SDPFingerprint
    public var candidates: [Candidate]

    public init(ufrag: String, password: String, fingerprint: SDPFingerprint, candidates: [Candidate]) {
        self.ufrag = ufrag
        self.password = password
        self.fingerprint = fingerprint
        self.candidates = candidates
    }

    /// `a=candidate` values (RFC 8839 §5.1): host candidates, component 1 (rtcp-mux), with
    /// priorities by RFC 8445 §5.1.2.1 (type preference 126, local preference descending).
    var candidateValues: [String] {
        candidates.enumerated().map { index, candidate in
            let localPreference = UInt32(65_535 - min(index, 65_535))
            let priority = (UInt32(126) << 24) | (localPreference << 8) | 255
            return "\(index + 1) 1 udp \(priority) \(candidate.address) \(candidate.port) typ host"
        }
    }

    /// The `c=` and port of the m-lines: the first candidate's (RFC 8839 §4.2.1.3 lets an
    /// ICE agent put its default candidate there).
    var connection: (field: SDPField, port: Int) {
        guard let first = candidates.first else { return (SDPField("c", "IN IP4 0.0.0.0"), 9) }
        let family = first.address.contains(":") ? "IP6" : "IP4"
        return (SDPField("c", "IN \(family) \(first.address)"), first.port)
    }
}

/// A codec as negotiated on one media section: the payload type, its rtpmap and fmtp, the
/// RTCP feedback both sides agreed on, and the RTX payload type bound to it (RFC 4588 §8.6).
public struct NegotiatedCodec: Sendable, Equatable {
    public var payloadType: UInt8
    /// As the offer spelled it (`opus`, `VP8`, `H264`).
    public var encodingName: String
    public var clockRate: Int
    public var channels: Int?
    public var formatParameters: String?
    public var feedback: [String]
    public var rtxPayloadType: UInt8?

    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil,
                formatParameters: String? = nil, feedback: [String] = [], rtxPayloadType: UInt8? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
        self.formatParameters = formatParameters
        self.feedback = feedback
        self.rtxPayloadType = rtxPayloadType
    }

    /// Whether the peer agreed to `value` (e.g. `nack`, `nack pli`, `goog-remb`).
    public func hasFeedback(_ value: String) -> Bool { feedback.contains(value) }
}

/// The codecs the SFU forwards; their keyframes are recognised by the forwarding core.
public enum ForwardableCodec: String, Sendable, CaseIterable {
    case opus
    case vp8
    case h264

    public var kind: String { self == .opus ? "audio" : "video" }

    init?(encodingName: String) { self.init(rawValue: encodingName.lowercased()) }
}

/// What the SFU accepts in a publisher's offer and writes in its offers to subscribers.
/// `Sendable` settings with defaults that suit Chromium and aiortc.
public struct NegotiationPolicy: Sendable, Equatable {
    /// Video codecs in preference order; the first the offer has wins. (Audio is Opus.)
    public var videoCodecs: [ForwardableCodec] = [.vp8, .h264]
    /// Header extensions accepted from publishers, by URI; their ids are the offer's.
    public var publisherExtensions: [String] = [
        RTPExtensionURI.mid, RTPExtensionURI.rtpStreamID, RTPExtensionURI.repairedRTPStreamID,
        RTPExtensionURI.absSendTime, RTPExtensionURI.audioLevel,
    ]
    /// RTCP feedback accepted for video (RFC 4585 §4.2, RFC 5104 §7.1).
    public var videoFeedback: [String] = ["nack", "nack pli", "ccm fir", "goog-remb"]
    /// RTCP feedback accepted for audio.
    public var audioFeedback: [String] = []
    /// Whether publishers may send RTX (RFC 4588). The forwarding core drops publisher RTX
    /// today (it does not NACK publishers), so accepting it only costs bandwidth.
    public var acceptPublisherRTX = true
    /// Whether subscribers are offered RTX for NACK answers.
    public var offerSubscriberRTX = true

    public init() {}

    /// Accept transport-wide congestion control from publishers (needs the shell to send
    /// transport-cc feedback, or Chromium's send-side estimate starves).
    public mutating func acceptTransportCC() {
        if !publisherExtensions.contains(RTPExtensionURI.transportWideCC) { publisherExtensions.append(RTPExtensionURI.transportWideCC) }
        if !videoFeedback.contains("transport-cc") { videoFeedback.append("transport-cc") }
        if !audioFeedback.contains("transport-cc") { audioFeedback.append("transport-cc") }
    }
}

/// One track a publisher's offer sends and the SFU's answer accepts.
public struct PublishedSection: Sendable, Equatable {
    public var mid: String
    /// `audio` or `video`.
    public var kind: String
    public var codec: NegotiatedCodec
    /// Layers from lowest to highest quality: the offer's `a=simulcast` order (Chromium and
    /// LiveKit list `q;h;f`), or one layer.
    public var layers: [SimulcastLayerDescription]
    /// `a=msid` stream and track ids, when given.
    public var streamID: String?
    public var trackID: String?
}

/// The outcome of answering a publisher's offer.
public struct PublisherNegotiation: Sendable, Equatable {
    public var answer: SessionDescription
    public var remoteUfrag: String
    public var remotePassword: String
    public var remoteFingerprint: SDPFingerprint
    /// Sections the client sends on, in offer order.
    public var published: [PublishedSection]
    /// The header-extension ids accepted (shared by the bundle).
    public var extensionMap: RTPExtensionMap
}

/// One section of an offer the SFU makes to a subscriber: a track it will send.
public struct SubscriberSection: Sendable, Equatable {
    /// The section's mid in the subscriber's peer connection (chosen by the SFU, stable).
    public var mid: String
    public var kind: String
    /// The publisher's codec and payload types, so no payload-type mapping is needed.
    public var codec: NegotiatedCodec
    /// The SSRC the subscriber sees, and the RTX SSRC when RTX is offered.
    public var ssrc: UInt32
    public var rtxSSRC: UInt32?
    /// `a=msid`: the publishing participant and its track.
    public var streamID: String
    public var trackID: String
    public var cname: String
    /// False once the track is gone: the section stays, `a=inactive`, without SSRCs.
    public var active: Bool

    public init(mid: String, kind: String, codec: NegotiatedCodec, ssrc: UInt32, rtxSSRC: UInt32?,
                streamID: String, trackID: String, cname: String, active: Bool = true) {
        self.mid = mid
        self.kind = kind
        self.codec = codec
        self.ssrc = ssrc
        self.rtxSSRC = rtxSSRC
        self.streamID = streamID
        self.trackID = trackID
        self.cname = cname
        self.active = active
    }
}

/// What a subscriber's answer to the SFU's offer agreed to.
public struct SubscriberNegotiation: Sendable, Equatable {
    public var remoteUfrag: String
    public var remotePassword: String
    public var remoteFingerprint: SDPFingerprint
    /// Per mid: the codec as answered (feedback narrowed to what the subscriber accepted,
    /// RTX dropped if it did not keep it), or nil when it rejected or deactivated the section.
    public var accepted: [String: NegotiatedCodec]
}
