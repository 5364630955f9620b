import Testing
import MediaCore
import MediaPackets
@testable import MediaLoadTest

/// A manual instant: tests say what time it is.
struct TestInstant: InstantProtocol, Sendable {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

@Suite("Controlling ICE agent (synthetic peer toward full-ICE servers)")
struct ControllingICEAgentTests {
    typealias Agent = ControllingICEAgent<TestInstant>
    static let local = ICECredentials(ufrag: "peer", password: "peer-password-0123456789")
    static let remote = ICECredentials(ufrag: "jnus", password: "janus-password-012345678")
    static let server = TransportAddress.ipv4(192, 0, 2, 2, port: 40_000)
    static let other = TransportAddress.ipv4(192, 0, 2, 2, port: 40_002)

    /// A check the server sends us: USERNAME `<our ufrag>:<its ufrag>`, keyed with our password.
    static func serverCheck(controlling: UInt64? = nil, controlled: UInt64? = nil, useCandidate: Bool = false,
                            username: String = "peer:jnus", password: String = local.password) throws -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: .random())
        try builder.appendUsername(username)
        try builder.appendPriority(2_015_363_327)
        if let controlling { try builder.appendICEControlling(controlling) }
        if let controlled { try builder.appendICEControlled(controlled) }
        if useCandidate { try builder.appendUseCandidate() }
        try builder.appendMessageIntegrity(key: Array(password.utf8))
        builder.appendFingerprint()
        return builder.bytes
    }

    /// The server's success response to one of our checks, keyed with its password.
    static func serverSuccess(to request: [UInt8], mapped: TransportAddress, password: String = remote.password) throws -> [UInt8] {
        let parsed = try STUNMessage.parse(request)
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: parsed.transactionID)
        try builder.appendXORMappedAddress(mapped)
        try builder.appendMessageIntegrity(key: Array(password.utf8))
        builder.appendFingerprint()
        return builder.bytes
    }

    static func sent(_ directives: [FullICEDirective]) -> [([UInt8], TransportAddress)] {
        directives.compactMap { if case .send(let bytes, let to) = $0 { (bytes, to) } else { nil } }
    }

    @Test func answersTheServersCheckWithAnAuthenticatedSuccess() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        let peerAddress = TransportAddress.ipv4(192, 0, 2, 2, port: 51_000)
        let directives = agent.receive(try Self.serverCheck(controlled: 1), from: Self.server, now: .zero)
        let responses = try Self.sent(directives).map { try STUNMessage.parse($0.0) }.filter { $0.type == .bindingSuccess }
        #expect(responses.count == 1)
        let response = try #require(responses.first)
        // Parsed by the project's own STUN parser: FINGERPRINT checked there, integrity with
        // our password, and the XOR-MAPPED-ADDRESS is where the check came from.
        #expect(response.hasFingerprint)
        #expect(try response.validateMessageIntegrity(key: Array(Self.local.password.utf8)))
        #expect(!(try response.validateMessageIntegrity(key: Array(Self.remote.password.utf8))))
        #expect(try response.xorMappedAddress() == Self.server)
        _ = peerAddress
    }

    @Test func ignoresChecksWithTheWrongUsernameOrPassword() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        #expect(agent.receive(try Self.serverCheck(controlled: 1, username: "peer:someone"), from: Self.server, now: .zero).isEmpty)
        #expect(agent.receive(try Self.serverCheck(controlled: 1, password: "not-the-password-0123456"), from: Self.server, now: .zero).isEmpty)
        #expect(agent.receive([0, 1, 0, 0, 1, 2, 3], from: Self.server, now: .zero).isEmpty)
    }

    @Test func nominatesAsControllingAndConnectsOnTheSuccess() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server, Self.other], tieBreaker: 5)
        let checks = Self.sent(agent.start(now: .zero))
        #expect(checks.map(\.1) == [Self.server, Self.other])
        let check = try STUNMessage.parse(checks[0].0)
        #expect(check.username == "jnus:peer")
        #expect(check.useCandidate)
        #expect(check.iceControlling == 5)
        #expect(try check.validateMessageIntegrity(key: Array(Self.remote.password.utf8)))
        #expect(check.hasFingerprint)
        // A response from an address the check did not go to is not an answer (RFC 8445 §7.2.5.2.1).
        #expect(agent.receive(try Self.serverSuccess(to: checks[0].0, mapped: Self.server), from: Self.other, now: .zero).isEmpty)
        // Nor one keyed with the wrong password.
        #expect(agent.receive(try Self.serverSuccess(to: checks[0].0, mapped: Self.server, password: Self.local.password),
                              from: Self.server, now: .zero).isEmpty)
        let directives = agent.receive(try Self.serverSuccess(to: checks[0].0, mapped: Self.server), from: Self.server, now: .zero)
        #expect(directives == [.connected(Self.server)])
        #expect(agent.selected == Self.server)
    }

    @Test func retransmitsUnansweredChecksOnTicksAndGivesUp() throws {
        var configuration = Agent.Configuration()
        configuration.maxTransmissions = 3
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5, configuration: configuration)
        let first = Self.sent(agent.start(now: .zero))
        #expect(Self.sent(agent.tick(now: .zero.advanced(by: .milliseconds(50)))).isEmpty)
        let again = Self.sent(agent.tick(now: .zero.advanced(by: .milliseconds(100))))
        #expect(again.map(\.0) == first.map(\.0))  // same transaction
        _ = agent.tick(now: .zero.advanced(by: .milliseconds(200)))
        #expect(agent.tick(now: .zero.advanced(by: .milliseconds(300))).contains(.failed))
    }

    @Test func aControllingServerWithALargerTieBreakerMakesUsControlled() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        let ours = Self.sent(agent.start(now: .zero))
        let directives = agent.receive(try Self.serverCheck(controlling: 9, useCandidate: true), from: Self.server, now: .zero)
        #expect(directives.first == .roleSwitchedToControlled)
        #expect(agent.role == .controlled)
        // Nominated by the server, connected once our own check on that pair succeeds.
        #expect(agent.receive(try Self.serverSuccess(to: ours[0].0, mapped: Self.server), from: Self.server, now: .zero) == [.connected(Self.server)])
    }

    @Test func aControllingServerWithASmallerTieBreakerGets487() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 50)
        let directives = agent.receive(try Self.serverCheck(controlling: 9), from: Self.server, now: .zero)
        let response = try STUNMessage.parse(try #require(Self.sent(directives).first).0)
        #expect(response.type == .bindingError)
        #expect(try response.errorCode()?.code == 487)
        #expect(agent.role == .controlling)
    }

    @Test func a487ToOurCheckSwitchesRolesAndChecksAgain() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        let ours = Self.sent(agent.start(now: .zero))
        let parsed = try STUNMessage.parse(ours[0].0)
        var builder = STUNMessageBuilder(type: .bindingError, transactionID: parsed.transactionID)
        try builder.appendErrorCode(487, reason: "Role Conflict")
        try builder.appendMessageIntegrity(key: Array(Self.remote.password.utf8))
        builder.appendFingerprint()
        let directives = agent.receive(builder.bytes, from: Self.server, now: .zero)
        #expect(directives.first == .roleSwitchedToControlled)
        let retry = try STUNMessage.parse(try #require(Self.sent(directives).first).0)
        #expect(retry.iceControlled == 5)
        #expect(!retry.useCandidate)
    }

    @Test func sendsConsentChecksAfterConnecting() throws {
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        let ours = Self.sent(agent.start(now: .zero))
        _ = agent.receive(try Self.serverSuccess(to: ours[0].0, mapped: Self.server), from: Self.server, now: .zero)
        // The first tick after connecting starts the keepalive clock; one interval later, a check.
        _ = agent.tick(now: .zero.advanced(by: .milliseconds(20)))
        #expect(Self.sent(agent.tick(now: .zero.advanced(by: .seconds(1)))).isEmpty)
        let consent = Self.sent(agent.tick(now: .zero.advanced(by: .seconds(3))))
        #expect(consent.map(\.1) == [Self.server])
    }

    /// Property: random bytes (and random mutations of a valid check) never crash the agent
    /// and are never answered with a success.
    @Test func garbageIsNeverAnswered() throws {
        var generator = SystemRandomNumberGenerator()
        var agent = Agent(local: Self.local, remote: Self.remote, candidates: [Self.server], tieBreaker: 5)
        let valid = try Self.serverCheck(controlled: 1)
        for round in 0..<2_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...120, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if bytes.count > 0 { bytes[0] &= 0x03 }  // still classified as STUN
            } else {
                bytes = valid
                let index = Int.random(in: 20..<bytes.count - 8, using: &generator)  // attributes, before FINGERPRINT
                bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
            }
            let successes = Self.sent(agent.receive(bytes, from: Self.server, now: .zero))
                .compactMap { try? STUNMessage.parse($0.0) }.filter { $0.type == .bindingSuccess }
            #expect(successes.isEmpty)
        }
    }
}

@Suite("ICE candidate lines and /proc stat lines")
struct ICECandidateLineTests {
    @Test func parsesJanusHostCandidates() throws {
        let line = try ICECandidateLine.parse("1 1 udp 2015363327 192.0.2.2 40123 typ host")
        #expect(line.priority == 2_015_363_327)
        #expect(line.udpIPv4Address == TransportAddress.ipv4(192, 0, 2, 2, port: 40_123))
        #expect(try ICECandidateLine.parse("candidate:2 1 UDP 1 10.0.0.1 9 typ host generation 0").udpIPv4Address != nil)
        #expect(try ICECandidateLine.parse("3 1 tcp 1 10.0.0.1 9 typ host tcptype passive").udpIPv4Address == nil)
        #expect(try ICECandidateLine.parse("4 1 udp 1 fe80::1 9 typ host").udpIPv4Address == nil)
        #expect(try ICECandidateLine.parse("5 1 udp 1 1.2.3 9 typ host").udpIPv4Address == nil)
    }

    @Test func rejectsMalformedCandidatesWithTypedErrors() {
        #expect(throws: ICECandidateLineError.tooFewFields(3)) { try ICECandidateLine.parse("1 1 udp") }
        #expect(throws: ICECandidateLineError.badComponent("x")) { try ICECandidateLine.parse("1 x udp 1 1.2.3.4 9 typ host") }
        #expect(throws: ICECandidateLineError.badPriority("-1")) { try ICECandidateLine.parse("1 1 udp -1 1.2.3.4 9 typ host") }
        #expect(throws: ICECandidateLineError.badPort("70000")) { try ICECandidateLine.parse("1 1 udp 1 1.2.3.4 70000 typ host") }
        #expect(throws: ICECandidateLineError.missingTyp("type")) { try ICECandidateLine.parse("1 1 udp 1 1.2.3.4 9 type host") }
    }

    @Test func candidatesComeFromTheSDPBestFirst() throws {
        let sdp = try SessionDescription.parse("""
            v=0\r
            o=- 1 1 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            m=video 9 UDP/TLS/RTP/SAVPF 96\r
            c=IN IP4 0.0.0.0\r
            a=mid:0\r
            a=candidate:1 1 udp 100 192.0.2.2 4000 typ host\r
            a=candidate:2 1 udp 200 192.0.2.3 4001 typ host\r
            a=candidate:3 1 udp garbage\r
            a=candidate:4 2 udp 300 192.0.2.4 4002 typ host\r

            """)
        #expect(sdp.udpIPv4Candidates == [.ipv4(192, 0, 2, 3, port: 4001), .ipv4(192, 0, 2, 2, port: 4000)])
    }

    /// Property: random text never crashes the candidate parser; it throws or parses.
    @Test func randomCandidateTextIsRejectedOrParsed() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789 .:abcdefghijklmnopqrstuvwxyz-")
        for _ in 0..<3_000 {
            let text = String((0..<Int.random(in: 0...60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            if let line = try? ICECandidateLine.parse(text) { #expect((1...256).contains(line.component)) }
        }
    }

    @Test func readsCPUTicksFromProcStat() throws {
        let line = "4242 (janus (main)) S 1 4242 4242 0 -1 4194560 1 0 0 0 1234 567 0 0 20 0 9 0 100 0 0"
        let time = try ProcessCPUTime.parse(line)
        #expect(time == ProcessCPUTime(userTicks: 1234, systemTicks: 567))
        #expect(time.seconds(ticksPerSecond: 100) == 18.01)
        #expect(throws: ProcStatError.noCommand) { try ProcessCPUTime.parse("4242 janus S 1") }
        #expect(throws: ProcStatError.tooFewFields(3)) { try ProcessCPUTime.parse("1 (x) S 1 2") }
        #expect(throws: ProcStatError.notANumber("u")) { try ProcessCPUTime.parse("1 (x) S 1 2 3 4 5 6 7 8 9 10 u 0") }
    }

    @Test func theResultLineIsJSONTaggedWithTheTarget() throws {
        var result = BenchmarkResult(target: .janus)
        result.delivered = 50
        result.expected = 100
        result.seconds = 5
        result.serverCPUSeconds = 0.5
        result.derive()
        #expect(result.deliveredPercent == 50)
        #expect(result.deliveredPerServerCoreSecond == 100)
        #expect(result.line.hasPrefix("result {"))
        #expect(result.line.contains("\"target\":\"janus\""))
    }
}
