import Foundation
public import MediaNIO

/// What a client sends on `GET /v1/rtc` (docs/signaling.md). One JSON object per WebSocket
/// text message, told apart by `type`; the other fields belong to some types only.
public struct ClientMessage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// First message unless the token came in the URL: `token`, optional `autoSubscribe`.
        case join
        /// `sdp`: an offer for the publisher peer connection (the first, or a renegotiation).
        case publish
        /// `sdp`: the answer to the last `subscriberOffer`.
        case subscriberAnswer
        /// `tracks` (ids), `subscribe` (default true): start or stop receiving them.
        case subscribe
        /// `track`, `muted`.
        case mute
        case leave
        /// `to` (a participant), `envelope` (base64 of a sealed media key, docs/e2ee.md).
        case mediaKey
        /// `token`: a newer participant token for the same tenant, meeting and participant;
        /// the session then lasts until its expiry instead of the first one's.
        case refresh
    }

    /// `join`'s `e2ee`: the participant encrypts its media end to end (docs/e2ee.md).
    public struct EndToEndEncryption: Codable, Sendable, Equatable {
        /// Base64 of the participant's 32-byte X25519 identity public key.
        public var identityKey: String
        public init(identityKey: String) { self.identityKey = identityKey }
    }

    public var type: Kind
    public var token: String?
    public var autoSubscribe: Bool?
    public var sdp: String?
    public var tracks: [String]?
    public var subscribe: Bool?
    public var track: String?
    public var muted: Bool?
    public var e2ee: EndToEndEncryption?
    public var to: String?
    public var envelope: String?

    public init(type: Kind, token: String? = nil, autoSubscribe: Bool? = nil, sdp: String? = nil, tracks: [String]? = nil,
                subscribe: Bool? = nil, track: String? = nil, muted: Bool? = nil, e2ee: EndToEndEncryption? = nil,
                to: String? = nil, envelope: String? = nil) {
        self.type = type
        self.token = token
        self.autoSubscribe = autoSubscribe
        self.sdp = sdp
        self.tracks = tracks
        self.subscribe = subscribe
        self.track = track
        self.muted = muted
        self.e2ee = e2ee
        self.to = to
        self.envelope = envelope
    }

    /// Largest message accepted: an SDP offer with many sections stays far below this.
    public static let maximumSize = 256 * 1024

    /// Decodes one message, checking that the fields its type needs are present.
    public static func decode(_ text: String) throws(SignalingError) -> ClientMessage {
        guard text.utf8.count <= maximumSize else { throw .messageTooLarge(text.utf8.count) }
        let message: ClientMessage
        do {
            message = try JSONDecoder().decode(ClientMessage.self, from: Data(text.utf8))
        } catch DecodingError.dataCorrupted(let context) {
            throw .malformedMessage(context.codingPath.isEmpty ? "not JSON" : "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch DecodingError.keyNotFound(let key, _) {
            throw .malformedMessage("missing \"\(key.stringValue)\"")
        } catch DecodingError.typeMismatch(_, let context) {
            throw .malformedMessage("wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw .malformedMessage("not a message object")
        }
        switch message.type {
        case .publish, .subscriberAnswer:
            guard message.sdp?.isEmpty == false else { throw .missingField(message.type.rawValue, "sdp") }
        case .subscribe:
            guard message.tracks != nil else { throw .missingField("subscribe", "tracks") }
        case .mute:
            guard message.track != nil, message.muted != nil else { throw .missingField("mute", "track and muted") }
        case .join:
            if let e2ee = message.e2ee { _ = try identityKey(e2ee.identityKey) }
        case .mediaKey:
            guard let to = message.to, !to.isEmpty, let envelope = message.envelope else { throw .missingField("mediaKey", "to and envelope") }
            _ = try mediaKeyEnvelope(envelope)
        case .refresh:
            guard message.token?.isEmpty == false else { throw .missingField("refresh", "token") }
        case .leave:
            break
        }
        return message
    }

    /// The 32 bytes of a declared identity key: base64 (RFC 4648 §4) of an X25519 public key
    /// that is not all zero (the all-zero point gives every sealer the same shared secret).
    public static func identityKey(_ base64: String) throws(SignalingError) -> [UInt8] {
        guard let data = Data(base64Encoded: base64) else { throw .malformedMessage("e2ee.identityKey is not base64") }
        guard data.count == 32 else { throw .malformedMessage("e2ee.identityKey is \(data.count) bytes, not the 32 of an X25519 public key") }
        guard data.contains(where: { $0 != 0 }) else { throw .malformedMessage("e2ee.identityKey is all zero") }
        return Array(data)
    }

    /// The bytes of a relayed media-key envelope: base64, 1…512 bytes (opaque to the server).
    public static func mediaKeyEnvelope(_ base64: String) throws(SignalingError) -> [UInt8] {
        guard let data = Data(base64Encoded: base64) else { throw .malformedMessage("envelope is not base64") }
        guard !data.isEmpty else { throw .malformedMessage("envelope is empty") }
        guard data.count <= MediaServer.maximumMediaKeyEnvelope else {
            throw .malformedMessage("envelope is \(data.count) bytes, more than \(MediaServer.maximumMediaKeyEnvelope)")
        }
        return Array(data)
    }
}

/// What the server sends: replies and the media service's events.
public struct ServerMessage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// `participant`, `meeting`, `node` (region and jurisdiction of this edge node).
        case joined
        /// `sdp`: the SFU's answer to a `publish` offer.
        case publishAnswer
        /// `sdp`: an offer for the subscriber peer connection; reply `subscriberAnswer`.
        case subscriberOffer
        case participantJoined, participantLeft
        /// `track` (a ``MediaTrackInfo``).
        case trackPublished
        /// `trackID`, `participant`.
        case trackUnpublished
        /// `trackID`, `muted`.
        case trackMuted
        /// `participant` (absent: nobody).
        case activeSpeaker
        /// `peerConnection` (`publisher`/`subscriber`), `state`.
        case connectionState
        /// `code`, `message`. Fatal codes close the socket.
        case error
        /// `from` (stamped by the server), `envelope`: a media key sealed to this participant.
        case mediaKey
        /// The participant's media moved (the node drains, or it was asked at the wrong node):
        /// `edge` (`node`, `region`, `jurisdiction`, `signaling` URL) to connect to now, or,
        /// without `edge`, `retryAfter` milliseconds to ask again (the meeting is being
        /// re-placed). The server closes the socket after it.
        case reconnect
        /// `refresh` was accepted: `expiresAt` is the session's new end.
        case refreshed
    }

    /// `joined`'s `e2ee` (docs/signaling.md).
    public struct EndToEndEncryption: Codable, Sendable, Equatable {
        /// The meeting's policy requires end-to-end encryption: publish only with it.
        public var required: Bool
        /// This participant's SFrame sender slot (KID = slot << 16 | generation).
        public var slot: UInt32
        /// The meeting id to bind sealed media keys to (the envelope context, docs/e2ee.md).
        public var meeting: String
        public init(required: Bool, slot: UInt32, meeting: String) {
            self.required = required
            self.slot = slot
            self.meeting = meeting
        }
    }

    public var type: Kind
    public var participant: String?
    public var meeting: String?
    public var node: [String: String]?
    public var sdp: String?
    public var track: MediaTrackInfo?
    public var trackID: String?
    public var muted: Bool?
    public var peerConnection: String?
    public var state: String?
    public var code: String?
    public var message: String?
    /// `joined` only.
    public var e2ee: EndToEndEncryption?
    /// `participantJoined`: the node the participant is connected to. On the wire this is the
    /// `node` key too (a string there; `joined`'s `node` is an object).
    public var participantNode: String?
    /// `participantJoined`: base64 identity key and sender slot, when it declared E2EE.
    public var identityKey: String?
    public var slot: UInt32?
    /// `mediaKey`.
    public var from: String?
    public var envelope: String?
    /// `joined`, `refreshed`: when the session ends unless refreshed (Unix seconds: the
    /// token's `exp` plus the verifier's leeway).
    public var expiresAt: Int64?
    /// `joined`: other nodes to connect to (`node`, `signaling` URL) if this one goes away.
    public var alternates: [[String: String]]?
    /// `reconnect`.
    public var edge: [String: String]?
    public var retryAfter: Int?

    public init(type: Kind, participant: String? = nil, meeting: String? = nil, node: [String: String]? = nil, sdp: String? = nil,
                track: MediaTrackInfo? = nil, trackID: String? = nil, muted: Bool? = nil, peerConnection: String? = nil,
                state: String? = nil, code: String? = nil, message: String? = nil, e2ee: EndToEndEncryption? = nil,
                participantNode: String? = nil, identityKey: String? = nil, slot: UInt32? = nil, from: String? = nil,
                envelope: String? = nil, expiresAt: Int64? = nil, alternates: [[String: String]]? = nil,
                edge: [String: String]? = nil, retryAfter: Int? = nil) {
        self.type = type
        self.participant = participant
        self.meeting = meeting
        self.node = node
        self.sdp = sdp
        self.track = track
        self.trackID = trackID
        self.muted = muted
        self.peerConnection = peerConnection
        self.state = state
        self.code = code
        self.message = message
        self.e2ee = e2ee
        self.participantNode = participantNode
        self.identityKey = identityKey
        self.slot = slot
        self.from = from
        self.envelope = envelope
        self.expiresAt = expiresAt
        self.alternates = alternates
        self.edge = edge
        self.retryAfter = retryAfter
    }

    enum CodingKeys: String, CodingKey {
        case type, participant, meeting, node, sdp, track, trackID, muted, peerConnection, state, code, message, e2ee, identityKey, slot, from, envelope
        case expiresAt, alternates, edge, retryAfter
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(Kind.self, forKey: .type)
        participant = try c.decodeIfPresent(String.self, forKey: .participant)
        meeting = try c.decodeIfPresent(String.self, forKey: .meeting)
        if let id = try? c.decodeIfPresent(String.self, forKey: .node) {
            participantNode = id
        } else {
            node = try c.decodeIfPresent([String: String].self, forKey: .node)
        }
        sdp = try c.decodeIfPresent(String.self, forKey: .sdp)
        track = try c.decodeIfPresent(MediaTrackInfo.self, forKey: .track)
        trackID = try c.decodeIfPresent(String.self, forKey: .trackID)
        muted = try c.decodeIfPresent(Bool.self, forKey: .muted)
        peerConnection = try c.decodeIfPresent(String.self, forKey: .peerConnection)
        state = try c.decodeIfPresent(String.self, forKey: .state)
        code = try c.decodeIfPresent(String.self, forKey: .code)
        message = try c.decodeIfPresent(String.self, forKey: .message)
        e2ee = try c.decodeIfPresent(EndToEndEncryption.self, forKey: .e2ee)
        identityKey = try c.decodeIfPresent(String.self, forKey: .identityKey)
        slot = try c.decodeIfPresent(UInt32.self, forKey: .slot)
        from = try c.decodeIfPresent(String.self, forKey: .from)
        envelope = try c.decodeIfPresent(String.self, forKey: .envelope)
        expiresAt = try c.decodeIfPresent(Int64.self, forKey: .expiresAt)
        alternates = try c.decodeIfPresent([[String: String]].self, forKey: .alternates)
        edge = try c.decodeIfPresent([String: String].self, forKey: .edge)
        retryAfter = try c.decodeIfPresent(Int.self, forKey: .retryAfter)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(participant, forKey: .participant)
        try c.encodeIfPresent(meeting, forKey: .meeting)
        if let participantNode { try c.encode(participantNode, forKey: .node) } else { try c.encodeIfPresent(node, forKey: .node) }
        try c.encodeIfPresent(sdp, forKey: .sdp)
        try c.encodeIfPresent(track, forKey: .track)
        try c.encodeIfPresent(trackID, forKey: .trackID)
        try c.encodeIfPresent(muted, forKey: .muted)
        try c.encodeIfPresent(peerConnection, forKey: .peerConnection)
        try c.encodeIfPresent(state, forKey: .state)
        try c.encodeIfPresent(code, forKey: .code)
        try c.encodeIfPresent(message, forKey: .message)
        try c.encodeIfPresent(e2ee, forKey: .e2ee)
        try c.encodeIfPresent(identityKey, forKey: .identityKey)
        try c.encodeIfPresent(slot, forKey: .slot)
        try c.encodeIfPresent(from, forKey: .from)
        try c.encodeIfPresent(envelope, forKey: .envelope)
        try c.encodeIfPresent(expiresAt, forKey: .expiresAt)
        try c.encodeIfPresent(alternates, forKey: .alternates)
        try c.encodeIfPresent(edge, forKey: .edge)
        try c.encodeIfPresent(retryAfter, forKey: .retryAfter)
    }

    public init(_ event: MediaEvent) {
        switch event {
        case .participantJoined(let info):
            self.init(type: .participantJoined, participant: info.name, participantNode: info.node, identityKey: info.identityKey, slot: info.slot)
        case .mediaKey(let from, let envelope):
            self.init(type: .mediaKey, from: from, envelope: Data(envelope).base64EncodedString())
        case .participantLeft(let name): self.init(type: .participantLeft, participant: name)
        case .trackPublished(let info): self.init(type: .trackPublished, track: info)
        case .trackUnpublished(let id, let participant): self.init(type: .trackUnpublished, participant: participant, trackID: id)
        case .trackMuted(let id, let muted): self.init(type: .trackMuted, trackID: id, muted: muted)
        case .activeSpeaker(let name): self.init(type: .activeSpeaker, participant: name)
        case .subscriberOffer(let sdp): self.init(type: .subscriberOffer, sdp: sdp)
        case .connectionState(let role, let state): self.init(type: .connectionState, peerConnection: role.rawValue, state: state.rawValue)
        }
    }

    public static func error(_ error: SignalingError) -> ServerMessage {
        ServerMessage(type: .error, code: error.code, message: error.description)
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain structs cannot fail.
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error"}"#
    }
}

/// Why the server refused a signaling message or connection. `code` is stable for clients.
public enum SignalingError: Error, Equatable, Sendable, CustomStringConvertible {
    case messageTooLarge(Int)
    case malformedMessage(String)
    case missingField(String, String)
    /// No token in the URL and the first message was not a `join` with one.
    case unauthenticated
    case invalidToken(String)
    /// A participant token is needed, for one meeting.
    case notAParticipantToken
    /// The token lacks the grant the request needs (`publish` or `subscribe`).
    case missingGrant(String)
    /// The node refused the participant (e.g. the meeting is not placed here).
    case notAdmitted(String)
    /// A message that needs `join` first, or a second `join`.
    case unexpected(String)
    case media(MediaSessionError)
    /// The session's token expired and no `refresh` came: the session ends.
    case tokenExpired

    public var code: String {
        switch self {
        case .messageTooLarge: "message_too_large"
        case .malformedMessage, .missingField: "bad_message"
        case .unauthenticated: "unauthenticated"
        case .invalidToken: "invalid_token"
        case .notAParticipantToken: "forbidden"
        case .missingGrant: "missing_grant"
        case .notAdmitted: "not_admitted"
        case .unexpected: "unexpected_message"
        case .tokenExpired: "token_expired"
        case .media(.negotiation): "negotiation_failed"
        case .media(.endToEndEncryptionRequired): "e2ee_required"
        case .media(.unknownParticipant): "unknown_participant"
        case .media(.mediaKeyTooLarge): "bad_message"
        case .media: "media_error"
        }
    }

    /// Errors after which the connection is closed.
    public var isFatal: Bool {
        switch self {
        case .unauthenticated, .invalidToken, .notAParticipantToken, .notAdmitted, .tokenExpired: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .messageTooLarge(let size): "message of \(size) bytes exceeds \(ClientMessage.maximumSize)"
        case .malformedMessage(let what): "malformed message: \(what)"
        case .missingField(let type, let field): "\(type) needs \(field)"
        case .unauthenticated: "send {\"type\":\"join\",\"token\":...} first, or connect with ?token="
        case .invalidToken(let why): "token refused: \(why)"
        case .notAParticipantToken: "a participant token for one meeting is required"
        case .missingGrant(let grant): "the token does not grant \"\(grant)\""
        case .notAdmitted(let why): "not admitted on this node: \(why)"
        case .unexpected(let what): what
        case .media(let error): error.description
        case .tokenExpired: "the session's token expired; join again with a new one (or send refresh before it expires)"
        }
    }
}
