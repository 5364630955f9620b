import Testing
import OpenSSLWrapper
@testable import MediaPackets

@Suite("STUN")
struct STUNTests {
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)

    /// RFC 5769 §2.1 sample request.
    static let sampleRequest = hex("""
        00010058 2112a442 b7e7a701 bc34d686 fa87dfae
        80220010 5354554e 20746573 7420636c 69656e74
        00240004 6e0001ff
        80290008 932ff9b1 51263b36
        00060009 6576746a 3a683676 59202020
        00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
        80280004 e57a3bcf
        """)

    /// RFC 5769 §2.2 sample IPv4 response.
    static let sampleIPv4Response = hex("""
        0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
        8022000b 74657374 20766563 746f7220
        00200008 0001a147 e112a643
        00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
        80280004 c07d4c96
        """)

    @Test func rfc5769SampleRequest() throws {
        let message = try STUNMessage.parse(Self.sampleRequest)
        #expect(message.type == .bindingRequest)
        #expect(message.transactionID == STUNTransactionID(high: 0xB7E7_A701, low: 0xBC34_D686_FA87_DFAE))
        #expect(message.username == "evtj:h6vY")
        #expect(message.priority == 0x6E00_01FF)
        #expect(message.iceControlled == 0x932F_F9B1_5126_3B36)
        #expect(message.iceControlling == nil)
        #expect(!message.useCandidate)
        #expect(message.hasFingerprint)
        #expect(try message.validateMessageIntegrity(key: Self.password))
        #expect(try !message.validateMessageIntegrity(key: Array("wrong".utf8)))
    }

    @Test func rfc5769SampleIPv4Response() throws {
        let message = try STUNMessage.parse(Self.sampleIPv4Response)
        #expect(message.type == .bindingSuccess)
        #expect(try message.xorMappedAddress() == .ipv4(192, 0, 2, 1, port: 32853))
        #expect(try message.validateMessageIntegrity(key: Self.password))
    }

    /// RFC 5769 §2.3 sample IPv6 response: the address is XORed with cookie and transaction ID.
    @Test func rfc5769SampleIPv6Response() throws {
        let bytes = hex("""
            01010048 2112a442 b7e7a701 bc34d686 fa87dfae
            8022000b 74657374 20766563 746f7220
            00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
            00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
            80280004 c8fb0b4c
            """)
        let message = try STUNMessage.parse(bytes)
        let address = try #require(try message.xorMappedAddress())
        #expect(address.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
        #expect(try message.validateMessageIntegrity(key: Self.password))
        // Our builder produces the same attribute for the same address and transaction.
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: message.transactionID)
        try builder.appendXORMappedAddress(address)
        #expect(Array(builder.bytes[20...]) == Array(bytes[36..<60]))
    }

    @Test func aCorruptedFingerprintIsRejected() throws {
        var bytes = Self.sampleRequest
        bytes[bytes.count - 1] ^= 1
        #expect(throws: STUNError.badFingerprint) { try STUNMessage.parse(bytes) }
        // Tampering covered only by MESSAGE-INTEGRITY: fix up the fingerprint so it parses.
        var tampered = Self.sampleRequest
        tampered[25] ^= 0x01  // inside SOFTWARE's value
        let offset = tampered.count - 8
        let crc = tampered.withUnsafeBytes { STUNMessage.computeFingerprint($0, upTo: offset) }
        tampered.replaceSubrange((tampered.count - 4)..., with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        let message = try? STUNMessage.parse(tampered)
        #expect(message != nil)
        #expect(try message?.validateMessageIntegrity(key: Self.password) == false)
    }

    @Test func messageTypeInterleavesMethodAndClass() {
        #expect(STUNMessageType.bindingRequest.wire == 0x0001)
        #expect(STUNMessageType.bindingSuccess.wire == 0x0101)
        #expect(STUNMessageType.bindingError.wire == 0x0111)
        #expect(STUNMessageType.bindingIndication.wire == 0x0011)
        for wire in stride(from: UInt16(0), to: 0x3FFF, by: 7) {
            #expect(STUNMessageType(wire: wire).wire == wire)
        }
    }

    @Test func builtMessagesParseAndValidate() throws {
        let id = STUNTransactionID.random()
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: id)
        try builder.appendUsername("local:remote")
        try builder.appendPriority(0x7E00_00FF)
        try builder.appendICEControlling(42)
        try builder.appendUseCandidate()
        try builder.appendMessageIntegrity(key: Self.password)
        builder.appendFingerprint()
        let message = try STUNMessage.parse(builder.bytes)
        #expect(message.transactionID == id)
        #expect(message.username == "local:remote")
        #expect(message.priority == 0x7E00_00FF)
        #expect(message.iceControlling == 42)
        #expect(message.useCandidate)
        #expect(try message.validateMessageIntegrity(key: Self.password))

        var error = STUNMessageBuilder(type: .bindingError, transactionID: id)
        try error.appendErrorCode(487, reason: "Role Conflict")
        try error.appendXORMappedAddress(TransportAddress(address: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 443)!)
        error.appendFingerprint()
        let parsed = try STUNMessage.parse(error.bytes)
        #expect(try parsed.errorCode()?.code == 487)
        #expect(try parsed.errorCode()?.reason == "Role Conflict")
        #expect(try parsed.xorMappedAddress()?.port == 443)
        #expect(try parsed.xorMappedAddress()?.address.last == 1)
    }

    @Test func attributesAfterMessageIntegrityAreIgnored() throws {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: STUNTransactionID(high: 1, low: 2))
        try builder.appendMessageIntegrity(key: Self.password)
        try builder.appendUsername("smuggled")
        let message = try STUNMessage.parse(builder.bytes)
        #expect(message.username == nil)
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func fuzzedMessagesParseOrThrowTypedErrors() throws {
        var parsed = 0
        for valid in [Self.sampleRequest, Self.sampleIPv4Response] {
            for input in mutations(of: valid, seed: UInt64(valid.count)) {
                do {
                    let message = try STUNMessage.parse(input)
                    parsed += 1
                    _ = message.username
                    _ = message.priority
                    _ = try? message.xorMappedAddress()
                    _ = try? message.errorCode()
                    _ = try message.validateMessageIntegrity(key: Self.password)
                } catch let error as STUNError {
                    _ = error
                }
            }
        }
        #expect(parsed > 0)
    }
}
