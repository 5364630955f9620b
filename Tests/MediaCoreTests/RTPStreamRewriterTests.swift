import Testing
@testable import MediaCore

@Suite("RTP stream rewriting across source switches")
struct RTPStreamRewriterTests {
    typealias Output = RTPStreamRewriter.Output

    @Test func aLayerSwitchContinuesTheOutgoingNumbering() {
        var rewriter = RTPStreamRewriter(initialSequenceOffset: 1000, initialTimestampOffset: 5)
        #expect(rewriter.rewrite(ssrc: 1, sequenceNumber: 65534, timestamp: 90_000) == Output(sequenceNumber: 998, timestamp: 90_005))
        #expect(rewriter.rewrite(ssrc: 1, sequenceNumber: 65535, timestamp: 93_000) == Output(sequenceNumber: 999, timestamp: 93_005))
        // Switch to layer 2 (another SSRC, unrelated numbering), 40 ms later at 90 kHz.
        #expect(rewriter.rewrite(ssrc: 2, sequenceNumber: 17, timestamp: 7_000_000, timestampAdvance: 3600)
            == Output(sequenceNumber: 1000, timestamp: 96_605))
        #expect(rewriter.rewrite(ssrc: 2, sequenceNumber: 18, timestamp: 7_003_000) == Output(sequenceNumber: 1001, timestamp: 99_605))
        // And back.
        #expect(rewriter.rewrite(ssrc: 1, sequenceNumber: 40, timestamp: 200_000, timestampAdvance: 3000)
            == Output(sequenceNumber: 1002, timestamp: 102_605))
    }

    @Test func reorderingPassesThroughButPacketsFromBeforeTheSwitchAreRefused() {
        var rewriter = RTPStreamRewriter()
        _ = rewriter.rewrite(ssrc: 1, sequenceNumber: 10, timestamp: 0)
        _ = rewriter.rewrite(ssrc: 2, sequenceNumber: 500, timestamp: 0)  // switch: 500 -> 11
        #expect(rewriter.rewrite(ssrc: 2, sequenceNumber: 502, timestamp: 0)?.sequenceNumber == 13)
        #expect(rewriter.rewrite(ssrc: 2, sequenceNumber: 501, timestamp: 0)?.sequenceNumber == 12)  // late but after the switch
        #expect(rewriter.lastOutput?.sequenceNumber == 13)
        #expect(rewriter.rewrite(ssrc: 2, sequenceNumber: 499, timestamp: 0) == nil)  // would reuse 10
    }

    @Test func outgoingSequenceNumbersStayContiguousThroughRandomSwitches() {
        var rewriter = RTPStreamRewriter()
        var inputs: [UInt32: UInt16] = [1: 65000, 2: 300, 3: 40000]
        var state: UInt64 = 9
        var expected: UInt16?
        var gaps = 0
        for _ in 0..<5000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let ssrc = UInt32(1 + (state >> 62) % 3)
            for key in inputs.keys { inputs[key]! &+= 1 }  // every layer keeps producing
            guard let output = rewriter.rewrite(ssrc: ssrc, sequenceNumber: inputs[ssrc]!, timestamp: 0) else { continue }
            if let previous = expected, output.sequenceNumber != previous &+ 1 { gaps += 1 }
            expected = output.sequenceNumber
        }
        #expect(gaps == 0)
    }
}
