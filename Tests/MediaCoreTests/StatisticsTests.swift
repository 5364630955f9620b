import Testing
import MediaPackets
@testable import MediaCore

@Suite("Receive statistics and transport-cc feedback")
struct StatisticsTests {
    @Test func reportsLossFractionAndCumulativeLoss() {
        var stats = RTPReceiveStatistics<TestInstant>(clockRate: 90000)
        var now = TestInstant.zero
        for sequence in UInt16(65530)...UInt16(65535) {
            stats.packetReceived(sequenceNumber: sequence, rtpTimestamp: UInt32(sequence) * 3000, arrival: now)
        }
        // 0...9 across the wrap, with 2 and 3 missing: 16 expected, 14 received.
        for sequence: UInt16 in [0, 1, 4, 5, 6, 7, 8, 9] {
            stats.packetReceived(sequenceNumber: sequence, rtpTimestamp: 0, arrival: now)
        }
        now = now.advanced(by: .seconds(1))
        let report = stats.makeReport(ssrc: 5, now: now)
        #expect(report.cumulativeLost == 2)
        #expect(report.fractionLost == UInt8(2 * 256 / 16))
        #expect(report.extendedHighestSequenceNumber == 65536 + 9)
        // A clean second interval reports no new fraction lost.
        for sequence: UInt16 in 10...19 { stats.packetReceived(sequenceNumber: sequence, rtpTimestamp: 0, arrival: now) }
        let second = stats.makeReport(ssrc: 5, now: now)
        #expect(second.fractionLost == 0 && second.cumulativeLost == 2)
    }

    @Test func jitterIsZeroForPerfectPacingAndGrowsWithVariation() {
        var steady = RTPReceiveStatistics<TestInstant>(clockRate: 90000)
        var jittery = RTPReceiveStatistics<TestInstant>(clockRate: 90000)
        for n in 0..<200 {
            let timestamp = UInt32(n * 3000)  // 33.3 ms of 90 kHz
            let arrival = TestInstant.zero.advanced(by: .microseconds(n * 33_333 + (n % 2) * 10_000))
            steady.packetReceived(sequenceNumber: UInt16(n), rtpTimestamp: timestamp, arrival: TestInstant.zero.advanced(by: .microseconds(n * 100_000 / 3)))
            jittery.packetReceived(sequenceNumber: UInt16(n), rtpTimestamp: timestamp, arrival: arrival)
        }
        #expect(steady.jitter <= 1)
        // Alternating ±10 ms converges on about 900 timestamp units (10 ms at 90 kHz).
        #expect((800...950).contains(jittery.jitter))
    }

    @Test func delaySinceLastSenderReportIsInUnitsOf1Over65536Seconds() {
        var stats = RTPReceiveStatistics<TestInstant>(clockRate: 48000)
        stats.packetReceived(sequenceNumber: 1, rtpTimestamp: 0, arrival: .zero)
        stats.senderReportReceived(ntpTimestamp: 0x1234_5678_9ABC_DEF0, arrival: .zero)
        let report = stats.makeReport(ssrc: 1, now: TestInstant.zero.advanced(by: .milliseconds(500)))
        #expect(report.lastSenderReport == 0x5678_9ABC)
        #expect(report.delaySinceLastSenderReport == 32768)
    }

    @Test func transportFeedbackReportsArrivalsAndGaps() throws {
        var recorder = TransportFeedbackRecorder<TestInstant>(senderSSRC: 1, mediaSSRC: 2, epoch: .zero)
        let start = TestInstant.zero.advanced(by: .milliseconds(130))
        recorder.packetReceived(transportSequenceNumber: 65534, arrival: start)
        recorder.packetReceived(transportSequenceNumber: 65535, arrival: start.advanced(by: .milliseconds(1)))
        recorder.packetReceived(transportSequenceNumber: 2, arrival: start.advanced(by: .milliseconds(3)))  // 0, 1 lost
        recorder.packetReceived(transportSequenceNumber: 3, arrival: start.advanced(by: .microseconds(2500)))  // reordered arrival time
        let feedback = recorder.makeFeedback()
        #expect(feedback.count == 1)
        let fb = try #require(feedback.first)
        #expect(fb.baseSequenceNumber == 65534)
        #expect(fb.referenceTime == 2)  // 128 ms
        #expect(fb.receiveDeltas == [8, 4, nil, nil, 8, -2])  // in 250 µs ticks from 128 ms
        // It encodes, and the next round starts after what was reported.
        _ = try RTCPCompound.serialize([.transportFeedback(fb)])
        recorder.packetReceived(transportSequenceNumber: 1, arrival: start.advanced(by: .milliseconds(10)))  // too late
        recorder.packetReceived(transportSequenceNumber: 4, arrival: start.advanced(by: .milliseconds(10)))
        let next = recorder.makeFeedback()
        #expect(next.map(\.baseSequenceNumber) == [4])
        #expect(next.first?.feedbackPacketCount == 1)
        #expect(recorder.makeFeedback().isEmpty)
    }

    @Test func aLongSilenceSplitsFeedbackWhenADeltaOverflows() {
        var recorder = TransportFeedbackRecorder<TestInstant>(senderSSRC: 1, mediaSSRC: 2, epoch: .zero)
        recorder.packetReceived(transportSequenceNumber: 10, arrival: .zero)
        recorder.packetReceived(transportSequenceNumber: 11, arrival: TestInstant.zero.advanced(by: .seconds(20)))  // > 8.19 s
        let feedback = recorder.makeFeedback()
        #expect(feedback.map(\.baseSequenceNumber) == [10, 11])
        #expect(feedback.map(\.receiveDeltas.count) == [1, 1])
    }
}
