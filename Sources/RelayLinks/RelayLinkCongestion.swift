/// The sending side's view of one relay link's loss, and the simulcast layers it may carry
/// because of it (docs/relay.md, "Congestion"). A value type with injected time; the shell
/// feeds it what it sends and the far side's link NACKs, and applies the ceiling it returns.
///
/// Loss is estimated per `interval` as the share of RTP sent over the link whose sequence
/// numbers the far side NACKed (its `NACKGenerator` asks for every gap it sees, so NACKed
/// packets are the link's losses; a retried NACK counts again, which errs on the side of
/// backing off), smoothed as an exponentially weighted average (weight 1/2 per interval).
/// Above `backOffLoss` the ceiling drops by one layer — the highest layers go first — at
/// most once per `interval`; after `recoveryHold` with the smoothed loss below
/// `recoveryLoss` it rises by one again (a loss-based controller in the spirit of
/// draft-ietf-rmcat-gcc-02 §6: decrease fast, increase slowly).
public struct RelayLinkCongestion<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Settings: Sendable, Equatable {
        public var interval: Duration = .seconds(1)
        /// Smoothed loss (0–1) above which the ceiling drops.
        public var backOffLoss = 0.10
        /// Smoothed loss below which, held for `recoveryHold`, the ceiling rises.
        public var recoveryLoss = 0.02
        public var recoveryHold: Duration = .seconds(5)
        /// Fewer packets than this in an interval says nothing about loss: no change.
        public var minimumPackets = 20
        public init() {}
    }

    /// The highest layer index a link with no congestion carries (three simulcast layers).
    public static var uncapped: Int { 2 }

    public let settings: Settings
    /// The highest simulcast layer (0 = lowest) the link carries now.
    public private(set) var ceiling = Self.uncapped
    /// The smoothed loss estimate, 0–1.
    public private(set) var loss = 0.0
    private var sent = 0
    private var lost = 0
    private var intervalStart: Instant?
    private var goodSince: Instant?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    public mutating func packetsSent(_ n: Int = 1) { sent += n }

    /// The far side NACKed `n` sequence numbers of what the link carried.
    public mutating func packetsNACKed(_ n: Int) { lost += n }

    /// Call on the shell's timer, with the highest layer the link carries now (the far side's
    /// wishes may stop below the ceiling: backing off then starts under what it carries, so
    /// the first step sheds a layer that is really crossing). Returns the new ceiling when
    /// it changed.
    public mutating func evaluate(now: Instant, highestCarried: Int = Self.uncapped) -> Int? {
        guard let start = intervalStart else {
            intervalStart = now
            return nil
        }
        guard start.duration(to: now) >= settings.interval else { return nil }
        defer {
            intervalStart = now
            sent = 0
            lost = 0
        }
        guard sent >= settings.minimumPackets else { return nil }
        let sample = min(1, Double(lost) / Double(sent))
        loss = (loss + sample) / 2
        if loss > settings.backOffLoss {
            goodSince = nil
            let next = max(0, min(ceiling, highestCarried) - 1)
            guard next < ceiling else { return nil }
            ceiling = next
            return ceiling
        }
        if loss < settings.recoveryLoss, ceiling < Self.uncapped {
            guard let since = goodSince else {
                goodSince = now
                return nil
            }
            guard since.duration(to: now) >= settings.recoveryHold else { return nil }
            ceiling += 1
            goodSince = now
            return ceiling
        }
        if loss >= settings.recoveryLoss { goodSince = nil }
        return nil
    }
}
