import MediaForwarding
import MediaNegotiation
import MediaPackets

/// A published track, as the engine remembers it.
struct PublishedTrack {
    var info: MediaTrackInfo
    var trackID: TrackID
    var publisher: ParticipantID
    /// The publisher's mid (its peer connection's numbering).
    var publisherMid: String
    var codec: NegotiatedCodec
    /// The simulcast layers as published (SSRCs may be learned later by the router).
    var layers: [SimulcastLayerDescription] = []
}

/// One participant of a meeting on this node: its two peer connections and the subscriber
/// side's negotiation state (docs/signaling.md).
final class ParticipantSession {
    let name: String
    let id: ParticipantID
    let events: AsyncStream<MediaEvent>.Continuation
    let autoSubscribe: Bool
    /// The SFrame sender slot assigned at join (docs/e2ee.md): the high bits of every KID this
    /// participant may encrypt under. Unique among the meeting's participants on this node.
    let slot: UInt32
    /// The X25519 identity public key (base64) declared at join; nil: no end-to-end encryption.
    let identityKey: String?
    /// The node the participant is connected to, when known.
    let node: String?
    var publisher: PeerTransport?
    /// Publisher mid → track id, for the tracks it publishes now.
    var publishedByMid: [String: String] = [:]
    /// The header-extension ids of its publisher connection (announced over relay links).
    var extensionMap = RTPExtensionMap()
    let subscriber: PeerTransport
    /// The subscriber peer connection's sections, in mid order; only ever appended.
    var sections: [SubscriberSection] = []
    /// Subscriber mid → track id.
    var sectionTracks: [String: String] = [:]
    /// Track ids whose forwarding is set up in the router.
    var forwarding: Set<String> = []
    /// Per subscriber mid, the codec its last answer accepted.
    var accepted: [String: NegotiatedCodec] = [:]
    var outstandingOffer: SessionDescription?
    var renegotiationWanted = false
    var offerVersion = 0
    let sessionID = String(UInt64.random(in: 1...UInt64(Int64.max)))

    init(name: String, id: ParticipantID, events: AsyncStream<MediaEvent>.Continuation, autoSubscribe: Bool, subscriber: PeerTransport,
         slot: UInt32, identityKey: String? = nil, node: String? = nil) {
        self.name = name
        self.id = id
        self.events = events
        self.autoSubscribe = autoSubscribe
        self.subscriber = subscriber
        self.slot = slot
        self.identityKey = identityKey
        self.node = node
    }

    /// What the others are told in `participantJoined`: the key and slot only when declared.
    var info: MediaParticipantInfo {
        MediaParticipantInfo(name: name, node: node, identityKey: identityKey, slot: identityKey == nil ? nil : slot)
    }
}

/// A meeting's share of this node: its forwarding core and participants.
final class MeetingState {
    let name: String
    var router: ForwardingRouter<MediaInstant>
    var participants: [String: ParticipantSession] = [:]
    var byID: [ParticipantID: ParticipantSession] = [:]
    var tracks: [String: PublishedTrack] = [:]
    /// In publication order, for stable offers.
    var trackOrder: [String] = []
    var nextParticipant: UInt32 = 1
    var nextTrack: UInt32 = 1
    /// SSRCs the SFU chose for subscribers, kept unique within the meeting.
    var subscriberSSRCs: Set<UInt32> = []
    /// The meeting's policy requires end-to-end encryption: every publisher frame must carry
    /// the SFrame layout (docs/e2ee.md), checked on each frame's first packet.
    var endToEndEncryptionRequired = false
    /// Publishers caught sending media without it: all their RTP is dropped from then on.
    var refusedPublishers: Set<ParticipantID> = []
    /// Participants on other nodes, brought by relay links (docs/relay.md), by name and id.
    var remotes: [String: RemoteParticipant] = [:]
    var remoteByID: [ParticipantID: RemoteParticipant] = [:]
    /// The relay links open for this meeting.
    var links: [UInt64] = []
    /// Something the links announce changed: send snapshots at the next tick.
    var snapshotDue = false
    /// The publisher SSRCs the last snapshots announced (a new one makes a snapshot due).
    var announcedSSRCs: Set<UInt32> = []
    /// What the meeting's relay links share (layers, meters, remapped SSRCs).
    let relay = MeetingRelayState()
    /// Whether the publisher frames forwarded here carried the SFrame layout (every meeting,
    /// whatever its policy; kept by the engine when the meeting empties).
    var observation = EndToEndEncryptionObservation()

    init(name: String, configuration: ForwardingConfiguration) {
        self.name = name
        router = ForwardingRouter(configuration: configuration, feedbackSSRC: UInt32.random(in: 1...UInt32.max))
    }

    /// Nothing is left here: no local or remote participant and no relay link.
    var isEmpty: Bool { participants.isEmpty && remotes.isEmpty && links.isEmpty }
    /// A random sender slot in 1..<2^31 that no participant here has (docs/signaling.md, `joined.e2ee.slot`).
    func freshSlot<G: RandomNumberGenerator>(using generator: inout G) -> UInt32 {
        let used = Set(participants.values.map(\.slot))
        while true {
            let slot = UInt32.random(in: 1..<(1 << 31), using: &generator)
            if !used.contains(slot) { return slot }
        }
    }

    func broadcast(_ event: MediaEvent, except: String? = nil) {
        for (name, participant) in participants where name != except { participant.events.yield(event) }
    }

    func freshSSRC() -> UInt32 {
        while true {
            let ssrc = UInt32.random(in: 1...UInt32.max)
            if !subscriberSSRCs.contains(ssrc), ssrc != router.feedbackSSRC {
                subscriberSSRCs.insert(ssrc)
                return ssrc
            }
        }
    }

    /// `name` made safe for an msid token (RFC 8830 §2: token characters only).
    static func msidToken(_ name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        let token = String(name.map { allowed.contains($0) ? $0 : "_" }.prefix(64))
        return token.isEmpty ? "participant" : token
    }
}

extension ForwardedCodec {
    init(encodingName: String) {
        switch encodingName.lowercased() {
        case "vp8": self = .vp8
        case "h264": self = .h264
        case "opus": self = .opus
        default: self = .other
        }
    }
}
