import DemarcTestSupport
import Testing
@testable import MediaPackets

@Suite("RTCP")
struct RTCPTests {
    static let report = ReceptionReport(ssrc: 0x0102_0304, fractionLost: 25, cumulativeLost: -3, extendedHighestSequenceNumber: 0x0001_0005,
                                        jitter: 77, lastSenderReport: 0xAABB_CCDD, delaySinceLastSenderReport: 65536)

    static let everyKind: [RTCPPacket] = [
        .senderReport(SenderReport(ssrc: 1, ntpTimestamp: 0xE000_0000_8000_0000, rtpTimestamp: 90000, packetCount: 10, octetCount: 1200, reports: [report])),
        .receiverReport(ReceiverReport(ssrc: 2, reports: [report, report])),
        .sourceDescription(SourceDescription(chunks: [.init(source: 1, items: [.cname("abcdefgh")]), .init(source: 3, items: [.cname("x")])])),
        .goodbye(Goodbye(sources: [1, 3], reason: "leaving")),
        .nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 105, 117, 200])),
        .pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 2)),
        .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 9)])),
        .remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 1, bitrate: 1_500_000, ssrcs: [2, 3])),
        .transportFeedback(TransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequenceNumber: 65530, referenceTime: -5,
                                             feedbackPacketCount: 3, receiveDeltas: [4, nil, nil, 300, -2, 0, 255, nil])),
        .other(packetType: 204, count: 0, body: [0, 0, 0, 1, 0x41, 0x42, 0x43, 0x44]),
    ]

    @Test func compoundPacketsRoundTrip() throws {
        let bytes = try RTCPCompound.serialize(Self.everyKind)
        #expect(bytes.count % 4 == 0)
        #expect(try RTCPCompound.parse(bytes) == Self.everyKind)
    }

    @Test func decodesAHandWrittenPLIAndNACK() throws {
        // PLI: V=2 FMT=1 PT=206 length=2, sender 0x11111111, media 0x22222222.
        let pli = hex("81ce0002 11111111 22222222")
        #expect(try RTCPCompound.parse(pli) == [.pictureLossIndication(PictureLossIndication(senderSSRC: 0x1111_1111, mediaSSRC: 0x2222_2222))])
        // NACK: PID 1000 with BLP 0b101 -> 1000, 1001, 1003.
        let nack = hex("81cd0003 00000001 00000002 03e80005")
        guard case .nack(let parsed) = try RTCPCompound.parse(nack).first else { Issue.record("not a NACK"); return }
        #expect(parsed.lostSequenceNumbers == [1000, 1001, 1003])
    }

    @Test func nackPackingWrapsAroundSequenceZero() {
        let nack = GenericNACK(senderSSRC: 0, mediaSSRC: 0, lost: [65534, 65535, 0, 1, 40])
        #expect(nack.pairs.count == 2)
        #expect(nack.lostSequenceNumbers == [65534, 65535, 0, 1, 40])
    }

    @Test func rembKeepsEighteenBitsOfPrecision() throws {
        let big = ReceiverEstimatedMaximumBitrate(senderSSRC: 1, bitrate: 123_456_789, ssrcs: [])
        let bytes = try RTCPCompound.serialize([.remb(big)])
        guard case .remb(let parsed) = try RTCPCompound.parse(bytes).first else { Issue.record("not REMB"); return }
        #expect(parsed.bitrate <= 123_456_789)
        #expect(123_456_789 - parsed.bitrate < 123_456_789 >> 17)
    }

    @Test func transportFeedbackUsesRunLengthForLongRuns() throws {
        let deltas: [Int16?] = Array(repeating: 1, count: 100) + Array(repeating: nil, count: 20) + [500]
        let feedback = TransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequenceNumber: 10, referenceTime: 1000, feedbackPacketCount: 0, receiveDeltas: deltas)
        let bytes = try RTCPCompound.serialize([.transportFeedback(feedback)])
        // header 4 + fixed 16 + 3 chunks x 2 + 100 small deltas + one large delta (2), padded.
        #expect(bytes.count == (4 + 16 + 6 + 100 + 2 + 3) / 4 * 4)
        #expect(try RTCPCompound.parse(bytes) == [.transportFeedback(feedback)])
    }

    @Test func decodesATransportFeedbackWithAStatusVectorChunk() throws {
        // base 5, count 3, ref 1, fb count 0; one-bit vector: received, lost, received; deltas 8, 16.
        let bytes = hex("8fcd0005 00000001 00000002 00050003 00000100 a8000810")
        guard case .transportFeedback(let fb) = try RTCPCompound.parse(bytes).first else { Issue.record("not TWCC"); return }
        #expect(fb.baseSequenceNumber == 5)
        #expect(fb.referenceTime == 1)
        #expect(fb.receiveDeltas == [8, nil, 16])
    }

    @Test func rejectsBadLengthsAndVersions() {
        #expect(throws: RTCPError.self) { try RTCPCompound.parse([0x81, 0xCE, 0x00, 0x05, 0, 0, 0, 0]) }
        #expect(throws: RTCPError.unsupportedVersion(offset: 0, version: 1)) { try RTCPCompound.parse([0x41, 0xC8, 0, 0]) }
        // SR claiming one report block in a body of 24 bytes.
        #expect(throws: RTCPError.self) { try RTCPCompound.parse([0x81, 0xC8, 0x00, 0x06] + [UInt8](repeating: 0, count: 24)) }
    }

    @Test func fuzzedCompoundPacketsParseOrThrowTypedErrors() throws {
        let valid = try RTCPCompound.serialize(Self.everyKind)
        var parsed = 0
        for input in mutations(of: valid, seed: 0x5254_4350) {
            do {
                let packets = try RTCPCompound.parse(input)
                parsed += 1
                // Whatever parsed must re-encode.
                _ = try? RTCPCompound.serialize(packets)
            } catch {
                _ = error as RTCPError
            }
        }
        #expect(parsed > 0)
        // Each kind alone, mutated, to reach every decoder.
        for (index, packet) in Self.everyKind.enumerated() {
            let single = try RTCPCompound.serialize([packet])
            for input in mutations(of: single, seed: UInt64(index), randomCount: 50) {
                do { _ = try RTCPCompound.parse(input) } catch { _ = error as RTCPError }
            }
        }
    }

    @Test func randomTransportFeedbackRoundTrips() throws {
        var generator = SeededGenerator(seed: 0x7777)
        for _ in 0..<300 {
            let count = Int.random(in: 1...300, using: &generator)
            let deltas: [Int16?] = (0..<count).map { _ in
                switch Int.random(in: 0...9, using: &generator) {
                case 0...2: nil
                case 3: Int16.random(in: Int16.min...Int16.max, using: &generator)
                default: Int16.random(in: 0...255, using: &generator)
                }
            }
            let fb = TransportFeedback(senderSSRC: 9, mediaSSRC: 8, baseSequenceNumber: .random(in: 0...UInt16.max, using: &generator),
                                       referenceTime: Int32.random(in: -0x80_0000...0x7F_FFFF, using: &generator),
                                       feedbackPacketCount: .random(in: 0...255, using: &generator), receiveDeltas: deltas)
            #expect(try RTCPCompound.parse(try RTCPCompound.serialize([.transportFeedback(fb)])) == [.transportFeedback(fb)])
        }
    }
}
