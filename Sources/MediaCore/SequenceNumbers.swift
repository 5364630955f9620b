/// Extends 16-bit RTP sequence numbers to a monotonic 64-bit space, tolerating reordering:
/// each number is placed at the nearest point (within ±32768) to the last one seen.
public struct SequenceNumberUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    /// The extended value of `sequenceNumber`. The first number maps to itself.
    public mutating func unwrap(_ sequenceNumber: UInt16) -> Int64 {
        guard let last else {
            self.last = Int64(sequenceNumber)
            return Int64(sequenceNumber)
        }
        let delta = Int16(bitPattern: sequenceNumber &- UInt16(truncatingIfNeeded: last))
        let value = last + Int64(delta)
        self.last = value
        return value
    }

    /// The extended value without remembering it.
    public func peek(_ sequenceNumber: UInt16) -> Int64 {
        guard let last else { return Int64(sequenceNumber) }
        return last + Int64(Int16(bitPattern: sequenceNumber &- UInt16(truncatingIfNeeded: last)))
    }
}

/// The SRTP replay list as a sliding window (RFC 3711 §3.3.2) of 64 packet indices, the
/// minimum the RFC requires. Check before authenticating, accept only after authentication
/// succeeds, so forged packets cannot advance the window.
public struct ReplayWindow: Sendable, Equatable {
    public static let size: UInt64 = 64

    public enum Verdict: Sendable, Equatable {
        case fresh
        case replayed
        /// Older than the window; RFC 3711 §3.3.2 requires dropping it.
        case tooOld
    }

    private var highest: UInt64?
    /// Bit i set: index `highest - i` has been received.
    private var bitmap: UInt64 = 0

    public init() {}

    public func check(_ index: UInt64) -> Verdict {
        guard let highest, index <= highest else { return .fresh }
        let age = highest - index
        if age >= Self.size { return .tooOld }
        return bitmap & (1 << age) != 0 ? .replayed : .fresh
    }

    public mutating func accept(_ index: UInt64) {
        guard let highest else {
            self.highest = index
            bitmap = 1
            return
        }
        if index > highest {
            let shift = index - highest
            bitmap = shift >= Self.size ? 1 : (bitmap << shift) | 1
            self.highest = index
        } else if highest - index < Self.size {
            bitmap |= 1 << (highest - index)
        }
    }
}

/// The receiver's rollover-counter estimate (RFC 3711 §3.3.1 and Appendix A): turns a 16-bit
/// sequence number into a 48-bit SRTP packet index.
public struct RolloverCounter: Sendable, Equatable {
    /// ROC: how many times the sequence number has wrapped.
    public private(set) var rolloverCount: UInt32
    /// s_l: the highest sequence number authenticated in the current ROC.
    public private(set) var highestSequenceNumber: UInt16?

    public init(rolloverCount: UInt32 = 0) {
        self.rolloverCount = rolloverCount
    }

    /// The guessed ROC `v` and index `2^16 * v + SEQ` (Appendix A). Nil when the guess would
    /// be a ROC below zero, i.e. a packet from before the stream began.
    public func estimate(_ sequenceNumber: UInt16) -> (rolloverCount: UInt32, index: UInt64)? {
        guard let last = highestSequenceNumber else {
            return (rolloverCount, UInt64(rolloverCount) << 16 | UInt64(sequenceNumber))
        }
        var guess = Int64(rolloverCount)
        if last < 0x8000 {
            if Int(sequenceNumber) - Int(last) > 0x8000 { guess -= 1 }
        } else {
            if Int(last) - 0x8000 > Int(sequenceNumber) { guess += 1 }
        }
        guard guess >= 0, guess <= Int64(UInt32.max) else { return nil }
        return (UInt32(guess), UInt64(guess) << 16 | UInt64(sequenceNumber))
    }

    /// Records an authenticated packet (Appendix A's update rule).
    public mutating func update(sequenceNumber: UInt16, rolloverCount guess: UInt32) {
        guard let last = highestSequenceNumber else {
            rolloverCount = guess
            highestSequenceNumber = sequenceNumber
            return
        }
        if guess == rolloverCount {
            if sequenceNumber > last { highestSequenceNumber = sequenceNumber }
        } else if guess > rolloverCount {
            rolloverCount = guess
            highestSequenceNumber = sequenceNumber
        }
    }
}
