/// A fixed-size ring of recently sent RTP packets, for answering NACKs (RFC 4585 §6.2.1)
/// with retransmissions (RFC 4588).
///
/// All storage is allocated at init: storing a packet copies it into its slot and never
/// allocates. A packet is found by its 16-bit sequence number while it is among the last
/// `capacity` packets; later packets reuse the slot.
public struct RetransmissionCache: Sendable {
    public let capacity: Int
    public let maxPacketSize: Int
    private let mask: Int
    private var storage: [UInt8]
    private var lengths: [Int]
    /// Extended sequence number held by each slot, or -1.
    private var sequences: [Int64]
    private var unwrapper = SequenceNumberUnwrapper()
    private var highest: Int64?

    /// `capacity` is rounded up to a power of two (at most 32768, half the sequence space).
    public init(capacity: Int = 1024, maxPacketSize: Int = 1500) {
        precondition(capacity > 0 && maxPacketSize > 0)
        var size = 1
        while size < min(capacity, 32768) { size <<= 1 }
        self.capacity = size
        self.maxPacketSize = maxPacketSize
        mask = size - 1
        storage = [UInt8](repeating: 0, count: size * maxPacketSize)
        lengths = [Int](repeating: 0, count: size)
        sequences = [Int64](repeating: -1, count: size)
    }

    /// Copies `packet` (a complete RTP packet) into the ring. Returns false if it exceeds
    /// `maxPacketSize` and was not stored.
    @discardableResult
    public mutating func store(_ packet: UnsafeRawBufferPointer, sequenceNumber: UInt16) -> Bool {
        guard packet.count <= maxPacketSize else { return false }
        let extended = unwrapper.unwrap(sequenceNumber)
        if let highest, extended <= highest - Int64(capacity) { return false }  // too old to keep
        highest = max(highest ?? extended, extended)
        let slot = Int(extended & Int64(mask))
        storage.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + slot * maxPacketSize
            if let source = packet.baseAddress { base.copyMemory(from: source, byteCount: packet.count) }
        }
        lengths[slot] = packet.count
        sequences[slot] = extended
        return true
    }

    @discardableResult
    public mutating func store(_ packet: [UInt8], sequenceNumber: UInt16) -> Bool {
        packet.withUnsafeBytes { store($0, sequenceNumber: sequenceNumber) }
    }

    /// Calls `body` with the stored packet for `sequenceNumber`, or returns nil if it is gone.
    public func withPacket<R>(sequenceNumber: UInt16, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let slot = slot(for: sequenceNumber) else { return nil }
        return try storage.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[(slot * maxPacketSize)..<(slot * maxPacketSize + lengths[slot])]))
        }
    }

    public func contains(sequenceNumber: UInt16) -> Bool { slot(for: sequenceNumber) != nil }

    private func slot(for sequenceNumber: UInt16) -> Int? {
        guard let highest else { return nil }
        let extended = highest + Int64(Int16(bitPattern: sequenceNumber &- UInt16(truncatingIfNeeded: highest)))
        let slot = Int(extended & Int64(mask))
        return sequences[slot] == extended ? slot : nil
    }
}
