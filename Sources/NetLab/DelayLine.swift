/// One direction of a delaying relay, as a value type that does no I/O: datagrams go in
/// with the time they arrived and come out, in arrival order, once `delay` has passed.
///
/// Order is preserved because a datagram's release time is never earlier than the one
/// before it (`max(previous, arrival + delay)`), so changing the delay never reorders.
/// Loss is decided on arrival from the injected generator (seed it for reproducible
/// tests). The queue is bounded: a datagram arriving while `capacity` are waiting is
/// dropped and counted, as a real link's buffer would.
///
/// Times are nanoseconds on any monotonic clock the shell chooses.
public struct DelayLine<Payload, Random: RandomNumberGenerator> {
    /// One-way delay applied to every datagram, nanoseconds.
    public var delayNanoseconds: Int64
    /// Percentage (0...100) of arriving datagrams dropped at random.
    public var lossPercent: Int
    public let capacity: Int
    public private(set) var counters = DelayLineCounters()
    private var queue: [(release: Int64, payload: Payload)] = []
    private var head = 0
    private var lastRelease = Int64.min
    private var random: Random

    public init(delayNanoseconds: Int64, lossPercent: Int = 0, capacity: Int = 4_096, random: Random) {
        precondition(delayNanoseconds >= 0, "a delay cannot be negative")
        precondition((0...100).contains(lossPercent), "loss is a percentage")
        precondition(capacity > 0, "the queue must hold at least one datagram")
        self.delayNanoseconds = delayNanoseconds
        self.lossPercent = lossPercent
        self.capacity = capacity
        self.random = random
    }

    /// Datagrams waiting to be released.
    public var count: Int { queue.count - head }

    /// When the oldest waiting datagram is due, or nil if none waits.
    public var nextRelease: Int64? { head < queue.count ? queue[head].release : nil }

    public enum Admission: Equatable, Sendable { case queued(releaseAt: Int64), lost, queueFull }

    /// Accepts a datagram that arrived at `now`.
    @discardableResult
    public mutating func arrive(_ payload: Payload, now: Int64) -> Admission {
        counters.received += 1
        if lossPercent > 0, Int(random.next(upperBound: UInt64(100))) < lossPercent {
            counters.droppedByLoss += 1
            return .lost
        }
        guard count < capacity else {
            counters.droppedQueueFull += 1
            return .queueFull
        }
        let release = max(lastRelease, now + delayNanoseconds)
        lastRelease = release
        queue.append((release, payload))
        return .queued(releaseAt: release)
    }

    /// Removes and returns, oldest first, every datagram due at `now`.
    public mutating func release(now: Int64) -> [Payload] {
        var out: [Payload] = []
        while head < queue.count, queue[head].release <= now {
            out.append(queue[head].payload)
            head += 1
        }
        counters.forwarded += out.count
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1_024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return out
    }
}

/// What one direction of a relay has done with the datagrams it received.
public struct DelayLineCounters: Hashable, Sendable, Codable {
    public var received = 0
    public var forwarded = 0
    public var droppedByLoss = 0
    public var droppedQueueFull = 0
    public init() {}
}
