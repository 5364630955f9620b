import DemarcTestSupport
import Testing
@testable import MediaPackets

@Suite("RTP header")
struct RTPTests {
    static func samplePacket() throws -> [UInt8] {
        var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 0xFFFE, timestamp: 0xDEAD_BEEF, ssrc: 0x1234_5678, payload: [1, 2, 3, 4, 5])
        builder.marker = true
        builder.csrcs = [0xAABB_CCDD]
        builder.extensions = [(1, Array("0".utf8)), (2, Array("h".utf8)), (3, [0x12, 0x34]), (4, [0x80 | 30]), (5, [0x01, 0x02, 0x03])]
        return try builder.build()
    }

    @Test func parsesFixedHeaderCSRCAndOneByteExtensions() throws {
        let packet = try Self.samplePacket()
        let header = try RTPHeader.parse(packet)
        #expect(header.marker)
        #expect(header.payloadType == 96)
        #expect(header.sequenceNumber == 0xFFFE)
        #expect(header.timestamp == 0xDEAD_BEEF)
        #expect(header.ssrc == 0x1234_5678)
        #expect(header.csrcCount == 1)
        #expect(header.extensionProfile == RTPHeader.oneByteProfile)
        #expect(Array(packet[header.payloadRange]) == [1, 2, 3, 4, 5])
        packet.withUnsafeBytes { raw in
            #expect(header.csrc(0, in: raw) == 0xAABB_CCDD)
            #expect(header.extensionString(id: 1, in: raw) == "0")
            #expect(header.extensionString(id: 2, in: raw) == "h")
            #expect(header.transportSequenceNumber(id: 3, in: raw) == 0x1234)
            #expect(header.audioLevel(id: 4, in: raw) == AudioLevel(voiceActivity: true, level: 30))
            #expect(header.absSendTime(id: 5, in: raw) == 0x010203)
            #expect(header.extensionData(id: 9, in: raw) == nil)
        }
    }

    @Test func twoByteExtensionsAreUsedWhenOneByteCannotHoldThem() throws {
        var builder = RTPPacketBuilder(payloadType: 111, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: [9])
        builder.extensions = [(20, Array("mid-twenty".utf8)), (1, [])]
        let packet = try builder.build()
        let header = try RTPHeader.parse(packet)
        #expect(header.extensionProfile == RTPHeader.twoByteProfile)
        packet.withUnsafeBytes { raw in
            #expect(header.extensionString(id: 20, in: raw) == "mid-twenty")
            #expect(header.extensionData(id: 1, in: raw)?.isEmpty == true)
        }
    }

    @Test func paddingIsExcludedFromThePayload() throws {
        var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: [7, 7])
        builder.paddingLength = 4
        let packet = try builder.build()
        let header = try RTPHeader.parse(packet)
        #expect(header.paddingLength == 4)
        #expect(header.payloadLength == 2)
    }

    @Test func rejectsWhatRFC3550Forbids() {
        #expect(throws: RTPError.truncated(needed: 12, available: 3)) { try RTPHeader.parse([0x80, 0, 0]) }
        #expect(throws: RTPError.unsupportedVersion(1)) { try RTPHeader.parse([0x40] + [UInt8](repeating: 0, count: 11)) }
        // Padding bit set with a zero count.
        #expect(throws: RTPError.invalidPadding(count: 0, available: 1)) { try RTPHeader.parse([0xA0] + [UInt8](repeating: 0, count: 12)) }
        // One-byte extension element claiming 16 bytes inside a 4-byte block.
        let bad: [UInt8] = [0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0]
        #expect(throws: RTPError.malformedExtension(offset: 16)) { try RTPHeader.parse(bad) }
    }

    @Test func rewritesHeaderFieldsInPlaceWithoutReallocating() throws {
        var packet = try Self.samplePacket()
        let before = packet.withUnsafeBytes { $0.baseAddress }
        try RTPHeader.rewrite(&packet, ssrc: 0xCAFE_BABE, sequenceNumber: 7, timestamp: 99, payloadType: 100, marker: false)
        #expect(packet.withUnsafeBytes { $0.baseAddress } == before)
        let header = try RTPHeader.parse(packet)
        #expect(header.ssrc == 0xCAFE_BABE && header.sequenceNumber == 7 && header.timestamp == 99)
        #expect(header.payloadType == 100 && !header.marker)
        #expect(Array(packet[header.payloadRange]) == [1, 2, 3, 4, 5])
        let rewritten = packet.withUnsafeMutableBytes { header.rewriteTransportSequenceNumber(0xBEEF, id: 3, in: $0) }
        #expect(rewritten)
        #expect(packet.withUnsafeBytes { header.transportSequenceNumber(id: 3, in: $0) } == 0xBEEF)
    }

    @Test func rtxEncapsulationRoundTrips() throws {
        let packet = try Self.samplePacket()
        let header = try RTPHeader.parse(packet)
        let rtx = try packet.withUnsafeBytes { raw in
            try RTXPacket.encapsulate(raw, header: header, rtxPayloadType: 97, rtxSSRC: 0x5555, rtxSequenceNumber: 42)
        }
        let rtxHeader = try RTPHeader.parse(rtx)
        #expect(rtxHeader.payloadType == 97 && rtxHeader.ssrc == 0x5555 && rtxHeader.sequenceNumber == 42)
        let (original, payload) = try rtx.withUnsafeBytes { try RTXPacket.decapsulate($0, header: rtxHeader) }
        #expect(original == 0xFFFE)
        #expect(Array(rtx[payload]) == [1, 2, 3, 4, 5])
    }

    @Test func absSendTimeConvertsToMicroseconds() {
        #expect(absSendTimeMicroseconds(1 << 18) == 1_000_000)
        #expect(absSendTimeMicroseconds(1 << 17) == 500_000)
    }

    @Test func fuzzedInputsParseOrThrowTypedErrors() throws {
        let valid = try Self.samplePacket()
        var parsed = 0
        for input in mutations(of: valid, seed: 0x52_5450) {
            do {
                let header = try RTPHeader.parse(input)
                parsed += 1
                #expect(header.payloadRange.upperBound + header.paddingLength == input.count)
                input.withUnsafeBytes { raw in
                    header.forEachExtension(in: raw) { _, range in #expect(range.upperBound <= input.count) }
                    _ = header.extensionString(id: 1, in: raw)
                }
            } catch {
                _ = error as RTPError
            }
        }
        #expect(parsed > 0)
    }

    @Test func randomPacketsRoundTripThroughBuildAndParse() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            var builder = RTPPacketBuilder(
                payloadType: UInt8.random(in: 0...127, using: &generator), sequenceNumber: .random(in: 0...UInt16.max, using: &generator),
                timestamp: .random(in: 0...UInt32.max, using: &generator), ssrc: .random(in: 0...UInt32.max, using: &generator),
                payload: generator.bytes(Int.random(in: 0...64, using: &generator)))
            builder.marker = Bool.random(using: &generator)
            builder.csrcs = (0..<Int.random(in: 0...3, using: &generator)).map { _ in UInt32.random(in: 0...UInt32.max, using: &generator) }
            let twoByte = Bool.random(using: &generator)
            var ids = Set<UInt8>()
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                let id = twoByte ? UInt8.random(in: 1...255, using: &generator) : UInt8.random(in: 1...14, using: &generator)
                guard ids.insert(id).inserted else { continue }
                builder.extensions.append((id, generator.bytes(Int.random(in: 1...16, using: &generator))))
            }
            builder.paddingLength = Bool.random(using: &generator) ? UInt8.random(in: 1...8, using: &generator) : 0
            let packet = try builder.build()
            let header = try RTPHeader.parse(packet)
            #expect(header.payloadType == builder.payloadType && header.sequenceNumber == builder.sequenceNumber)
            #expect(header.timestamp == builder.timestamp && header.ssrc == builder.ssrc && header.marker == builder.marker)
            #expect(Array(packet[header.payloadRange]) == builder.payload)
            packet.withUnsafeBytes { raw in
                #expect((0..<header.csrcCount).map { header.csrc($0, in: raw) } == builder.csrcs)
                for element in builder.extensions {
                    #expect(header.extensionData(id: element.id, in: raw).map { Array(packet[$0]) } == element.data)
                }
            }
        }
    }
}
