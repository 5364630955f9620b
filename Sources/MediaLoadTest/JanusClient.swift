import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why talking to Janus failed.
public struct JanusError: Error, CustomStringConvertible {
    public var what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "janus: \(what)" }
}

/// One message Janus sends over its HTTP API (https://janus.conf.meetecho.com/docs/rest.html):
/// a reply to a request (`success`, `ack`, `error`) or an event from the long poll (`event`,
/// `webrtcup`, `media`, `trickle`, `hangup`, `keepalive`, …). Only the fields the load test
/// reads are decoded.
struct JanusMessage: Decodable, Sendable {
    struct IDData: Decodable, Sendable { var id: UInt64 }
    struct PluginData: Decodable, Sendable {
        var plugin: String?
        var data: VideoRoomData
    }
    /// The VideoRoom plugin's payload (https://janus.conf.meetecho.com/docs/videoroom.html).
    struct VideoRoomData: Decodable, Sendable {
        var videoroom: String?
        var room: UInt64?
        var id: UInt64?
        var configured: String?
        var started: String?
        var error: String?
        var error_code: Int?
    }
    struct JSEP: Codable, Sendable {
        var type: String
        var sdp: String
    }
    struct ErrorBody: Decodable, Sendable {
        var code: Int
        var reason: String
    }
    struct TrickleCandidate: Decodable, Sendable {
        var candidate: String?
        var completed: Bool?
    }

    var janus: String
    var transaction: String?
    var sender: UInt64?
    var data: IDData?
    var plugindata: PluginData?
    var jsep: JSEP?
    var error: ErrorBody?
    var candidate: TrickleCandidate?
}

/// A Janus session over the HTTP API: requests are POSTs; asynchronous events (the
/// VideoRoom's `joined`, `attached` with Janus's offer, `configured` with its answer …)
/// arrive on a long poll (`GET /janus/<session>?maxev=N`) that this actor runs and
/// dispatches per handle.
actor JanusSession {
    let base: URL
    let id: UInt64
    private let http: URLSession
    private var continuations: [UInt64: AsyncStream<JanusMessage>.Continuation] = [:]
    private var poll: Task<Void, Never>?
    private var counter = 0

    /// `POST {"janus":"create"}` at `base` (e.g. `http://127.0.0.1:8088/janus`).
    static func create(base: URL) async throws -> JanusSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 8
        configuration.timeoutIntervalForRequest = 60
        let http = URLSession(configuration: configuration)
        let reply = try await post(http, base, Data(#"{"janus":"create","transaction":"create"}"#.utf8))
        guard reply.janus == "success", let id = reply.data?.id else { throw JanusError("create session: \(reply.janus) \(reply.error?.reason ?? "")") }
        let session = JanusSession(base: base, id: id, http: http)
        await session.startPolling()
        return session
    }

    private init(base: URL, id: UInt64, http: URLSession) {
        self.base = base
        self.id = id
        self.http = http
    }

    /// Attaches the VideoRoom plugin; returns the handle and its event stream.
    func attachVideoRoom() async throws -> (handle: UInt64, events: AsyncStream<JanusMessage>) {
        let reply = try await request(["janus": "attach", "plugin": "janus.plugin.videoroom"], path: "\(id)")
        guard reply.janus == "success", let handle = reply.data?.id else { throw JanusError("attach videoroom: \(reply.janus) \(reply.error?.reason ?? "")") }
        let (stream, continuation) = AsyncStream<JanusMessage>.makeStream()
        continuations[handle] = continuation
        return (handle, stream)
    }

    /// A plugin message on `handle` (with a JSEP offer or answer when given). Synchronous
    /// requests (`create`, `destroy`) come back as `success`; `join`/`configure`/`start` as
    /// `ack`, their result later as an event.
    func message(_ handle: UInt64, _ body: [String: any Sendable], jsep: JanusMessage.JSEP? = nil) async throws -> JanusMessage {
        var envelope: [String: Any] = ["janus": "message", "body": body.mapValues { $0 as Any }]
        if let jsep { envelope["jsep"] = ["type": jsep.type, "sdp": jsep.sdp] }
        let reply = try await request(envelope, path: "\(id)/\(handle)")
        guard reply.janus == "success" || reply.janus == "ack" else {
            throw JanusError("\(body["request"] ?? "message"): \(reply.janus) \(reply.error.map { "\($0.code) \($0.reason)" } ?? "")")
        }
        return reply
    }

    /// `trickle` with `{"completed": true}`: all our candidates were in the SDP.
    func trickleCompleted(_ handle: UInt64) async throws {
        _ = try await request(["janus": "trickle", "candidate": ["completed": true]], path: "\(id)/\(handle)")
    }

    func destroy() async {
        poll?.cancel()
        _ = try? await request(["janus": "destroy"], path: "\(id)")
        for continuation in continuations.values { continuation.finish() }
        http.invalidateAndCancel()
    }

    private func request(_ body: [String: Any], path: String) async throws -> JanusMessage {
        counter += 1
        var body = body
        body["transaction"] = "t\(counter)"
        return try await Self.post(http, base.appendingPathComponent(path), try JSONSerialization.data(withJSONObject: body))
    }

    private static func post(_ http: URLSession, _ url: URL, _ body: Data) async throws -> JanusMessage {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        let (data, response) = try await http.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw JanusError("HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0) from \(url)") }
        do { return try JSONDecoder().decode(JanusMessage.self, from: data) } catch {
            throw JanusError("unreadable reply from \(url): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }

    private func startPolling() {
        let url = URL(string: "\(base.absoluteString)/\(id)?maxev=16")!
        let http = self.http
        poll = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    let (data, _) = try await http.data(from: url)
                    let messages = (try? JSONDecoder().decode([JanusMessage].self, from: data))
                        ?? (try? JSONDecoder().decode(JanusMessage.self, from: data)).map { [$0] } ?? []
                    await self?.dispatch(messages)
                } catch {
                    if Task.isCancelled { return }
                    try? await Task.sleep(for: .milliseconds(50))  // a failed poll is retried, not spun
                }
            }
        }
    }

    private func dispatch(_ messages: [JanusMessage]) {
        for message in messages {
            guard let sender = message.sender else { continue }
            continuations[sender]?.yield(message)
        }
    }
}

/// The next event on `events` that `accept` takes, within `limit`; a VideoRoom `error`
/// event fails at once with Janus's reason.
func nextJanusEvent<T: Sendable>(_ events: AsyncStream<JanusMessage>, _ what: String, limit: Duration = .seconds(10),
                                 _ accept: @escaping @Sendable (JanusMessage) -> T?) async throws -> T {
    try await within(limit, what) {
        for await event in events {
            if let error = event.plugindata?.data.error {
                throw JanusError("\(what): \(event.plugindata?.data.error_code ?? 0) \(error)")
            }
            if let value = accept(event) { return value }
        }
        throw JanusError("the session's events ended before \(what)")
    }
}
