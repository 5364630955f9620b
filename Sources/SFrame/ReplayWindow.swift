/// Sliding-window replay detection over CTR values, adapted from SRTP (RFC 3711 §3.3.2) as
/// RFC 9605 §9.3 suggests: frames may arrive out of order within `size` counters of the
/// highest one seen, each at most once. A value type with no I/O; one per receive key.
public struct ReplayWindow: Sendable, Equatable {
    /// How far behind the highest accepted CTR a frame may still arrive.
    public static let size: UInt64 = 128

    public enum Verdict: Sendable, Equatable { case fresh, replayed, tooOld }

    private var highest: UInt64?
    /// Bit i set: counter `highest - i` was accepted.
    private var seen: (UInt64, UInt64) = (0, 0)

    public init() {}

    /// What accepting `counter` would mean; does not change the window.
    public func check(_ counter: UInt64) -> Verdict {
        guard let highest else { return .fresh }
        if counter > highest { return .fresh }
        let age = highest - counter
        guard age < Self.size else { return .tooOld }
        return bit(age) ? .replayed : .fresh
    }

    /// Records `counter` as accepted. Call only after the frame authenticated, so forged
    /// frames cannot advance the window.
    public mutating func accept(_ counter: UInt64) {
        guard let current = highest else { highest = counter; seen = (1, 0); return }
        if counter > current {
            shift(by: counter - current)
            highest = counter
            seen.0 |= 1
        } else {
            let age = current - counter
            if age < Self.size { setBit(age) }
        }
    }

    private func bit(_ i: UInt64) -> Bool { i < 64 ? seen.0 & (1 << i) != 0 : seen.1 & (1 << (i - 64)) != 0 }
    private mutating func setBit(_ i: UInt64) { if i < 64 { seen.0 |= 1 << i } else { seen.1 |= 1 << (i - 64) } }
    private mutating func shift(by n: UInt64) {
        if n >= 128 { seen = (0, 0) } else if n >= 64 { seen = (0, seen.0 << (n - 64)) } else if n > 0 {
            seen = (seen.0 << n, seen.1 << n | seen.0 >> (64 - n))
        }
    }

    public static func == (a: ReplayWindow, b: ReplayWindow) -> Bool { a.highest == b.highest && a.seen == b.seen }
}
