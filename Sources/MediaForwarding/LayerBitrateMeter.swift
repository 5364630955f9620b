/// The bitrate of one published stream over a sliding window, from the bytes of packets
/// received: ten buckets of a tenth of the window each, so a reading never needs the
/// packets themselves. Fixed storage; injected time.
public struct LayerBitrateMeter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public static var bucketCount: Int { 10 }
    public let window: Duration
    private var buckets: [Int]
    private var start: Instant?
    /// Index (since `start`) of the newest bucket written.
    private var newest: Int64 = 0
    public private(set) var lastPacketAt: Instant?

    public init(window: Duration = .seconds(1)) {
        self.window = window
        buckets = [Int](repeating: 0, count: Self.bucketCount)
    }

    private var bucketLength: Duration { window / Self.bucketCount }

    private func index(of now: Instant) -> Int64 {
        guard let start else { return 0 }
        let elapsed = start.duration(to: now)
        if elapsed <= .zero { return 0 }
        return Int64(min(elapsed / bucketLength, 1e15))  // bounded: no trap on absurd clocks
    }

    private mutating func advance(to now: Instant) {
        if start == nil { start = now }
        let current = index(of: now)
        if current > newest {
            let steps = min(current - newest, Int64(Self.bucketCount))
            for k in 1...steps {
                buckets[Int((newest + k) % Int64(Self.bucketCount))] = 0
            }
            newest = current
        }
    }

    public mutating func record(bytes: Int, now: Instant) {
        advance(to: now)
        buckets[Int(newest % Int64(Self.bucketCount))] += bytes
        lastPacketAt = now
    }

    /// Bits per second over the last window (the current, partial bucket included).
    public mutating func bitsPerSecond(now: Instant) -> Int {
        guard start != nil else { return 0 }
        advance(to: now)
        let total = buckets.reduce(0, +)
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        return Int(Double(total * 8) / seconds)
    }
}
