import Testing
import MediaCore

@Suite struct LossBasedBandwidthEstimatorTests {
    typealias Estimator = LossBasedBandwidthEstimator<TestInstant>

    /// 8-bit fixed-point fraction of RFC 3550 §6.4.1.
    func fraction(_ loss: Double) -> UInt8 { UInt8(min(255, loss * 256)) }

    @Test func noEstimateUntilCongestionIsSeen() {
        var estimator = Estimator()
        var now = TestInstant.zero
        for _ in 0..<10 {
            #expect(estimator.receiverReport(fractionLost: fraction(0.05), sendingRate: 1_000_000, now: now) == nil)
            #expect(estimator.receiverReport(fractionLost: 0, sendingRate: 1_000_000, now: now) == nil)
            now = now.advanced(by: .seconds(1))
        }
        #expect(estimator.estimate == nil)
    }

    @Test func heavyLossDecreasesFromTheSendingRate() {
        var estimator = Estimator()
        let now = TestInstant.zero
        // 40 % loss at 800 kb/s: 800 × (1 − 0.2) = 640 kb/s (GCC §6).
        let first = estimator.receiverReport(fractionLost: fraction(0.40), sendingRate: 800_000, now: now)
        #expect(first.map { abs($0 - 640_000) < 2_000 } == true)
        // Again, now sending less than the estimate: decrease from what is sent.
        let second = estimator.receiverReport(fractionLost: fraction(0.40), sendingRate: 300_000, now: now.advanced(by: .seconds(1)))
        #expect(second.map { abs($0 - 240_000) < 2_000 } == true)
        // Never below the floor.
        for k in 2..<20 {
            _ = estimator.receiverReport(fractionLost: 255, sendingRate: 10_000, now: now.advanced(by: .seconds(k)))
        }
        #expect(estimator.estimate == estimator.configuration.minimum)
    }

    @Test func moderateLossHoldsAndLowLossGrowsPerSecond() throws {
        var estimator = Estimator()
        var now = TestInstant.zero
        _ = estimator.receiverReport(fractionLost: fraction(0.5), sendingRate: 1_000_000, now: now)
        let start = try #require(estimator.estimate)
        now = now.advanced(by: .seconds(1))
        #expect(estimator.receiverReport(fractionLost: fraction(0.05), sendingRate: 1_000_000, now: now) == nil)
        #expect(estimator.estimate == start)
        now = now.advanced(by: .seconds(1))
        let grownReport = estimator.receiverReport(fractionLost: 0, sendingRate: 1_000_000, now: now)
        let grown = try #require(grownReport)
        #expect(abs(Double(grown) - Double(start) * 1.08) < 10)
        // Half a second: roughly half the growth; a long silence counts at most 2 s.
        now = now.advanced(by: .milliseconds(500))
        let halfReport = estimator.receiverReport(fractionLost: 0, sendingRate: 1_000_000, now: now)
        let half = try #require(halfReport)
        #expect(abs(Double(half) - Double(grown) * 1.04) < 10)
        now = now.advanced(by: .seconds(60))
        let cappedReport = estimator.receiverReport(fractionLost: 0, sendingRate: 1_000_000, now: now)
        let capped = try #require(cappedReport)
        #expect(abs(Double(capped) - Double(half) * 1.08 * 1.08) < 10)
    }

    @Test func lossStayingLowSwitchesToFastGrowth() throws {
        var estimator = Estimator()
        var now = TestInstant.zero
        _ = estimator.receiverReport(fractionLost: fraction(0.5), sendingRate: 400_000, now: now)
        var previous = try #require(estimator.estimate)
        var factors: [Double] = []
        for _ in 0..<6 {  // clean reports a second apart
            now = now.advanced(by: .seconds(1))
            let report = estimator.receiverReport(fractionLost: 0, sendingRate: 400_000, now: now)
            let grown = try #require(report)
            factors.append(Double(grown) / Double(previous))
            previous = grown
        }
        // Low loss since t = 1 s: 8 %/s until it has lasted 2 s at the previous report, then 25 %/s.
        #expect(factors.prefix(3).allSatisfy { abs($0 - 1.08) < 0.001 })
        #expect(factors.suffix(3).allSatisfy { abs($0 - 1.25) < 0.001 })
        #expect(estimator.isIncreasingFast(now: now))
        // Moderate loss ends it: holding, then slow growth again.
        now = now.advanced(by: .seconds(1))
        #expect(estimator.receiverReport(fractionLost: fraction(0.05), sendingRate: 400_000, now: now) == nil)
        #expect(!estimator.isIncreasingFast(now: now))
        now = now.advanced(by: .seconds(1))
        let slowReport = estimator.receiverReport(fractionLost: 0, sendingRate: 400_000, now: now)
        let slow = try #require(slowReport)
        #expect(abs(Double(slow) / Double(previous) - 1.08) < 0.001)
        // Heavy loss after fast growth falls from what is actually sent.
        now = now.advanced(by: .seconds(1))
        let fallenReport = estimator.receiverReport(fractionLost: fraction(0.3), sendingRate: 300_000, now: now)
        let fallen = try #require(fallenReport)
        #expect(abs(fallen - 255_000) < 1_000)
    }

    @Test func growthStopsAtTheMaximum() {
        var configuration = LossBasedBandwidthEstimatorConfiguration()
        configuration.maximum = 500_000
        var estimator = Estimator(configuration: configuration)
        var now = TestInstant.zero
        _ = estimator.receiverReport(fractionLost: 200, sendingRate: 400_000, now: now)
        for _ in 0..<100 {
            now = now.advanced(by: .seconds(1))
            _ = estimator.receiverReport(fractionLost: 0, sendingRate: 400_000, now: now)
        }
        #expect(estimator.estimate == 500_000)
        #expect(estimator.receiverReport(fractionLost: 0, sendingRate: 400_000, now: now.advanced(by: .seconds(1))) == nil)
    }

    /// Any sequence of reports and clock steps keeps the estimate inside its bounds.
    @Test func randomReportsStayInBounds() {
        var generator = SplitMix(seed: 6)
        var estimator = Estimator()
        var now = TestInstant.zero
        for _ in 0..<5_000 {
            now = now.advanced(by: .milliseconds(Int(generator.next() % 3_000)))
            _ = estimator.receiverReport(fractionLost: UInt8(truncatingIfNeeded: generator.next()),
                                         sendingRate: Int(generator.next() % 50_000_000), now: now)
            if let estimate = estimator.estimate {
                #expect(estimate >= estimator.configuration.minimum && estimate <= estimator.configuration.maximum)
            }
        }
    }
}

/// A small seeded generator so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
