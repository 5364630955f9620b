/// How much of a subscriber's downlink NACK repairs may use, and which NACKs are worth
/// answering at all (issue 6: a layer switch under a bandwidth cap).
///
/// Behind a bottleneck every lost packet is NACKed, and receivers such as aiortc repeat the
/// whole list of missing packets on every new gap; answering all of them keeps the
/// bottleneck's queue full, and the keyframe that would let the subscriber move to a lower
/// layer is lost in it. Like libwebrtc's sender (a retransmission rate limiter, a packet
/// resent at most once per round trip, nothing older than the history a decoder can use),
/// repairs here are limited by:
///
/// - a **token bucket** refilled at `fraction` of the subscriber's estimate (or of what is
///   being sent to it while it has none), at least `minimumBitsPerSecond`, holding up to
///   `burst` worth of tokens (and never less than two full-size packets);
/// - an **age limit**: a packet whose media time is more than `maximumAge` behind the newest
///   packet sent on its stream is not resent (its frame is late for any jitter buffer);
/// - a **per-packet interval**: one sequence number is resent at most once per round-trip
///   time (from the subscriber's receiver reports; `defaultResendInterval` until one is
///   known), clamped to `minimumResendInterval…maximumResendInterval`.
///
/// Repairs that do not fit the bucket are queued (up to `queueLimit` per subscriber, oldest
/// first) and sent from ``ForwardingRouter/tick(now:into:)`` as tokens come back — paced,
/// as a pacer would, rather than bursting into a full queue; a queued repair that has grown
/// too old is dropped. Value type with injected time (STYLE.md §1, §3).
public struct RetransmissionConfiguration: Sendable, Equatable {
    /// Share of the subscriber's estimated bitrate repairs may use.
    public var fraction = 0.5
    /// The bucket's refill rate never goes below this (bits/s).
    public var minimumBitsPerSecond = 50_000
    /// The bucket holds this much refill (and at least two 1,500-byte packets).
    public var burst: Duration = .milliseconds(500)
    /// NACKs for packets older than this (media time behind the stream's newest) are ignored.
    public var maximumAge: Duration = .seconds(3)
    /// Resend interval per packet while the subscriber's round-trip time is unknown.
    public var defaultResendInterval: Duration = .milliseconds(100)
    public var minimumResendInterval: Duration = .milliseconds(20)
    public var maximumResendInterval: Duration = .milliseconds(500)
    /// Repairs waiting for tokens, per subscriber; beyond this the oldest are dropped.
    public var queueLimit = 128
    /// A repair the subscriber has not confirmed — no NACK from it since, that would list
    /// the packet were it still missing — is sent again after two resend intervals, this many
    /// times at most. Receivers that NACK only when a new gap appears (aiortc) otherwise never
    /// ask again for a repair lost at the end of a congestion episode, and stall on the hole.
    public var unconfirmedRepairRetries = 2
    public init() {}
}

/// The token bucket of one subscriber's repairs (see ``RetransmissionConfiguration``).
struct RetransmissionBudget<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// A repair waiting for tokens: the track slot (checked against the track id, as slots
    /// are reused), the subscriber's sequence number, and when it was asked for.
    struct Pending: Sendable, Equatable {
        var slot: Int
        var track: TrackID
        var outgoing: UInt16
        var requestedAt: Instant
    }

    let configuration: RetransmissionConfiguration
    private(set) var bitsPerSecond: Int
    /// Bits available now; may go negative by one packet (a packet is sent when positive).
    private(set) var tokens: Double
    private var refilledAt: Instant?
    private(set) var pending: [Pending] = []
    /// Repairs sent that no later NACK has confirmed yet (at most `queueLimit`).
    struct Unconfirmed: Sendable, Equatable {
        var slot: Int
        var track: TrackID
        var outgoing: UInt16
        var sentAt: Instant
        var retries: Int
    }
    private(set) var unconfirmed: [Unconfirmed] = []
    /// The subscriber's round-trip time from its receiver reports (RFC 3550 §6.4.1), if known.
    var roundTripTime: Duration?

    init(configuration: RetransmissionConfiguration) {
        self.configuration = configuration
        bitsPerSecond = configuration.minimumBitsPerSecond
        tokens = 0
        tokens = capacity
    }

    /// The most the bucket holds (bits).
    var capacity: Double {
        max(Double(bitsPerSecond) * Self.seconds(configuration.burst), 2 * 1500 * 8)
    }

    /// The interval at which one sequence number may be resent again.
    var resendInterval: Duration {
        let interval = roundTripTime ?? configuration.defaultResendInterval
        return min(max(interval, configuration.minimumResendInterval), configuration.maximumResendInterval)
    }

    /// Sets the refill rate from the subscriber's estimate (or sending rate), bits/s.
    mutating func setRate(basis: Int, now: Instant) {
        let fresh = refilledAt == nil
        refill(now: now)
        bitsPerSecond = max(configuration.minimumBitsPerSecond, Int(min(Double(max(0, basis)) * max(0, configuration.fraction), 1e12)))
        // A bucket never used starts full at its first rate; later rate changes only cap it.
        tokens = fresh ? capacity : min(tokens, capacity)
    }

    mutating func refill(now: Instant) {
        defer { refilledAt = now }
        guard let refilledAt else { return }
        let elapsed = Self.seconds(refilledAt.duration(to: now))
        guard elapsed > 0 else { return }
        tokens = min(capacity, tokens + elapsed * Double(bitsPerSecond))
    }

    /// Whether a repair may be sent now (tokens left).
    mutating func canSend(now: Instant) -> Bool {
        refill(now: now)
        return tokens > 0
    }

    /// A repair of `bytes` was sent.
    mutating func spend(bytes: Int) {
        tokens -= Double(bytes * 8)
    }

    /// Queues a repair for later; false when it was already queued. The oldest is dropped
    /// beyond the limit (returned so the caller can count it).
    mutating func enqueue(_ repair: Pending) -> (queued: Bool, dropped: Pending?) {
        guard !pending.contains(where: { $0.slot == repair.slot && $0.outgoing == repair.outgoing }) else { return (false, nil) }
        pending.append(repair)
        if pending.count > configuration.queueLimit { return (true, pending.removeFirst()) }
        return (true, nil)
    }

    /// Takes the oldest queued repair if tokens allow sending it now.
    mutating func dequeue(now: Instant) -> Pending? {
        guard !pending.isEmpty, canSend(now: now) else { return nil }
        return pending.removeFirst()
    }

    /// A repair of (`slot`, `outgoing`) was sent at `now`: it awaits confirmation.
    mutating func repairSent(slot: Int, track: TrackID, outgoing: UInt16, now: Instant) {
        guard configuration.unconfirmedRepairRetries > 0 else { return }
        if let index = unconfirmed.firstIndex(where: { $0.slot == slot && $0.outgoing == outgoing }) {
            unconfirmed[index].sentAt = now
            return
        }
        unconfirmed.append(Unconfirmed(slot: slot, track: track, outgoing: outgoing, sentAt: now, retries: 0))
        if unconfirmed.count > configuration.queueLimit { unconfirmed.removeFirst() }
    }

    /// A NACK from the subscriber about the stream at `slot` arrived at `now`, listing
    /// `missing`: repairs sent at least a resend interval ago that it does not list arrived.
    mutating func nackReceived(slot: Int, missing: Set<UInt16>, now: Instant) {
        let interval = resendInterval
        unconfirmed.removeAll { $0.slot == slot && $0.sentAt.duration(to: now) >= interval && !missing.contains($0.outgoing) }
    }

    /// Unconfirmed repairs due to be sent again (two resend intervals without news), each
    /// counted as a retry; those out of retries are forgotten.
    mutating func dueUnconfirmed(now: Instant) -> [Unconfirmed] {
        let wait = resendInterval * 2
        var due: [Unconfirmed] = []
        for index in unconfirmed.indices where unconfirmed[index].sentAt.duration(to: now) >= wait {
            unconfirmed[index].retries += 1
            unconfirmed[index].sentAt = now
            due.append(unconfirmed[index])
        }
        let limit = configuration.unconfirmedRepairRetries
        if !due.isEmpty { unconfirmed.removeAll { $0.retries >= limit } }
        return due
    }

    /// Drops queued repairs matching `predicate` (e.g. of a layer being left); returns how many.
    mutating func removePending(where predicate: (Pending) -> Bool) -> Int {
        let before = pending.count
        pending.removeAll(where: predicate)
        return before - pending.count
    }

    static func seconds(_ duration: Duration) -> Double {
        let c = duration.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
