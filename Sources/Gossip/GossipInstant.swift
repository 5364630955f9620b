/// A point on a monotonic clock, in nanoseconds since an arbitrary origin.
///
/// The SWIM core never reads a clock: every event carries `now` (STYLE.md §3).
/// The NIO shell derives instants from `ContinuousClock`; the simulator from
/// its manual clock.
public struct GossipInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = GossipInstant(nanoseconds: 0)
    /// Later than any instant a run can reach; used for "no deadline".
    public static let distantFuture = GossipInstant(nanoseconds: .max / 2)

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Self, d: Duration) -> Self { GossipInstant(nanoseconds: a.nanoseconds + d.gossipNanoseconds) }
    public static func - (a: Self, d: Duration) -> Self { GossipInstant(nanoseconds: a.nanoseconds - d.gossipNanoseconds) }
    public static func - (a: Self, b: Self) -> Duration { .nanoseconds(a.nanoseconds - b.nanoseconds) }

    /// Seconds since the origin, for reports.
    public var timeInSeconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "t+\(timeInSeconds)s" }
}

extension Duration {
    /// Whole nanoseconds (saturating); durations in gossip settings are far below the limit.
    var gossipNanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }

    /// Milliseconds as a floating-point number.
    public var gossipMilliseconds: Double { Double(gossipNanoseconds) / 1e6 }

    /// `self` scaled by a real factor.
    func scaled(_ factor: Double) -> Duration { .nanoseconds(Int64(Double(gossipNanoseconds) * factor)) }
}
