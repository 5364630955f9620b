import Testing
@testable import MediaCore

@Suite("Sequence numbers, replay window, rollover counter")
struct SequenceNumberTests {
    @Test func unwrapsAcrossWrapsAndReordering() {
        var unwrapper = SequenceNumberUnwrapper()
        #expect(unwrapper.unwrap(65534) == 65534)
        #expect(unwrapper.unwrap(65535) == 65535)
        #expect(unwrapper.unwrap(1) == 65537)
        #expect(unwrapper.unwrap(65533) == 65533)  // late packet from before the wrap
        #expect(unwrapper.unwrap(3) == 65539)
        var long = SequenceNumberUnwrapper()
        var expected: Int64 = 100
        _ = long.unwrap(100)
        for _ in 0..<300_000 / 1000 {
            expected += 1000
            #expect(long.unwrap(UInt16(truncatingIfNeeded: expected)) == expected)
        }
    }

    @Test func replayWindowFollowsRFC3711() {
        var window = ReplayWindow()
        #expect(window.check(1000) == .fresh)
        window.accept(1000)
        #expect(window.check(1000) == .replayed)
        #expect(window.check(999) == .fresh)
        window.accept(999)
        #expect(window.check(999) == .replayed)
        #expect(window.check(1000 - 63) == .fresh)
        #expect(window.check(1000 - 64) == .tooOld)
        window.accept(1100)  // a jump wider than the window clears it
        #expect(window.check(1100 - 63) == .fresh)
        #expect(window.check(1000) == .tooOld)
        #expect(window.check(1101) == .fresh)
    }

    @Test func replayWindowMatchesAReferenceSetUnderRandomOrder() {
        var window = ReplayWindow()
        var seen = Set<UInt64>()
        var highest: UInt64 = 1000
        var state: UInt64 = 42
        for _ in 0..<5000 {
            state = state &* 6364136223846793005 &+ 1
            let index = highest + 20 - (state >> 58)  // mostly forward, some backward
            let verdict = window.check(index)
            if index + 64 <= highest {
                #expect(verdict == .tooOld)
            } else {
                #expect(verdict == (seen.contains(index) ? .replayed : .fresh))
            }
            if verdict == .fresh {
                window.accept(index)
                seen.insert(index)
                highest = max(highest, index)
            }
        }
    }

    /// RFC 3711 Appendix A: the receiver's index guess around a wrap.
    @Test func rolloverCounterEstimatesAcrossTheWrap() throws {
        var roc = RolloverCounter()
        var guess = try #require(roc.estimate(65000))
        #expect(guess.rolloverCount == 0)
        roc.update(sequenceNumber: 65000, rolloverCount: guess.rolloverCount)
        guess = try #require(roc.estimate(10))  // wrapped
        #expect(guess.rolloverCount == 1 && guess.index == 65536 + 10)
        roc.update(sequenceNumber: 10, rolloverCount: 1)
        guess = try #require(roc.estimate(65100))  // late packet from the previous cycle
        #expect(guess.rolloverCount == 0 && guess.index == 65100)
        roc.update(sequenceNumber: 65100, rolloverCount: 0)  // must not move the state backwards
        #expect(roc.rolloverCount == 1 && roc.highestSequenceNumber == 10)
        // A packet that would have ROC -1 is from before the stream began.
        var fresh = RolloverCounter()
        fresh.update(sequenceNumber: 5, rolloverCount: 0)
        #expect(fresh.estimate(65530) == nil)
    }

    @Test func rolloverCounterTracksASenderThroughManyWraps() throws {
        var roc = RolloverCounter()
        var sequence: UInt16 = 60000
        var mismatches = 0
        for n in 0..<300_000 {
            let guess = try #require(roc.estimate(sequence))
            if guess.index != 60000 + UInt64(n) { mismatches += 1 }
            roc.update(sequenceNumber: sequence, rolloverCount: guess.rolloverCount)
            sequence &+= 1
        }
        #expect(mismatches == 0)
        #expect(roc.rolloverCount == UInt32((60000 + 300_000 - 1) >> 16))
    }
}
