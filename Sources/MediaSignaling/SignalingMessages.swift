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
    }

    public var type: Kind
    public var token: String?
    public var autoSubscribe: Bool?
    public var sdp: String?
    public var tracks: [String]?
    public var subscribe: Bool?
    public var track: String?
    public var muted: Bool?

    public init(type: Kind, token: String? = nil, autoSubscribe: Bool? = nil, sdp: String? = nil, tracks: [String]? = nil,
                subscribe: Bool? = nil, track: String? = nil, muted: Bool? = nil) {
        self.type = type
        self.token = token
        self.autoSubscribe = autoSubscribe
        self.sdp = sdp
        self.tracks = tracks
        self.subscribe = subscribe
        self.track = track
        self.muted = muted
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
        case .join, .leave:
            break
        }
        return message
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

    public init(type: Kind, participant: String? = nil, meeting: String? = nil, node: [String: String]? = nil, sdp: String? = nil,
                track: MediaTrackInfo? = nil, trackID: String? = nil, muted: Bool? = nil, peerConnection: String? = nil,
                state: String? = nil, code: String? = nil, message: String? = nil) {
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
    }

    public init(_ event: MediaEvent) {
        switch event {
        case .participantJoined(let info): self.init(type: .participantJoined, participant: info.name)
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
        case .media(.negotiation): "negotiation_failed"
        case .media: "media_error"
        }
    }

    /// Errors after which the connection is closed.
    public var isFatal: Bool {
        switch self {
        case .unauthenticated, .invalidToken, .notAParticipantToken, .notAdmitted: true
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
        }
    }
}
