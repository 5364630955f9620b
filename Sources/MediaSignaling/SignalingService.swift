public import AccessTokens
import Foundation
public import Hummingbird
public import HummingbirdWebSocket
import Logging
public import MediaNIO

/// Who asks to be admitted to a meeting on this node (for ``RTCSignaling/admit``).
public struct AdmissionRequest: Sendable, Equatable {
    public var tenant: String
    public var meeting: String
    public var participant: String
}

/// A participant's session on this node began or ended (for the node's transparency log:
/// the media of `meeting` is processed here from `joined` to `left`).
public enum SessionChange: String, Sendable, Equatable {
    case joined
    case left
}

/// Thrown by ``RTCSignaling/admit`` when the participant's media belongs on another node:
/// the client is sent `reconnect` (to `edge`, or to ask again after `retryAfterMilliseconds`
/// while the meeting is re-placed) instead of an error, and the socket is closed.
public struct SignalingRedirect: Error, Sendable, Equatable, CustomStringConvertible {
    /// `node`, `region`, `jurisdiction`, `signaling` (a ws:// or wss:// URL).
    public var edge: [String: String]?
    public var retryAfterMilliseconds: Int?
    public var reason: String
    public init(edge: [String: String]? = nil, retryAfterMilliseconds: Int? = nil, reason: String) {
        self.edge = edge
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.reason = reason
    }
    public var description: String { reason }
    var message: ServerMessage {
        ServerMessage(type: .reconnect, message: reason, edge: edge, retryAfter: edge == nil ? retryAfterMilliseconds ?? 500 : nil)
    }
}

/// The signaling sessions open on this node, so the node can move them: when a meeting is
/// re-placed or the node drains, each participant whose edge changed is told `reconnect`
/// and its socket is closed (issue 7, "client reconnect driven by signaling").
public actor SignalingSessions {
    struct Key: Hashable { var tenant: String; var meeting: String; var participant: String }
    private var open: [Key: (id: ObjectIdentifier, send: @Sendable (SignalingConnection.Outgoing) -> Void)] = [:]

    public init() {}

    final class Token: Sendable {}

    func register(_ request: AdmissionRequest, _ token: Token, send: @escaping @Sendable (SignalingConnection.Outgoing) -> Void) {
        let key = Key(tenant: request.tenant, meeting: request.meeting, participant: request.participant)
        // A second socket for the same participant replaces the first (a client that reconnected).
        open[key]?.send(.close)
        open[key] = (ObjectIdentifier(token), send)
    }

    func unregister(_ request: AdmissionRequest, _ token: Token) {
        let key = Key(tenant: request.tenant, meeting: request.meeting, participant: request.participant)
        if open[key]?.id == ObjectIdentifier(token) { open[key] = nil }
    }

    /// The participants of a meeting with a session here.
    public func participants(tenant: String, meeting: String) -> [String] {
        open.keys.filter { $0.tenant == tenant && $0.meeting == meeting }.map(\.participant).sorted()
    }

    /// Tells one participant to reconnect elsewhere and closes its session. False when it has none here.
    @discardableResult
    public func redirect(tenant: String, meeting: String, participant: String, _ redirect: SignalingRedirect) -> Bool {
        guard let session = open.removeValue(forKey: Key(tenant: tenant, meeting: meeting, participant: participant)) else { return false }
        session.send(.message(redirect.message))
        session.send(.close)
        return true
    }
}

/// WebSocket signaling for the media service (issue 6): `GET /v1/rtc`, authenticated with
/// a participant token, JSON messages (docs/signaling.md).
///
/// The node composes it: `RTCSignaling(media:verifier:node:admit:).register(on: router)`
/// with a router whose context supports WebSocket upgrades, served with
/// `.http1WebSocketUpgrade(webSocketRouter: router)`.
public struct RTCSignaling: Sendable {
    public let media: MediaServer
    public let verifier: AccessTokenVerifier
    /// Shown to clients in `joined` (e.g. `region`, `jurisdiction`): where their media goes.
    public let node: [String: String]
    /// Refuses a participant this node must not serve (its meeting is placed elsewhere, the
    /// tenant's residency policy excludes this jurisdiction…). Throwing sends `not_admitted`
    /// with the error's description and closes the socket. Tests allow everyone.
    public let admit: @Sendable (AdmissionRequest) async throws -> Void
    /// Told when an admitted participant's media session starts and ends on this node.
    public let observe: @Sendable (AdmissionRequest, SessionChange) async -> Void
    /// Other nodes a participant may reconnect through if this one goes away (sent in `joined`).
    public let alternates: @Sendable (AdmissionRequest) async -> [[String: String]]
    /// The open sessions, for the node to move them.
    public let sessions = SignalingSessions()

    public init(media: MediaServer, verifier: AccessTokenVerifier, node: [String: String] = [:],
                admit: @escaping @Sendable (AdmissionRequest) async throws -> Void = { _ in },
                observe: @escaping @Sendable (AdmissionRequest, SessionChange) async -> Void = { _, _ in },
                alternates: @escaping @Sendable (AdmissionRequest) async -> [[String: String]] = { _ in [] }) {
        self.media = media
        self.verifier = verifier
        self.node = node
        self.admit = admit
        self.observe = observe
        self.alternates = alternates
    }

    /// The meeting name ``MediaServer`` knows a tenant's meeting by (tenants' meeting ids
    /// may collide, so both are in it).
    public static func mediaMeeting(tenant: String, meeting: String) -> String { "\(tenant)/\(meeting)" }

    /// Adds `GET /v1/rtc` (`?token=` optional; else the first message is `join` with it).
    public func register<Context: WebSocketRequestContext>(on router: Router<Context>, path: RouterPath = "/v1/rtc") {
        let signaling = self
        router.ws(path, shouldUpgrade: { request, _ in
            // A token in the URL is checked before upgrading, so a bad one is a plain 401.
            if let token = request.uri.queryParameters["token"] {
                do throws(SignalingError) { _ = try signaling.authorize(String(token)) } catch {
                    throw HTTPError(.unauthorized, message: error.description)
                }
            }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            let token = context.request.uri.queryParameters["token"].map(String.init)
            let connection = SignalingConnection(signaling: signaling, logger: context.logger)
            await connection.run(inbound: inbound, outbound: outbound, urlToken: token)
        })
    }

    /// Verifies a participant token for one meeting.
    func authorize(_ token: String) throws(SignalingError) -> AccessClaims {
        let claims: AccessClaims
        do { claims = try verifier.verify(token) } catch { throw .invalidToken(error.description) }
        guard claims.role == .participant, let meeting = claims.meeting, !meeting.isEmpty else { throw .notAParticipantToken }
        return claims
    }
}

/// One client's signaling socket: authenticate, admit, join, then relay messages to the
/// media service and its events back, until the client leaves or the socket closes.
struct SignalingConnection {
    let signaling: RTCSignaling
    let logger: Logger

    /// What the writer sends: a message, or the close handshake (after which the client's
    /// close ends the inbound stream, and with it the session).
    enum Outgoing: Sendable {
        case message(ServerMessage)
        case close
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, urlToken: String?) async {
        let (replies, replyContinuation) = AsyncStream<Outgoing>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            // One writer, so replies and events never interleave mid-frame.
            group.addTask {
                for await outgoing in replies {
                    switch outgoing {
                    case .message(let message):
                        do { try await outbound.write(.text(message.json())) } catch { return }
                    case .close:
                        try? await outbound.close(.normalClosure, reason: nil)
                        return
                    }
                }
            }
            await serve(inbound: inbound, urlToken: urlToken, reply: replyContinuation, group: &group)
            replyContinuation.finish()
            await group.waitForAll()
        }
    }

    private func serve(inbound: WebSocketInboundStream, urlToken: String?, reply outgoing: AsyncStream<Outgoing>.Continuation,
                       group: inout TaskGroup<Void>) async {
        let reply = Replies(outgoing)
        var messages = inbound.messages(maxSize: ClientMessage.maximumSize).makeAsyncIterator()
        func nextText() async -> String? {
            while true {
                guard let message = try? await messages.next() else { return nil }
                if case .text(let text) = message { return text }
            }
        }

        // 1. Authenticate: the URL token, or a first `join` message carrying one.
        var firstJoin: ClientMessage?
        let claims: AccessClaims
        do throws(SignalingError) {
            var token = urlToken
            if token == nil {
                guard let text = await nextText() else { return }
                let message = try ClientMessage.decode(text)
                guard message.type == .join, let carried = message.token else { throw .unauthenticated }
                firstJoin = message
                token = carried
            }
            claims = try signaling.authorize(token!)
        } catch {
            reply.yield(.error(error))
            return
        }
        let tenant = claims.tenant ?? ""
        let meetingName = claims.meeting!
        let participant = claims.sub
        // Meetings are keyed by tenant too: two tenants may both have a meeting "standup".
        let meeting = RTCSignaling.mediaMeeting(tenant: tenant, meeting: meetingName)
        let admission = AdmissionRequest(tenant: tenant, meeting: meetingName, participant: participant)

        // 2. Admission by the node (placement, residency); a participant whose edge is
        // another node is sent there.
        do {
            try await signaling.admit(admission)
        } catch let redirect as SignalingRedirect {
            reply.yield(redirect.message)
            return
        } catch {
            reply.yield(.error(.notAdmitted("\(error)")))
            return
        }

        // 3. Join (the URL-token client still sends `join` to choose autoSubscribe).
        if firstJoin == nil {
            guard let text = await nextText() else { return }
            do throws(SignalingError) {
                let message = try ClientMessage.decode(text)
                guard message.type == .join else { throw .unexpected("the first message must be join") }
                firstJoin = message
            } catch {
                reply.yield(.error(error))
                return
            }
        }
        let canSubscribe = claims.grants.contains("subscribe")
        let canPublish = claims.grants.contains("publish")
        // Validated by ClientMessage.decode; re-encoded so every roster shows one spelling.
        let identityKey = firstJoin?.e2ee.flatMap { e2ee in
            (try? ClientMessage.identityKey(e2ee.identityKey)).map { Data($0).base64EncodedString() }
        }
        let events: AsyncStream<MediaEvent>
        do throws(MediaSessionError) {
            events = try await signaling.media.join(meeting: meeting, participant: participant,
                                                    autoSubscribe: canSubscribe && (firstJoin?.autoSubscribe ?? true),
                                                    identityKey: identityKey, node: signaling.node["node"])
        } catch {
            reply.yield(.error(.media(error)))
            return
        }
        await signaling.observe(admission, .joined)
        // The session lasts as long as its token (plus the verifier's leeway), unless refreshed.
        let lifetime = SessionLifetime(claims: claims, leeway: signaling.verifier.leewaySeconds)
        let registration = SignalingSessions.Token()
        await signaling.sessions.register(admission, registration) { outgoing.yield($0) }
        let expiry = Task {
            while !Task.isCancelled {
                let remaining = Double(await lifetime.end) - Date().timeIntervalSince1970
                if remaining <= 0 {
                    reply.yield(.error(.tokenExpired))
                    outgoing.yield(.close)
                    return
                }
                try? await Task.sleep(for: .milliseconds(Int64(remaining * 1000) + 1))
            }
        }
        defer { expiry.cancel() }
        let e2ee = ServerMessage.EndToEndEncryption(required: await signaling.media.endToEndEncryptionRequired(meeting: meeting),
                                                    slot: await signaling.media.senderSlot(meeting: meeting, participant: participant) ?? 0,
                                                    meeting: meeting)
        reply.yield(ServerMessage(type: .joined, participant: participant, meeting: meetingName, node: signaling.node, e2ee: e2ee,
                                  expiresAt: await lifetime.end, alternates: await signaling.alternates(admission)))
        group.addTask {
            for await event in events { reply.yield(ServerMessage(event)) }
        }
        logger.info("participant joined a media session")

        // 4. Requests until leave or close; then the session ends the same way for both.
        requests: while let text = await nextText() {
            do throws(SignalingError) {
                let message = try ClientMessage.decode(text)
                switch message.type {
                case .join:
                    throw .unexpected("already joined")
                case .leave:
                    break requests
                case .refresh:
                    let renewed = try signaling.authorize(message.token!)
                    guard renewed.tenant == claims.tenant, renewed.meeting == claims.meeting, renewed.sub == claims.sub else {
                        throw .invalidToken("a refresh token must name the same tenant, meeting and participant")
                    }
                    await lifetime.extend(to: renewed)
                    reply.yield(ServerMessage(type: .refreshed, expiresAt: await lifetime.end))
                case .publish:
                    guard canPublish else { throw .missingGrant("publish") }
                    let answer = try await mediaCall { () async throws(MediaSessionError) in
                        try await signaling.media.publish(meeting: meeting, participant: participant, offer: message.sdp!)
                    }
                    reply.yield(ServerMessage(type: .publishAnswer, sdp: answer))
                case .subscriberAnswer:
                    try await mediaCall { () async throws(MediaSessionError) in
                        try await signaling.media.answerSubscriber(meeting: meeting, participant: participant, answer: message.sdp!)
                    }
                case .subscribe:
                    let subscribe = message.subscribe ?? true
                    guard canSubscribe || !subscribe else { throw .missingGrant("subscribe") }
                    try await mediaCall { () async throws(MediaSessionError) in
                        try await signaling.media.subscribe(meeting: meeting, participant: participant, tracks: message.tracks!, subscribe: subscribe)
                    }
                case .mediaKey:
                    let envelope = try ClientMessage.mediaKeyEnvelope(message.envelope!)
                    try await mediaCall { () async throws(MediaSessionError) in
                        try await signaling.media.relayMediaKey(meeting: meeting, from: participant, to: message.to!, envelope: envelope)
                    }
                case .mute:
                    guard canPublish else { throw .missingGrant("publish") }
                    try await mediaCall { () async throws(MediaSessionError) in
                        try await signaling.media.setMuted(meeting: meeting, participant: participant, track: message.track!, muted: message.muted!)
                    }
                }
            } catch {
                reply.yield(.error(error))
            }
        }
        await signaling.sessions.unregister(admission, registration)
        await signaling.media.leave(meeting: meeting, participant: participant)
        await signaling.observe(admission, .left)
    }

    /// Replies to the client (as messages for the one writer).
    struct Replies: Sendable {
        let outgoing: AsyncStream<Outgoing>.Continuation
        init(_ outgoing: AsyncStream<Outgoing>.Continuation) { self.outgoing = outgoing }
        func yield(_ message: ServerMessage) { outgoing.yield(.message(message)) }
    }

    /// When a session ends: its token's `exp` plus leeway, moved by each accepted `refresh`
    /// (never earlier: a refresh with a shorter token does not cut a session short).
    actor SessionLifetime {
        private(set) var end: Int64
        private let leeway: Int64
        init(claims: AccessClaims, leeway: Int64) {
            self.leeway = leeway
            end = claims.exp + leeway
        }
        func extend(to claims: AccessClaims) { end = max(end, claims.exp + leeway) }
    }

    private func mediaCall<T>(_ body: () async throws(MediaSessionError) -> T) async throws(SignalingError) -> T {
        do { return try await body() } catch { throw .media(error) }
    }
}
