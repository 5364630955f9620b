/// A subscriber's downlink estimate from the loss its receiver reports tell (the
/// loss-based controller of draft-ietf-rmcat-gcc-02 §6): above 10 % loss the estimate
/// falls to `rate × (1 − loss/2)`; below 2 % it grows by `increasePerSecond` per second
/// elapsed since the previous report; in between it holds. Once the loss has stayed below
/// 2 % for `fastIncreaseAfter`, growth switches to `fastIncreasePerSecond`, so a link whose
/// cap was lifted is found again in seconds rather than tens of seconds (GCC's multiplicative
/// increase, draft-ietf-rmcat-gcc-02 §5.5, far from the last congested rate); the next
/// report above 10 % loss brings it back at once, since a decrease starts from what is sent.
///
/// It works with any receiver that sends RTCP receiver reports (RFC 3550 §6.4.1), which is
/// every WebRTC client — unlike REMB or transport-cc, which need header extensions the SFU
/// does not offer subscribers. Until congestion is first seen there is no estimate, so a
/// subscriber with a clean downlink keeps the highest layer. A value type with injected time
/// (STYLE.md §1, §3); the caller gives the rate it is currently sending that subscriber.
public struct LossBasedBandwidthEstimator<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public typealias Configuration = LossBasedBandwidthEstimatorConfiguration

    public let configuration: Configuration
    /// The current estimate in bits/s; nil until the first report above the decrease threshold.
    public private(set) var estimate: Int?
    private var lastReportAt: Instant?
    /// When the loss last went below the increase threshold (nil while it is not).
    private var lowLossSince: Instant?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// One receiver report. `fractionLost` is the report block's 8-bit fixed-point fraction
    /// (RFC 3550 §6.4.1); `sendingRate` what the SFU sent this receiver recently (bits/s).
    /// Returns the new estimate when it changed.
    public mutating func receiverReport(fractionLost: UInt8, sendingRate: Int, now: Instant) -> Int? {
        let loss = Double(fractionLost) / 256
        let elapsed = lastReportAt.map { seconds($0.duration(to: now)) } ?? 0
        let previous = estimate
        let previousReport = lastReportAt
        // Fast growth only when the loss was already low for long enough at the previous
        // report, so the interval being credited was itself a low-loss one.
        let fast = lowLossSince.map { since in previousReport.map { since.duration(to: $0) >= configuration.fastIncreaseAfter } ?? false } ?? false
        if loss < configuration.increaseThreshold {
            if lowLossSince == nil { lowLossSince = now }
        } else {
            lowLossSince = nil
        }
        if loss > configuration.decreaseThreshold {
            // Decrease from what is actually being sent when that is below the estimate, so
            // an estimate left high by a lower layer does not take several reports to fall.
            let base = min(estimate ?? Int.max, max(sendingRate, configuration.minimum))
            estimate = clamp(Double(base) * (1 - 0.5 * loss))
        } else if loss < configuration.increaseThreshold, let current = estimate {
            let perSecond = fast ? configuration.fastIncreasePerSecond : configuration.increasePerSecond
            let factor = Self.growth(perSecond, over: min(max(elapsed, 0), 2))
            // At least 1 kb/s more, so a low estimate cannot stall on rounding.
            estimate = clamp(max(Double(current) * factor, Double(current) + 1_000))
        }
        lastReportAt = now
        return estimate == previous ? nil : estimate
    }

    /// Whether the estimate is growing at the fast rate now (loss low for `fastIncreaseAfter`).
    public func isIncreasingFast(now: Instant) -> Bool {
        guard let lowLossSince else { return false }
        return lowLossSince.duration(to: now) >= configuration.fastIncreaseAfter
    }

    private func clamp(_ value: Double) -> Int {
        Int(min(max(value, Double(configuration.minimum)), Double(configuration.maximum)))
    }

    /// `perSecond` compounded over `seconds` (0…2) without Foundation's `pow`: whole seconds
    /// multiply, the fractional second interpolates linearly (exact at whole seconds).
    static func growth(_ perSecond: Double, over seconds: Double) -> Double {
        var result = 1.0
        var remaining = seconds
        while remaining >= 1 { result *= perSecond; remaining -= 1 }
        return result * (1 + (perSecond - 1) * remaining)
    }

    private func seconds(_ duration: Duration) -> Double {
        let c = duration.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// Tunables of ``LossBasedBandwidthEstimator``.
public struct LossBasedBandwidthEstimatorConfiguration: Sendable, Equatable {
    /// Loss above which the estimate decreases (a fraction, 0…1).
    public var decreaseThreshold = 0.10
    /// Loss below which the estimate increases.
    public var increaseThreshold = 0.02
    /// Growth per second of low loss (GCC §6 uses 1.05; Chromium 1.08).
    public var increasePerSecond = 1.08
    /// Growth per second once the loss has stayed below `increaseThreshold` for
    /// `fastIncreaseAfter` (a lifted cap: from the 100 kb/s floor to 400 kb/s in about 8 s
    /// instead of 18 s at 8 %/s).
    public var fastIncreasePerSecond = 1.25
    public var fastIncreaseAfter: Duration = .seconds(2)
    /// The estimate never goes below this (bits/s).
    public var minimum = 100_000
    /// …nor above this.
    public var maximum = 20_000_000
    public init() {}
}
