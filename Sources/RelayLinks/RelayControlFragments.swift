/// Control messages larger than one relay datagram, cut into fragments and put back together
/// (docs/relay.md, "Control protocol"). A roster snapshot of a large meeting, or a participant
/// with many tracks, does not fit the 1,500-byte payload of one datagram; it crosses as
/// `RelayPacket.Kind.controlFragment` datagrams, each
///
///     message id (u32 BE) ‖ index (u16 BE) ‖ count (u16 BE) ‖ chunk
///
/// Every fragment is sealed and authenticated on its own like any relay datagram, so the
/// reassembler only ever sees fragments from the far node; its bounds defend against a buggy
/// peer and against loss (a message missing a fragment is dropped when it times out, and
/// heals at the next snapshot).
public enum RelayControlFragment {
    public static let headerLength = 8
    /// The largest message fragmented: 48 fragments of the largest chunk.
    public static let maximumMessage = 64 * 1_024
    /// Bytes of message per fragment (the rest of a datagram's payload is this header).
    public static let maximumChunk = RelayPacket.maximumPayload - headerLength
    public static let maximumCount = (maximumMessage + maximumChunk - 1) / maximumChunk

    /// Cuts `message` into fragments of at most `chunk` bytes of message each.
    public static func split(_ message: [UInt8], id: UInt32, chunk: Int = maximumChunk) throws(RelayFragmentError) -> [[UInt8]] {
        guard !message.isEmpty else { throw .empty }
        guard message.count <= maximumMessage else { throw .messageTooLarge(message.count) }
        let size = max(1, min(chunk, maximumChunk))
        let count = (message.count + size - 1) / size
        guard count <= maximumCount else { throw .badCount(count) }
        var fragments: [[UInt8]] = []
        fragments.reserveCapacity(count)
        for index in 0..<count {
            let range = (index * size)..<min(message.count, (index + 1) * size)
            var fragment = [UInt8]()
            fragment.reserveCapacity(headerLength + range.count)
            fragment.append(contentsOf: [UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16),
                                         UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id),
                                         UInt8(index >> 8), UInt8(truncatingIfNeeded: index),
                                         UInt8(count >> 8), UInt8(truncatingIfNeeded: count)])
            fragment.append(contentsOf: message[range])
            fragments.append(fragment)
        }
        return fragments
    }
}

/// Why a control fragment was refused. Typed, counted by the shell, never a trap.
public enum RelayFragmentError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooShort(Int)
    case badCount(Int)
    case indexOutOfRange(index: Int, count: Int)
    case inconsistentCount(id: UInt32)
    case messageTooLarge(Int)

    public var description: String {
        switch self {
        case .empty: "a relay control fragment carries no bytes of message"
        case let .tooShort(n): "a relay control fragment of \(n) bytes is shorter than its 8-byte header"
        case let .badCount(n): "a relay control message of \(n) fragments is outside 1-\(RelayControlFragment.maximumCount)"
        case let .indexOutOfRange(i, n): "relay control fragment \(i) of a \(n)-fragment message is out of range"
        case let .inconsistentCount(id): "the fragments of relay control message \(id) disagree on their count"
        case let .messageTooLarge(n): "a relay control message of \(n) bytes exceeds \(RelayControlFragment.maximumMessage)"
        }
    }
}

/// Puts fragmented control messages back together: a value type with injected time.
///
/// Bounded: at most `maximumMessages` messages in progress (the oldest is evicted for a new
/// one), each at most ``RelayControlFragment/maximumMessage`` bytes, and a message not
/// complete within `timeout` of its first fragment is dropped. Duplicate fragments are
/// ignored (the link's replay window already refuses replays; a duplicate here means the
/// sender resent).
public struct RelayControlReassembler<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    struct Partial: Sendable {
        var count: Int
        var chunks: [[UInt8]?]
        var received = 0
        var bytes = 0
        var started: Instant
    }

    public let maximumMessages: Int
    public let timeout: Duration
    private var partials: [UInt32: Partial] = [:]
    /// Messages dropped unfinished (evicted or timed out).
    public private(set) var abandoned = 0

    public init(maximumMessages: Int = 4, timeout: Duration = .seconds(2)) {
        self.maximumMessages = max(1, maximumMessages)
        self.timeout = timeout
    }

    /// Messages in progress now.
    public var pending: Int { partials.count }

    /// Takes one fragment; returns the whole message when this fragment completes it.
    public mutating func receive(_ fragment: [UInt8], now: Instant) throws(RelayFragmentError) -> [UInt8]? {
        guard fragment.count >= RelayControlFragment.headerLength else { throw .tooShort(fragment.count) }
        guard fragment.count > RelayControlFragment.headerLength else { throw .empty }
        let id = fragment[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let index = Int(fragment[4]) << 8 | Int(fragment[5])
        let count = Int(fragment[6]) << 8 | Int(fragment[7])
        guard (1...RelayControlFragment.maximumCount).contains(count) else { throw .badCount(count) }
        guard index < count else { throw .indexOutOfRange(index: index, count: count) }
        let chunk = Array(fragment[RelayControlFragment.headerLength...])
        expire(now: now)
        if count == 1 { return chunk }
        if var partial = partials[id] {
            guard partial.count == count else {
                partials[id] = nil
                abandoned += 1
                throw .inconsistentCount(id: id)
            }
            guard partial.chunks[index] == nil else { return nil }
            partial.bytes += chunk.count
            guard partial.bytes <= RelayControlFragment.maximumMessage else {
                partials[id] = nil
                abandoned += 1
                throw .messageTooLarge(partial.bytes)
            }
            partial.chunks[index] = chunk
            partial.received += 1
            if partial.received == partial.count {
                partials[id] = nil
                return partial.chunks.flatMap { $0! }
            }
            partials[id] = partial
            return nil
        }
        if partials.count >= maximumMessages, let oldest = partials.min(by: { $0.value.started < $1.value.started })?.key {
            partials[oldest] = nil
            abandoned += 1
        }
        var partial = Partial(count: count, chunks: Array(repeating: nil, count: count), started: now)
        partial.chunks[index] = chunk
        partial.received = 1
        partial.bytes = chunk.count
        partials[id] = partial
        return nil
    }

    /// Drops messages older than `timeout` (also done on every `receive`).
    public mutating func expire(now: Instant) {
        for (id, partial) in partials where partial.started.duration(to: now) > timeout {
            partials[id] = nil
            abandoned += 1
        }
    }
}
