import Testing
import MediaPackets
@testable import MediaCore

@Suite("NACK generation and response")
struct NACKTests {
    typealias Generator = NACKGenerator<TestInstant>

    @Test func requestsGapsAfterTheReorderingDelayAndRetries() {
        var generator = Generator()
        var now = TestInstant.zero
        for sequence: UInt16 in [10, 11, 14, 15] { generator.packetReceived(sequenceNumber: sequence, now: now) }
        #expect(generator.tick(now: now).nack.isEmpty)  // might just be reordering
        now = now.advanced(by: .milliseconds(10))
        #expect(generator.tick(now: now).nack == [12, 13])
        now = now.advanced(by: .milliseconds(50))
        #expect(generator.tick(now: now).nack.isEmpty)  // not yet a round trip
        generator.packetReceived(sequenceNumber: 12, now: now)  // retransmission arrives
        now = now.advanced(by: .milliseconds(50))
        #expect(generator.tick(now: now).nack == [13])
    }

    @Test func givesUpAfterMaxRetriesAndAsksForAKeyframe() {
        var configuration = Generator.Configuration()
        configuration.maxRetries = 3
        var generator = Generator(configuration: configuration)
        var now = TestInstant.zero
        generator.packetReceived(sequenceNumber: 65535, now: now)
        generator.packetReceived(sequenceNumber: 1, now: now)  // 0 lost, across the wrap
        var requests = 0
        var keyframe = false
        for _ in 0..<10 {
            now = now.advanced(by: .milliseconds(100))
            let output = generator.tick(now: now)
            if output.nack == [0] { requests += 1 }
            keyframe = keyframe || output.keyframeNeeded
        }
        #expect(requests == 3)
        #expect(keyframe)
        #expect(generator.abandonedCount == 1)
        #expect(generator.missingCount == 0)
    }

    @Test func aGapWiderThanTheHistoryNeedsAKeyframe() {
        var generator = Generator()
        generator.packetReceived(sequenceNumber: 0, now: .zero)
        generator.packetReceived(sequenceNumber: 2000, now: .zero)
        let output = generator.tick(now: TestInstant.zero.advanced(by: .milliseconds(20)))
        #expect(output.keyframeNeeded)
        #expect(output.nack.count == 511)  // only what the history can hold
    }

    @Test func cacheFindsRecentPacketsOnlyAndNeverGrows() {
        var cache = RetransmissionCache(capacity: 8, maxPacketSize: 32)
        for sequence in UInt16(65530)...UInt16(65535) { cache.store([UInt8(sequence & 0xFF), 1, 2], sequenceNumber: sequence) }
        for sequence in UInt16(0)...UInt16(3) { cache.store([UInt8(sequence), 9], sequenceNumber: sequence) }
        #expect(cache.withPacket(sequenceNumber: 3) { Array($0) } == [3, 9])
        #expect(cache.withPacket(sequenceNumber: 65535) { Array($0) } == [0xFF, 1, 2])
        #expect(!cache.contains(sequenceNumber: 65530))  // overwritten by sequence 2
        #expect(cache.contains(sequenceNumber: 65532))
        #expect(!cache.contains(sequenceNumber: 4))
        let storedOversized = cache.store([UInt8](repeating: 0, count: 33), sequenceNumber: 4)
        #expect(!storedOversized)
    }

    @Test func responderResendsCachedPacketsAndDampsDuplicates() {
        var responder = NACKResponder<TestInstant>(cache: RetransmissionCache(capacity: 64), minimumResendInterval: .milliseconds(20))
        for sequence in UInt16(100)...UInt16(150) { responder.packetSent([UInt8(sequence & 0xFF)], sequenceNumber: sequence) }
        let nack = GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [90, 120, 121, 125])
        var now = TestInstant.zero
        #expect(responder.retransmissions(for: nack, now: now) == [120, 121, 125])  // 90 was never sent
        now = now.advanced(by: .milliseconds(5))
        #expect(responder.retransmissions(for: nack, now: now).isEmpty)
        now = now.advanced(by: .milliseconds(20))
        #expect(responder.retransmissions(for: nack, now: now) == [120, 121, 125])
        #expect(responder.cache.withPacket(sequenceNumber: 121) { Array($0) } == [121])
    }
}
