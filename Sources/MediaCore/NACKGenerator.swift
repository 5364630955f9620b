/// Receiver-side loss detection for one RTP stream: notices gaps in sequence numbers and says
/// which to request with generic NACK (RFC 4585 §6.2.1), retrying until the packet arrives,
/// a retry limit is reached, or it falls out of the history.
///
/// A value type with injected time: the shell calls ``packetReceived(sequenceNumber:now:)``
/// per packet and ``tick(now:)`` on a timer, and sends what `tick` returns. All state is
/// allocated at init.
public struct NACKGenerator<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public struct Configuration: Sendable {
        /// How many recent sequence numbers are tracked (rounded up to a power of two).
        public var historySize: Int = 512
        /// How long a gap waits before the first NACK, so mere reordering is not requested.
        public var reorderingDelay: Duration = .milliseconds(10)
        /// Minimum time between two NACKs for one packet; about one round trip.
        public var retryInterval: Duration = .milliseconds(100)
        /// NACKs per packet before giving up on it.
        public var maxRetries: Int = 10
        public init() {}
    }

    /// What the shell should do after a tick.
    public struct Output: Sendable, Equatable {
        /// Sequence numbers to request now, oldest first.
        public var nack: [UInt16] = []
        /// Packets were abandoned (retries exhausted or pushed out of history): the decoder
        /// will need a keyframe, so send PLI (RFC 4585 §6.3.1).
        public var keyframeNeeded = false
    }

    private struct Slot: Sendable {
        var sequence: Int64 = -1
        var received = false
        var retries = 0
        var missingSince: Instant?
        var lastRequest: Instant?
    }

    public let configuration: Configuration
    private let mask: Int
    private var slots: [Slot]
    private var unwrapper = SequenceNumberUnwrapper()
    private var highest: Int64?
    private var lostForGood = false
    public private(set) var abandonedCount = 0

    public init(configuration: Configuration = Configuration()) {
        var size = 1
        while size < max(16, min(configuration.historySize, 16384)) { size <<= 1 }
        self.configuration = configuration
        mask = size - 1
        slots = Array(repeating: Slot(), count: size)
    }

    /// Records an arriving packet (original or retransmission).
    public mutating func packetReceived(sequenceNumber: UInt16, now: Instant) {
        let extended = unwrapper.unwrap(sequenceNumber)
        guard let highest else {
            self.highest = extended
            slots[index(extended)] = Slot(sequence: extended, received: true)
            return
        }
        if extended > highest {
            let firstMissing = max(highest + 1, extended - Int64(slots.count) + 1)
            if firstMissing > highest + 1 { lostForGood = true }  // a gap wider than the history
            var missing = firstMissing
            while missing < extended {
                let i = index(missing)
                if slots[i].sequence >= 0, !slots[i].received, slots[i].sequence < missing { abandon() }
                slots[i] = Slot(sequence: missing, received: false, retries: 0, missingSince: now, lastRequest: nil)
                missing += 1
            }
            let i = index(extended)
            if slots[i].sequence >= 0, !slots[i].received, slots[i].sequence < extended { abandon() }
            slots[i] = Slot(sequence: extended, received: true)
            self.highest = extended
        } else {
            let i = index(extended)
            if slots[i].sequence == extended { slots[i].received = true }
        }
    }

    /// The NACKs due at `now`.
    public mutating func tick(now: Instant) -> Output {
        var output = Output()
        output.keyframeNeeded = lostForGood
        lostForGood = false
        guard let highest else { return output }
        var sequence = max(0, highest - Int64(slots.count) + 1)
        while sequence < highest {
            let i = index(sequence)
            if slots[i].sequence == sequence, !slots[i].received, let since = slots[i].missingSince {
                if slots[i].retries >= configuration.maxRetries {
                    slots[i].received = true  // abandon: stop asking
                    abandon()
                    output.keyframeNeeded = true
                } else if since.duration(to: now) >= configuration.reorderingDelay,
                          slots[i].lastRequest.map({ $0.duration(to: now) >= configuration.retryInterval }) ?? true {
                    slots[i].retries += 1
                    slots[i].lastRequest = now
                    output.nack.append(UInt16(truncatingIfNeeded: sequence))
                }
            }
            sequence += 1
        }
        return output
    }

    /// Sequence numbers currently missing (for stats and tests).
    public var missingCount: Int { slots.filter { $0.sequence >= 0 && !$0.received }.count }

    private mutating func abandon() {
        abandonedCount += 1
        lostForGood = true
    }

    private func index(_ sequence: Int64) -> Int { Int(sequence & Int64(mask)) }
}
