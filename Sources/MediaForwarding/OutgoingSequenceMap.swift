/// Per subscription: which source packet each recently sent outgoing sequence number
/// carried, so a subscriber's NACK (in its own numbering) finds the packet in the
/// publisher-side cache. A fixed ring indexed by the outgoing sequence number.
struct OutgoingSequenceMap<Instant: InstantProtocol>: Sendable where Instant: Sendable {
    struct Entry: Sendable {
        var outgoing: UInt16 = 0
        var valid = false
        var layer: UInt8 = 0
        var sourceSequence: UInt16 = 0
        var timestamp: UInt32 = 0
        var lastResent: Instant?
        /// The subscriber has NACKed it at least once (counted once as a congestion signal).
        var nacked = false
    }

    private var entries: [Entry]
    private let mask: Int

    init(capacity: Int) {
        var size = 1
        while size < min(max(capacity, 1), 32768) { size <<= 1 }
        entries = [Entry](repeating: Entry(), count: size)
        mask = size - 1
    }

    mutating func record(outgoing: UInt16, layer: Int, sourceSequence: UInt16, timestamp: UInt32) {
        entries[Int(outgoing) & mask] = Entry(outgoing: outgoing, valid: true, layer: UInt8(layer),
                                              sourceSequence: sourceSequence, timestamp: timestamp, lastResent: nil)
    }

    func lookup(_ outgoing: UInt16) -> Entry? {
        let entry = entries[Int(outgoing) & mask]
        return entry.valid && entry.outgoing == outgoing ? entry : nil
    }

    /// Marks `outgoing` as NACKed; true the first time (for ``RepairLossMeter``).
    mutating func markNacked(_ outgoing: UInt16) -> Bool {
        let slot = Int(outgoing) & mask
        guard entries[slot].valid, entries[slot].outgoing == outgoing, !entries[slot].nacked else { return false }
        entries[slot].nacked = true
        return true
    }

    mutating func markResent(_ outgoing: UInt16, now: Instant) {
        let slot = Int(outgoing) & mask
        if entries[slot].outgoing == outgoing { entries[slot].lastResent = now }
    }
}
