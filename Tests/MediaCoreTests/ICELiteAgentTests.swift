import Testing
import MediaPackets
@testable import MediaCore

@Suite("ICE-lite agent")
struct ICELiteAgentTests {
    typealias Agent = ICELiteAgent<TestInstant>
    static let local = ICECredentials(ufrag: "sfu1", password: "local-password-0123456789")
    static let peer = TransportAddress.ipv4(203, 0, 113, 7, port: 50000)

    static func request(username: String = "sfu1:peer", password: String = "local-password-0123456789",
                        useCandidate: Bool = false, controlled: Bool = false, integrity: Bool = true) throws -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: .random())
        try builder.appendUsername(username)
        try builder.appendPriority(1_845_501_695)
        if controlled { try builder.appendICEControlled(1) } else { try builder.appendICEControlling(99) }
        if useCandidate { try builder.appendUseCandidate() }
        if integrity { try builder.appendMessageIntegrity(key: Array(password.utf8)) }
        builder.appendFingerprint()
        return builder.bytes
    }

    static func response(_ directives: [ICEDirective]) throws -> STUNMessage {
        guard case .send(let bytes, let to)? = directives.first else { throw Failure() }
        #expect(to == peer)
        return try STUNMessage.parse(bytes)
    }

    struct Failure: Error {}

    @Test func answersAValidRequestWithAnAuthenticatedSuccess() throws {
        var agent = Agent(local: Self.local, remoteUfrag: "peer")
        let request = try Self.request()
        let directives = agent.receive(request, from: Self.peer, now: .zero)
        #expect(directives.count == 1)
        let response = try Self.response(directives)
        #expect(response.type == .bindingSuccess)
        #expect(response.transactionID == (try STUNMessage.parse(request)).transactionID)
        #expect(try response.xorMappedAddress() == Self.peer)
        #expect(try response.validateMessageIntegrity(key: Array(Self.local.password.utf8)))
        #expect(response.hasFingerprint)
        #expect(agent.selectedAddress == nil)  // not nominated yet
        #expect(agent.hasConsent(Self.peer, now: .zero))
    }

    @Test func useCandidateNominatesThePair() throws {
        var agent = Agent(local: Self.local)
        let directives = agent.receive(try Self.request(useCandidate: true), from: Self.peer, now: .zero)
        #expect(directives.count == 2)
        #expect(directives.last == .selectedPairChanged(Self.peer))
        #expect(agent.selectedAddress == Self.peer)
        // Renominating the same pair is not news.
        #expect(agent.receive(try Self.request(useCandidate: true), from: Self.peer, now: .zero).count == 1)
    }

    @Test func refusesBadCredentialsAndRoleConflicts() throws {
        var agent = Agent(local: Self.local, remoteUfrag: "peer")
        func code(_ bytes: [UInt8]) throws -> Int? {
            try Self.response(agent.receive(bytes, from: Self.peer, now: .zero)).errorCode()?.code
        }
        #expect(try code(Self.request(password: "wrong")) == 401)
        #expect(try code(Self.request(username: "other:peer")) == 401)
        #expect(try code(Self.request(username: "sfu1:stranger")) == 401)
        #expect(try code(Self.request(integrity: false)) == 400)
        #expect(try code(Self.request(controlled: true)) == 487)
        var unknown = STUNMessageBuilder(type: .bindingRequest, transactionID: .random())
        try unknown.appendUsername("sfu1:peer")
        try unknown.append(type: 0x7FFF, value: [1, 2, 3, 4])  // comprehension-required, unknown
        try unknown.append(type: 0xC057, value: [0, 1, 0, 0])  // comprehension-optional (Chrome's network info): fine
        try unknown.appendMessageIntegrity(key: Array(Self.local.password.utf8))
        unknown.appendFingerprint()
        let rejection = try Self.response(agent.receive(unknown.bytes, from: Self.peer, now: .zero))
        #expect(try rejection.errorCode()?.code == 420)
        #expect(rejection.value(STUNAttributeType.unknownAttributes).map(Array.init) == [0x7F, 0xFF])
        #expect(agent.knownAddresses.isEmpty)  // none of these created a pair
        #expect(agent.receive([0, 1, 2], from: Self.peer, now: .zero) == [.discarded(.malformed)])
        var indication = STUNMessageBuilder(type: .bindingIndication, transactionID: .random())
        indication.appendFingerprint()
        #expect(agent.receive(indication.bytes, from: Self.peer, now: .zero) == [.discarded(.notABindingRequest)])
    }

    @Test func consentExpiresThirtySecondsAfterTheLastValidRequest() throws {
        var agent = Agent(local: Self.local)
        let backup = TransportAddress.ipv4(198, 51, 100, 2, port: 40000)
        _ = agent.receive(try Self.request(useCandidate: true), from: backup, now: .zero)
        var now = TestInstant.zero.advanced(by: .seconds(1))
        _ = agent.receive(try Self.request(useCandidate: true), from: Self.peer, now: now)
        #expect(agent.selectedAddress == Self.peer)
        #expect(agent.tick(now: TestInstant.zero.advanced(by: .seconds(29))).isEmpty)
        // Keep the backup fresh; let the selected pair lapse.
        _ = agent.receive(try Self.request(), from: backup, now: TestInstant.zero.advanced(by: .seconds(29)))
        now = TestInstant.zero.advanced(by: .seconds(31))
        #expect(agent.nextDeadline == now)
        #expect(agent.tick(now: now) == [.pairExpired(Self.peer), .selectedPairChanged(backup)])
        #expect(!agent.hasConsent(Self.peer, now: now))
        now = TestInstant.zero.advanced(by: .seconds(59))
        #expect(agent.tick(now: now) == [.pairExpired(backup), .disconnected])
        #expect(agent.selectedAddress == nil)
        #expect(agent.nextDeadline == nil)
    }

    @Test func garbageNeverTrapsTheAgent() throws {
        var agent = Agent(local: Self.local)
        let valid = try Self.request(useCandidate: true)
        var state: UInt64 = 1
        for round in 0..<2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var input = valid
            if round % 2 == 0 {
                input[Int(state >> 33) % input.count] ^= UInt8(truncatingIfNeeded: state | 1)
            } else {
                input = Array(input.prefix(Int(state >> 33) % input.count))
            }
            for directive in agent.receive(input, from: Self.peer, now: .zero) {
                if case .send(let bytes, _) = directive { _ = try STUNMessage.parse(bytes) }  // responses are always well-formed
            }
        }
    }

    @Test func randomCredentialsHaveTheRFCLengths() {
        let credentials = ICECredentials.random()
        #expect(credentials.ufrag.count == 8 && credentials.password.count == 24)
        #expect(credentials != ICECredentials.random())
    }
}
