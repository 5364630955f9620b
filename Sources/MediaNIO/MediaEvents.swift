public import MediaNegotiation
import MediaForwarding

/// A track published in a meeting, as signaling shows it to the other participants.
public struct MediaTrackInfo: Sendable, Equatable, Codable {
    /// Unique within the meeting on this node (`T1`, `T2`…).
    public var id: String
    public var participant: String
    /// `audio` or `video`.
    public var kind: String
    /// The publisher's `a=msid` stream and track ids, when it gave them.
    public var streamID: String?
    public var trackID: String?
    public var simulcastLayers: Int
    public var muted: Bool

    public init(id: String, participant: String, kind: String, streamID: String? = nil, trackID: String? = nil,
                simulcastLayers: Int = 1, muted: Bool = false) {
        self.id = id
        self.participant = participant
        self.kind = kind
        self.streamID = streamID
        self.trackID = trackID
        self.simulcastLayers = simulcastLayers
        self.muted = muted
    }
}

/// A participant of a meeting, as signaling shows it to the others (docs/signaling.md,
/// `participantJoined`): on this node or, through a relay link, on another (`node`).
public struct MediaParticipantInfo: Sendable, Equatable, Codable {
    public var name: String
    /// The id of the node the participant is connected to, when known.
    public var node: String?
    /// The participant's X25519 identity public key (base64 of 32 bytes), when it declared
    /// end-to-end encryption at join (docs/e2ee.md): media keys are sealed to it.
    public var identityKey: String?
    /// The participant's SFrame sender slot (KID = slot << 16 | generation), when it declared
    /// end-to-end encryption.
    public var slot: UInt32?

    public init(name: String, node: String? = nil, identityKey: String? = nil, slot: UInt32? = nil) {
        self.name = name
        self.node = node
        self.identityKey = identityKey
        self.slot = slot
    }
}

/// Which of a participant's two peer connections (docs/signaling.md).
public enum PeerConnectionRole: String, Sendable, Codable {
    /// The client offers and sends; the SFU answers and receives.
    case publisher
    /// The SFU offers and sends; the client answers and receives.
    case subscriber
}

public enum MediaConnectionState: String, Sendable, Codable {
    /// ICE has a nominated pair and DTLS-SRTP keys are established.
    case connected
    /// ICE consent expired (RFC 7675) or DTLS closed.
    case disconnected
    /// DTLS failed or the certificate did not match the SDP fingerprint.
    case failed
}


/// What the media service tells one participant's signaling session.
public enum MediaEvent: Sendable, Equatable {
    case participantJoined(MediaParticipantInfo)
    case participantLeft(String)
    case trackPublished(MediaTrackInfo)
    case trackUnpublished(id: String, participant: String)
    case trackMuted(id: String, muted: Bool)
    /// The loudest participant (nil: nobody, or the speaker left).
    case activeSpeaker(String?)
    /// The SFU (re)offers the subscriber peer connection; answer with
    /// ``MediaServer/answerSubscriber(meeting:participant:answer:)``.
    case subscriberOffer(sdp: String)
    case connectionState(PeerConnectionRole, MediaConnectionState)
    /// A media key sealed to this participant by `from` (an opaque envelope, docs/e2ee.md),
    /// relayed by ``MediaServer/relayMediaKey(meeting:from:to:envelope:)``.
    case mediaKey(from: String, envelope: [UInt8])
}

/// Why a signaling request to the media service failed.
public enum MediaSessionError: Error, Equatable, Sendable, CustomStringConvertible {
    case notJoined(meeting: String, participant: String)
    case alreadyJoined(meeting: String, participant: String)
    case negotiation(NegotiationError)
    /// An answer arrived while no subscriber offer was outstanding.
    case noOutstandingOffer
    case unknownTrack(String)
    case notYourTrack(String)
    /// The forwarding core refused the publication (e.g. an SSRC already used).
    case forwarding(String)
    /// The UDP socket is not bound (the service is not running).
    case notRunning
    /// A relay link could not be opened (already open, bad address).
    case relayLink(String)
    /// The meeting requires end-to-end encryption and the participant declared no identity
    /// key at join, so it may not publish.
    case endToEndEncryptionRequired
    /// A media key addressed to someone who is not in the meeting on this node.
    case unknownParticipant(String)
    /// A sealed media key larger than ``MediaServer/maximumMediaKeyEnvelope`` bytes.
    case mediaKeyTooLarge(Int)

    public var description: String {
        switch self {
        case .notJoined(let meeting, let participant): "\(participant) has not joined meeting \(meeting)"
        case .alreadyJoined(let meeting, let participant): "\(participant) is already in meeting \(meeting)"
        case .negotiation(let error): error.description
        case .noOutstandingOffer: "no subscriber offer is waiting for an answer"
        case .unknownTrack(let id): "no track \(id) in this meeting"
        case .notYourTrack(let id): "track \(id) is published by someone else"
        case .forwarding(let reason): "the forwarding core refused: \(reason)"
        case .notRunning: "the media service is not running"
        case .relayLink(let reason): "relay link refused: \(reason)"
        case .endToEndEncryptionRequired:
            "this meeting requires end-to-end encryption: join with an identity key (\"e2ee\": {\"identityKey\": ...}) and publish SFrame-encrypted VP8/Opus"
        case .unknownParticipant(let name): "no participant \(name) in this meeting"
        case .mediaKeyTooLarge(let size): "a sealed media key of \(size) bytes exceeds \(MediaServer.maximumMediaKeyEnvelope)"
        }
    }
}

/// Counters of the media service, for metrics and tests.
public struct MediaServerStatistics: Sendable, Equatable {
    public var datagramsReceived = 0
    public var datagramsSent = 0
    public var stunRequests = 0
    /// Datagrams from an address no peer connection knows, or STUN naming no local ufrag.
    public var unroutable = 0
    public var srtpFailures = 0
    public var rtpForwarded = 0
    /// Of those, answers to subscribers' NACKs (RTX or plain retransmissions).
    public var rtpRetransmitted = 0
    public var rtcpSent = 0
    /// transport-cc feedback packets sent to publishers.
    public var transportFeedbackSent = 0
    /// Subscriptions moved to another simulcast layer (up or down, e.g. under a bandwidth cap).
    public var layerSwitches = 0
    /// The SFU's sender reports to subscribers (RFC 3550 §6.4.1; also counted in `rtcpSent`).
    public var senderReportsSent = 0
    /// Generic NACKs sent to publishers for loss on their uplinks, and packets recovered
    /// from their RTX and forwarded (summed over the meetings currently on the node).
    public var nacksSentToPublishers = 0
    public var publisherRetransmissionsReceived = 0
    /// Subscriber repairs and layer switches under congestion (issue 6), summed over the
    /// meetings currently on the node; see ``ForwardingCounters`` for each.
    public var repairsTooOld = 0
    public var repairsDroppedForSwitch = 0
    public var repairsQueued = 0
    public var repairsExpired = 0
    public var unconfirmedRepairsResent = 0
    public var packetsHeldForSwitch = 0
    public var keyframeRerequests = 0
    public var lossBasedEstimates = 0
    public var repairLossReports = 0
    public var dtlsConnected = 0
    public var dtlsFailures = 0
    public var peerConnections = 0
    /// Publisher packets dropped in E2EE-required meetings because they did not carry the
    /// SFrame layout (issue 8 §3); the publisher's media is refused from the first one on.
    public var e2eeViolations = 0
    /// Relay datagrams (0xD1) that authenticated on an open link.
    public var relayDatagramsReceived = 0
    public var relayDatagramsSent = 0
    /// Relay datagrams dropped unprocessed: unknown link id, another source address than the
    /// link's, failed authentication, replay, or an undecodable control message.
    public var relayRefused = 0
    /// RTP packets that arrived over relay links and were handed to the forwarding core.
    public var relayRTPForwarded = 0
    /// Of the RTP sent over relay links, retransmissions answering a link NACK.
    public var relayRTPRetransmitted = 0
    /// Control messages too large for one datagram, sent as fragments (docs/relay.md).
    public var relayControlFragmented = 0
    /// Times a relay link's congestion ceiling moved (a layer dropped or restored).
    public var relayLayerCeilingChanges = 0
    public init() {}
}

extension MediaServerStatistics {
    /// Adds a forwarding core's repair and congested-switch counters (issue 6).
    mutating func addCongestionCounters(_ counters: ForwardingCounters) {
        repairsTooOld += counters.repairsTooOld
        repairsDroppedForSwitch += counters.repairsDroppedForSwitch
        repairsQueued += counters.repairsQueued
        repairsExpired += counters.repairsExpired
        unconfirmedRepairsResent += counters.unconfirmedRepairsResent
        packetsHeldForSwitch += counters.packetsHeldForSwitch
        keyframeRerequests += counters.keyframeRerequests
        lossBasedEstimates += counters.lossBasedEstimates
        repairLossReports += counters.repairLossReports
    }
}
