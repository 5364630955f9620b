/// NACKs as a congestion signal: the share of packets sent to a subscriber that it NACKed
/// at least once, per interval.
///
/// A receiver report's fraction lost can hide loss the subscriber recovered by RTX (libwebrtc
/// counts a repaired packet as received), and it comes only every 0.5–1.5 s; the NACKs say
/// at once, and exactly, which first transmissions were lost. ``ForwardingRouter`` feeds the
/// larger of the two into the subscriber's ``LossBasedBandwidthEstimator`` at each receiver
/// report, and also as soon as the NACKed share of at least `minimumPackets` sent over at
/// least `minimumInterval` exceeds the estimator's decrease threshold — the first repair
/// storm of a new bottleneck lowers the estimate within about half a second.
public struct RepairLossConfiguration: Sendable, Equatable {
    /// Packets that must have been sent in an interval before its NACKed share counts alone.
    public var minimumPackets = 10
    /// The shortest interval evaluated between receiver reports.
    public var minimumInterval: Duration = .milliseconds(400)
    public init() {}
}

struct RepairLossMeter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    let configuration: RepairLossConfiguration
    /// Distinct packets NACKed for the first time since the interval began.
    private(set) var nacked = 0
    /// The subscriber's total packets sent (video subscriptions) when the interval began.
    private var sentAtStart: Int?
    private var startedAt: Instant?

    init(configuration: RepairLossConfiguration) {
        self.configuration = configuration
    }

    /// A packet was NACKed for the first time.
    mutating func firstNACK() { nacked += 1 }

    /// The NACKed share of the packets sent since the interval began, ending the interval,
    /// or nil (the interval goes on) when `requireMinimum` and it is too short or too small.
    /// `sent` is the running total of packets sent to the subscriber.
    mutating func take(sent: Int, now: Instant, requireMinimum: Bool) -> Double? {
        // The first interval starts with the subscriber's first packet.
        let count = sent - (sentAtStart ?? 0)
        if requireMinimum {
            guard count >= configuration.minimumPackets,
                  startedAt.map({ $0.duration(to: now) >= configuration.minimumInterval }) ?? true else { return nil }
        }
        let share = count > 0 ? min(1, Double(nacked) / Double(count)) : 0
        restart(sent: sent, now: now)
        return share
    }

    private mutating func restart(sent: Int, now: Instant) {
        sentAtStart = sent
        startedAt = now
        nacked = 0
    }
}
