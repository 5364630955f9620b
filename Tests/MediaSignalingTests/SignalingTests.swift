import AccessTokens
import DemarcTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWebSocket
import MediaLoadTest
import MediaNIO
import MediaSignaling
import SodiumWrapper
import Testing

/// A node's media + signaling on loopback, with a token key of its own.
struct TestNode {
    let key: Ed25519.PrivateKey
    let media: MediaServer
    let signaling: RTCSignaling

    init(node: [String: String] = ["region": "eu-de-fra", "jurisdiction": "DE"], key: Ed25519.PrivateKey = .init(), leewaySeconds: Int64 = 30,
         admit: @escaping @Sendable (AdmissionRequest) async throws -> Void = { _ in },
         observe: @escaping @Sendable (AdmissionRequest, SessionChange) async -> Void = { _, _ in },
         alternates: @escaping @Sendable (AdmissionRequest) async -> [[String: String]] = { _ in [] }) throws {
        self.key = key
        var configuration = MediaServerConfiguration()
        configuration.bindHost = "127.0.0.1"
        media = try MediaServer(configuration: configuration)
        let verifier = AccessTokenVerifier(keys: [nil: key.publicKey], issuers: ["demarc.test"], audience: "demarc", leewaySeconds: leewaySeconds)
        signaling = RTCSignaling(media: media, verifier: verifier, node: node, admit: admit, observe: observe, alternates: alternates)
    }

    func token(_ identity: String, meeting: String = "m1", grants: [String] = ["publish", "subscribe"], role: AccessRole = .participant,
               lifetime: Int64 = 600) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        return try AccessTokenIssuer(key: key).issue(AccessClaims(
            iss: "demarc.test", sub: identity, aud: "demarc", tenant: "acme", meeting: meeting, role: role,
            grants: grants, iat: now, nbf: now - 5, exp: now + lifetime))
    }

    func application(webClient: Bool = false) -> some ApplicationProtocol {
        let router = Router(context: BasicWebSocketRequestContext.self)
        if webClient { router.add(middleware: FileMiddleware(Fixtures.path("Web"), searchForIndexHtml: true)) }
        signaling.register(on: router)
        return Application(router: router, server: .http1WebSocketUpgrade(webSocketRouter: router),
                           configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [media])
    }
}

/// Runs a Python script from Tests/Interop with a deadline; returns its exit status and stdout.
func runPython(_ script: String, _ arguments: [String], deadline: Duration = .seconds(120)) async throws -> (status: Int32, stdout: String, stderr: String) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", root.appendingPathComponent("Tests/Interop/\(script)").path] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch { continuation.resume(throwing: error) }
        let pid = process.processIdentifier
        Task {
            try? await Task.sleep(for: deadline)
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (status, stdout, stderr)
}

struct InteropReport: Decodable {
    struct Subscriber: Decodable {
        var name: String
        var offers: Int
        var tracks: [String]
        var videoFrames: Int
        var audioFrames: Int
        var resolutions: [String]
        var maxGapSeconds: Double?
        var relayDropped: Int?
    }
    var node: [String: String]?
    var subscribers: [Subscriber]
    var failures: [String]
}

@Suite("Interop with aiortc", .serialized)
struct AiortcInteropTests {
    /// An aiortc publisher sends generated 640×480 video and audio; two aiortc subscribers,
    /// one joined before the publisher (so its subscriber connection is renegotiated) and
    /// one after, receive both through the SFU and decode them.
    @Test func aiortcPublisherReachesTwoAiortcSubscribers() async throws {
        let node = try TestNode()
        let tokens = (try node.token("alice@acme.example"),
                      try node.token("bob@acme.example", grants: ["subscribe"]),
                      try node.token("carol@acme.example", grants: ["subscribe"]))
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("interop.py", [
                "--url", "ws://127.0.0.1:\(port)/v1/rtc", "--publisher", tokens.0,
                "--subscriber", tokens.1, "--subscriber", tokens.2, "--seconds", "6", "--early-subscribers", "1",
            ])
            let statistics = await node.media.statistics()
            print("aiortc interop report: \(result.stdout)statistics: \(statistics)")
            let report = try? JSONDecoder().decode(InteropReport.self, from: Data(result.stdout.utf8))
            #expect(result.status == 0, "interop.py failed: \(result.stdout)\n\(result.stderr.suffix(3000))\n\(statistics)")
            let parsed = try #require(report, "no report: \(result.stdout)\n\(result.stderr.suffix(3000))")
            #expect(parsed.failures.isEmpty)
            #expect(parsed.node == ["region": "eu-de-fra", "jurisdiction": "DE"])
            #expect(parsed.subscribers.count == 2)
            for subscriber in parsed.subscribers {
                #expect(subscriber.tracks == ["audio", "video"])
                #expect(subscriber.videoFrames >= 40)
                #expect(subscriber.audioFrames > 0)
                #expect(subscriber.resolutions == ["640x480"])
                #expect((subscriber.maxGapSeconds ?? 99) <= 1.5)
            }
            #expect(statistics.rtpForwarded > 0)
            #expect(statistics.dtlsConnected >= 3)
        }
    }
}

extension AiortcInteropTests {
    /// 10 % of the SFU's RTP to one subscriber is dropped by a relay in front of it: the SFU
    /// answers the subscriber's NACKs with RTX from its cache, and video keeps decoding.
    @Test func nackAndRTXRecoverDownlinkLoss() async throws {
        let node = try TestNode()
        let tokens = (try node.token("pat@acme.example"), try node.token("lou@acme.example", grants: ["subscribe"]))
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("interop.py", [
                "--url", "ws://127.0.0.1:\(port)/v1/rtc", "--publisher", tokens.0, "--subscriber", tokens.1,
                "--seconds", "6", "--early-subscribers", "0", "--loss-percent", "10", "--max-gap", "2.0",
            ])
            let statistics = await node.media.statistics()
            print("lossy interop report: \(result.stdout)statistics: \(statistics)")
            #expect(result.status == 0, "interop.py failed: \(result.stdout)\n\(result.stderr.suffix(3000))\n\(statistics)")
            #expect(statistics.rtpRetransmitted > 0, "no retransmissions: \(statistics)")
            let report = try JSONDecoder().decode(InteropReport.self, from: Data(result.stdout.utf8))
            #expect((report.subscribers.first?.relayDropped ?? 0) > 20, "the relay dropped too little to test recovery")
        }
    }
}

@Suite("Interop with headless Chromium", .serialized)
struct ChromiumInteropTests {
    /// The web client in headless Chromium (fake camera and microphone) joins with a token,
    /// shows the node's jurisdiction, decodes an aiortc publisher's video, and its own camera
    /// reaches an aiortc subscriber (Tests/Interop/chromium_check.py).
    /// With `simulcast`, Chromium sends three rid layers; the SFU learns their SSRCs from the
    /// rid header extension and forwards one layer to the aiortc subscriber.
    @Test(arguments: [false, true])
    func webClientInHeadlessChromiumSendsAndReceives(simulcast: Bool) async throws {
        let node = try TestNode()
        let tokens = (try node.token("pub@acme.example"), try node.token("browser@acme.example"),
                      try node.token("sub@acme.example", grants: ["subscribe"]))
        try await node.application(webClient: true).test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("chromium_check.py", [
                "--http", "http://localhost:\(port)", "--publisher", tokens.0, "--browser", tokens.1, "--subscriber", tokens.2,
            ] + (simulcast ? ["--simulcast"] : []))
            let statistics = await node.media.statistics()
            print("chromium interop report: \(result.stdout)statistics: \(statistics)")
            #expect(result.status == 0, "chromium_check.py: \(result.stdout)\n\(result.stderr.suffix(3000))\n\(statistics)")
            // Chromium negotiates transport-cc; the SFU must feed its send-side estimator.
            #expect(statistics.transportFeedbackSent > 0)
        }
    }
}

extension ChromiumInteropTests {
    /// The web client follows the server's `reconnect` (Tests/Interop/chromium_reconnect_check.py):
    /// node A sends it away without an edge, so it asks the alternates `joined` listed (B); B is
    /// not its edge and answers `reconnect` with C; at C it publishes and decodes again.
    @Test func webClientReconnectsWhereTheServerSendsIt() async throws {
        let key = Ed25519.PrivateKey()
        actor Ports { var b = 0, c = 0; func set(b: Int? = nil, c: Int? = nil) { if let b { self.b = b }; if let c { self.c = c } } }
        let ports = Ports()
        let a = try TestNode(node: ["node": "A", "region": "eu-de-fra", "jurisdiction": "DE"], key: key,
                             alternates: { _ in [["node": "B", "signaling": "ws://127.0.0.1:\(await ports.b)/v1/rtc"]] })
        let b = try TestNode(node: ["node": "B", "region": "eu-ie-dub", "jurisdiction": "IE"], key: key, admit: { _ in
            throw SignalingRedirect(edge: ["node": "C", "signaling": "ws://127.0.0.1:\(await ports.c)/v1/rtc"], reason: "your edge is C")
        })
        let c = try TestNode(node: ["node": "C", "region": "eu-ch-zrh", "jurisdiction": "CH"], key: key)
        let browser = try a.token("browser@acme.example")
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-reconnect-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: ready) }
        try await a.application(webClient: true).test(.live) { clientA in
            try await b.application().test(.live) { clientB in
                try await c.application().test(.live) { clientC in
                    let (pa, pb, pc) = (try #require(clientA.port), try #require(clientB.port), try #require(clientC.port))
                    await ports.set(b: pb, c: pc)
                    async let check = runPython("chromium_reconnect_check.py", [
                        "--http-a", "http://localhost:\(pa)", "--url-c", "ws://127.0.0.1:\(pc)/v1/rtc",
                        "--publisher-a", try a.token("pub-a@acme.example"), "--publisher-c", try a.token("pub-c@acme.example"),
                        "--browser", browser, "--ready-file", ready,
                    ])
                    // Once Chromium decodes at A, A sends it away (as a drain or a re-placement would).
                    var sent = false
                    do {
                        try await within(.seconds(90), "Chromium to decode at A") {
                            while !FileManager.default.fileExists(atPath: ready) { try await Task.sleep(for: .milliseconds(50)) }
                        }
                        sent = await a.signaling.sessions.redirect(tenant: "acme", meeting: "m1", participant: "browser@acme.example",
                                                                   SignalingRedirect(retryAfterMilliseconds: 200, reason: "this node is draining"))
                    } catch {}
                    let result = try await check
                    print("chromium reconnect report: \(result.stdout)")
                    #expect(sent, "the browser had no session at A to move")
                    #expect(result.status == 0, "chromium_reconnect_check.py: \(result.stdout)\n\(result.stderr.suffix(3000))")
                }
            }
        }
    }

    struct EndToEndReport: Decodable {
        var failures: [String]
        var summary: [String: AnyJSON]?
    }

    /// Enough of JSON to print a report's summary back.
    enum AnyJSON: Decodable, CustomStringConvertible {
        case value(String)
        case object([String: AnyJSON])
        init(from decoder: any Decoder) throws {
            if let object = try? [String: AnyJSON](from: decoder) { self = .object(object); return }
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Double.self) { self = .value(n == n.rounded() ? String(Int(n)) : String(n)) }
            else if let s = try? c.decode(String.self) { self = .value(s) }
            else if let a = try? c.decode([AnyJSON].self) { self = .value("[\(a.map(\.description).joined(separator: ", "))]") }
            else { self = .value("null") }
        }
        var description: String {
            switch self {
            case .value(let v): v
            case .object(let o): "{" + o.keys.sorted().map { "\($0): \(o[$0]!)" }.joined(separator: ", ") + "}"
            }
        }
    }

    /// End-to-end encryption with the web client in headless Chromium, through the SFU
    /// (Tests/Interop/e2ee_chromium_check.py): two E2EE participants decode each other; one
    /// sealing a wrong key cannot be decrypted; keys rotate when it leaves; a plain client is
    /// refused (`e2ee_required`), one that declares a key but sends plaintext has its media
    /// refused by the SFU; an `e2ee: off` meeting carries plain media. The SFU observed only
    /// SFrame in the required meeting and plaintext in the other.
    @Test func endToEndEncryptedMeetingInHeadlessChromium() async throws {
        let node = try TestNode(node: ["node": "node-test-1", "region": "eu-de-fra", "jurisdiction": "DE"])
        let secure = RTCSignaling.mediaMeeting(tenant: "acme", meeting: "secure")
        let open = RTCSignaling.mediaMeeting(tenant: "acme", meeting: "open")
        await node.media.requireEndToEndEncryption(meeting: secure)
        let arguments = [
            "--alice", try node.token("alice", meeting: "secure"), "--bob", try node.token("bob", meeting: "secure"),
            "--mallory", try node.token("mallory", meeting: "secure"), "--plain", try node.token("plain", meeting: "secure"),
            "--pretender", try node.token("pretender", meeting: "secure"),
            "--open-publisher", try node.token("olive", meeting: "open"), "--open-viewer", try node.token("otto", meeting: "open"),
            "--node", "node-test-1",
        ]
        try await node.application(webClient: true).test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("e2ee_chromium_check.py", ["--http", "http://localhost:\(port)"] + arguments, deadline: .seconds(300))
            let statistics = await node.media.statistics()
            let report = try? JSONDecoder().decode(EndToEndReport.self, from: Data(result.stdout.utf8))
            #expect(result.status == 0, "e2ee_chromium_check.py: \(result.stdout.suffix(6000))\n\(result.stderr.suffix(3000))\n\(statistics)")
            #expect(report?.failures == [], "\(report?.failures ?? [])")
            // The pretender's plaintext reached the SFU and was refused there, never forwarded.
            try await within(.seconds(10), "the pretender's media to be refused") {
                while await node.media.statistics().e2eeViolations == 0 { try Task.checkCancellation(); await Task.yield() }
            }
            #expect(await node.media.endToEndEncryptionObserved(meeting: secure) == true)
            #expect(await node.media.endToEndEncryptionObserved(meeting: open) == false)
            print("e2ee chromium summary: \(report?.summary.map { s in s.keys.sorted().map { "\($0)=\(s[$0]!)" }.joined(separator: "\n  ") } ?? "none")")
            print("e2ee chromium statistics: \(statistics)")
        }
    }
}

@Suite("Signaling")
struct SignalingTests {
    /// Tokens, grants and admission are enforced over a live WebSocket (Tests/Interop/signaling_checks.py).
    @Test func tokensGrantsAndAdmissionAreEnforced() async throws {
        actor Sessions {
            var changes: [String] = []
            func record(_ request: AdmissionRequest, _ change: SessionChange) { changes.append("\(request.participant) \(change.rawValue)") }
        }
        let sessions = Sessions()
        let node = try TestNode(admit: { request in
            struct NotPlacedHere: Error, CustomStringConvertible { var description: String { "meeting elsewhere is placed on another node" } }
            if request.meeting == "elsewhere" { throw NotPlacedHere() }
        }, observe: { request, change in await sessions.record(request, change) })
        let expired: String = try {
            let now = Int64(Date().timeIntervalSince1970)
            return try AccessTokenIssuer(key: node.key).issue(AccessClaims(
                iss: "demarc.test", sub: "eve", aud: "demarc", tenant: "acme", meeting: "m1", role: .participant,
                grants: ["publish"], iat: now - 7200, nbf: now - 7200, exp: now - 3600))
        }()
        let arguments = [
            "--subscribe-only", try node.token("sam", grants: ["subscribe"]),
            "--other-meeting", try node.token("olga", meeting: "elsewhere"),
            "--admin", try node.token("ada", role: .tenantAdmin),
            "--expired", expired,
            "--good", try node.token("gus"),
        ]
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("signaling_checks.py", ["--url", "ws://127.0.0.1:\(port)/v1/rtc"] + arguments, deadline: .seconds(60))
            #expect(result.status == 0, "signaling_checks.py: \(result.stdout)\n\(result.stderr.suffix(3000))")
            // Only admitted, joined sessions are reported, each start with its end (the
            // refused second join of gus is neither).
            try await within(.seconds(10), "the sessions to end") {
                while await sessions.changes.count < 4 { await Task.yield() }
            }
            #expect(await Set(sessions.changes) == ["sam joined", "sam left", "gus joined", "gus left"])
            #expect(await sessions.changes.count == 4)
        }
    }

    /// A session ends when its token expires unless refreshed with a token for the same
    /// participant; a participant whose edge is elsewhere (at admission, or later when the
    /// node moves it) is told `reconnect` and its socket closed (Tests/Interop/session_checks.py).
    @Test func sessionsExpireRefreshAndAreRedirected() async throws {
        let node = try TestNode(leewaySeconds: 0, admit: { request in
            switch request.participant {
            case "mo": throw SignalingRedirect(edge: ["node": "zrh-1", "signaling": "ws://zrh-1.example/v1/rtc"], reason: "mo's edge is zrh-1")
            case "rey": throw SignalingRedirect(retryAfterMilliseconds: 300, reason: "rey's edge is being re-placed")
            default: break
            }
        }, alternates: { _ in [["node": "fra-2", "signaling": "ws://fra-2.example/v1/rtc"]] })
        let short: Int64 = 10
        let arguments = [
            "--short", try node.token("sid", lifetime: short), "--short-refreshed", try node.token("ria", lifetime: short),
            "--long", try node.token("ria"), "--other-participant", try node.token("oz"),
            "--moved", try node.token("mo"), "--retry", try node.token("rey"), "--pushed", try node.token("pia"),
            "--short-seconds", String(short),
        ]
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            async let checks = runPython("session_checks.py", ["--url", "ws://127.0.0.1:\(port)/v1/rtc"] + arguments, deadline: .seconds(90))
            // Once pia is joined, the node moves it.
            var joined = true
            do {
                try await within(.seconds(60), "pia to join") {
                    while await !node.signaling.sessions.participants(tenant: "acme", meeting: "m1").contains("pia") { try await Task.sleep(for: .milliseconds(20)) }
                }
            } catch { joined = false }
            let redirected = await node.signaling.sessions.redirect(tenant: "acme", meeting: "m1", participant: "pia",
                                                                  SignalingRedirect(edge: ["node": "dub-1", "signaling": "ws://dub-1.example/v1/rtc"], reason: "moved"))
            #expect(redirected)
            let result = try await checks
            #expect(joined, "pia never joined")
            #expect(result.status == 0, "session_checks.py: \(result.stdout)\n\(result.stderr.suffix(3000))")
            #expect(await !node.signaling.sessions.participants(tenant: "acme", meeting: "m1").contains("pia"))
        }
    }

    @Test func clientMessagesDecodeOrThrowTypedErrors() throws {
        #expect(try ClientMessage.decode(#"{"type":"publish","sdp":"v=0"}"#) == ClientMessage(type: .publish, sdp: "v=0"))
        #expect(try ClientMessage.decode(#"{"type":"mute","track":"T1","muted":true}"#).muted == true)
        #expect(throws: SignalingError.missingField("publish", "sdp")) { try ClientMessage.decode(#"{"type":"publish"}"#) }
        #expect(throws: SignalingError.missingField("subscribe", "tracks")) { try ClientMessage.decode(#"{"type":"subscribe"}"#) }
        #expect(throws: SignalingError.missingField("refresh", "token")) { try ClientMessage.decode(#"{"type":"refresh"}"#) }
        #expect(throws: SignalingError.malformedMessage("not JSON")) { try ClientMessage.decode("hello") }
        #expect(throws: SignalingError.malformedMessage("bad value at type")) { try ClientMessage.decode(#"{"type":"dance"}"#) }
        #expect(throws: SignalingError.messageTooLarge(ClientMessage.maximumSize + 1)) {
            try ClientMessage.decode(String(repeating: " ", count: ClientMessage.maximumSize + 1))
        }
    }

    /// Seeded mutations of valid messages either decode or throw ``SignalingError``.
    @Test(arguments: [UInt64(7), 8])
    func fuzzedClientMessages(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let valid = [#"{"type":"join","token":"a.b.c","autoSubscribe":false}"#, #"{"type":"publish","sdp":"v=0\r\n"}"#,
                     #"{"type":"mediaKey","to":"bob","envelope":"AQID"}"#,
                     #"{"type":"subscribe","tracks":["T1","T2"],"subscribe":false}"#, #"{"type":"mute","track":"T1","muted":true}"#,
                     #"{"type":"leave"}"#, #"{"type":"refresh","token":"a.b.c"}"#]
        var decoded = 0
        for round in 0..<4000 {
            var bytes = Array(valid[round % valid.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i); if bytes.isEmpty { bytes = [0x7b] }
                default: bytes.insert(UInt8.random(in: 32...126, using: &rng), at: i)
                }
            }
            let outcome = Result { () throws(SignalingError) in try ClientMessage.decode(String(decoding: bytes, as: UTF8.self)) }
            if case .success = outcome { decoded += 1 }
        }
        #expect(decoded > 0)
    }

    /// The E2EE additions over a live WebSocket (Tests/Interop/e2ee_signaling_checks.py).
    @Test func endToEndEncryptionSignaling() async throws {
        let node = try TestNode(node: ["node": "node-test-1", "region": "eu-de-fra", "jurisdiction": "DE"])
        await node.media.requireEndToEndEncryption(meeting: RTCSignaling.mediaMeeting(tenant: "acme", meeting: "secure"))
        let arguments = [
            "--alice", try node.token("alice", meeting: "secure"), "--bob", try node.token("bob", meeting: "secure"),
            "--carol", try node.token("carol", meeting: "secure"), "--node", "node-test-1",
        ]
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("e2ee_signaling_checks.py", ["--url", "ws://127.0.0.1:\(port)/v1/rtc"] + arguments, deadline: .seconds(60))
            #expect(result.status == 0, "e2ee_signaling_checks.py: \(result.stdout)\n\(result.stderr.suffix(3000))")
        }
    }

    @Test func endToEndEncryptionMessagesDecodeOrThrowTypedErrors() throws {
        let key = Data((1...32).map { UInt8($0) }).base64EncodedString()
        #expect(try ClientMessage.decode(#"{"type":"join","e2ee":{"identityKey":"\#(key)"}}"#).e2ee?.identityKey == key)
        #expect(try ClientMessage.identityKey(key) == Array(1...32))
        #expect(throws: SignalingError.malformedMessage("e2ee.identityKey is not base64")) {
            try ClientMessage.decode(#"{"type":"join","e2ee":{"identityKey":"not base64!"}}"#)
        }
        #expect(throws: SignalingError.malformedMessage("e2ee.identityKey is 31 bytes, not the 32 of an X25519 public key")) {
            try ClientMessage.decode(#"{"type":"join","e2ee":{"identityKey":"\#(Data(count: 31).base64EncodedString())"}}"#)
        }
        #expect(throws: SignalingError.malformedMessage("e2ee.identityKey is all zero")) {
            try ClientMessage.decode(#"{"type":"join","e2ee":{"identityKey":"\#(Data(count: 32).base64EncodedString())"}}"#)
        }
        #expect(throws: SignalingError.malformedMessage("missing \"identityKey\"")) { try ClientMessage.decode(#"{"type":"join","e2ee":{}}"#) }

        let envelope = Data(repeating: 1, count: 73).base64EncodedString()
        let relayed = try ClientMessage.decode(#"{"type":"mediaKey","to":"bob","envelope":"\#(envelope)"}"#)
        #expect(relayed == ClientMessage(type: .mediaKey, to: "bob", envelope: envelope))
        #expect(throws: SignalingError.missingField("mediaKey", "to and envelope")) { try ClientMessage.decode(#"{"type":"mediaKey","to":"bob"}"#) }
        #expect(throws: SignalingError.missingField("mediaKey", "to and envelope")) {
            try ClientMessage.decode(#"{"type":"mediaKey","to":"","envelope":"\#(envelope)"}"#)
        }
        #expect(throws: SignalingError.malformedMessage("envelope is 513 bytes, more than 512")) {
            try ClientMessage.decode(#"{"type":"mediaKey","to":"bob","envelope":"\#(Data(count: 513).base64EncodedString())"}"#)
        }
        #expect(throws: SignalingError.malformedMessage("envelope is empty")) { try ClientMessage.decode(#"{"type":"mediaKey","to":"bob","envelope":""}"#) }
        #expect(SignalingError.media(.endToEndEncryptionRequired).code == "e2ee_required")
        #expect(SignalingError.media(.unknownParticipant("x")).code == "unknown_participant")
        #expect(!SignalingError.media(.endToEndEncryptionRequired).isFatal)
    }

    /// Seeded mutations of valid E2EE messages either decode (with a valid key and envelope)
    /// or throw ``SignalingError``.
    @Test(arguments: [UInt64(11), 12])
    func fuzzedEndToEndEncryptionMessages(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let key = Data((1...32).map { UInt8($0) }).base64EncodedString()
        let envelope = Data(repeating: 9, count: 73).base64EncodedString()
        let valid = [#"{"type":"join","e2ee":{"identityKey":"\#(key)"}}"#, #"{"type":"mediaKey","to":"bob","envelope":"\#(envelope)"}"#]
        var decoded = 0
        for round in 0..<4000 {
            var bytes = Array(valid[round % valid.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i); if bytes.isEmpty { bytes = [0x7b] }
                default: bytes.insert(UInt8.random(in: 32...126, using: &rng), at: i)
                }
            }
            let outcome = Result { () throws(SignalingError) in try ClientMessage.decode(String(decoding: bytes, as: UTF8.self)) }
            guard case .success(let message) = outcome else { continue }
            decoded += 1
            // Whatever decoded is usable as is: the key and envelope checks passed.
            if let e2ee = message.e2ee { #expect((try? ClientMessage.identityKey(e2ee.identityKey))?.count == 32) }
            if message.type == .mediaKey { #expect((try? ClientMessage.mediaKeyEnvelope(message.envelope ?? ""))?.isEmpty == false) }
        }
        #expect(decoded > 0)
    }

    @Test func endToEndEncryptionServerMessagesEncodeAndDecode() throws {
        let joined = ServerMessage(type: .joined, participant: "alice", meeting: "m1", node: ["region": "eu-de-fra"],
                                   e2ee: .init(required: true, slot: 77, meeting: "acme/m1"))
        #expect(joined.json() == #"{"e2ee":{"meeting":"acme\/m1","required":true,"slot":77},"meeting":"m1","node":{"region":"eu-de-fra"},"participant":"alice","type":"joined"}"#)
        let info = MediaParticipantInfo(name: "bob", node: "node-2", identityKey: "a2V5", slot: 9)
        let event = ServerMessage(.participantJoined(info))
        #expect(event.json() == #"{"identityKey":"a2V5","node":"node-2","participant":"bob","slot":9,"type":"participantJoined"}"#)
        #expect(ServerMessage(.participantJoined(MediaParticipantInfo(name: "eve"))).json() == #"{"participant":"eve","type":"participantJoined"}"#)
        #expect(ServerMessage(.mediaKey(from: "alice", envelope: [1, 2, 3])).json() == #"{"envelope":"AQID","from":"alice","type":"mediaKey"}"#)
        // Both shapes of `node` read back.
        for message in [joined, event] {
            #expect(try JSONDecoder().decode(ServerMessage.self, from: Data(message.json().utf8)) == message)
        }
    }

    @Test func mediaEventsBecomeServerMessages() {
        let info = MediaTrackInfo(id: "T1", participant: "alice", kind: "video", streamID: nil, trackID: nil, simulcastLayers: 3, muted: false)
        #expect(ServerMessage(.trackPublished(info)).track == info)
        #expect(ServerMessage(.connectionState(.subscriber, .connected)).json()
            == #"{"peerConnection":"subscriber","state":"connected","type":"connectionState"}"#)
        #expect(ServerMessage(.activeSpeaker(nil)).json() == #"{"type":"activeSpeaker"}"#)
    }
}
