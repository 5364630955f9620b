import ControlPlaneWire

/// Updates waiting to be disseminated, each sent a bounded number of times
/// (SWIM §4.1; memberlist's TransmitLimitedQueue). A newer update about a
/// member replaces an older one about the same member.
struct BroadcastQueue: Sendable {
    struct Item: Sendable {
        var update: MemberUpdateMessage
        /// Bytes the update adds to a packet (exact, from the encoder).
        var size: Int
        var transmits: Int
        var order: UInt64
    }

    private(set) var items: [String: Item] = [:]
    private var counter: UInt64 = 0

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func enqueue(_ update: MemberUpdateMessage, size: Int) {
        counter += 1
        items[update.nodeID] = Item(update: update, size: size, transmits: 0, order: counter)
    }

    mutating func remove(nodeID: String) { items[nodeID] = nil }

    /// Takes the least-sent (then newest) updates that fit in `budget` bytes,
    /// counting one transmission each and retiring those sent `limit` times.
    mutating func take(budget: Int, limit: Int, excluding excluded: String? = nil) -> [MemberUpdateMessage] {
        guard !items.isEmpty, budget > 0 else { return [] }
        let ordered = items.values.sorted { a, b in
            a.transmits != b.transmits ? a.transmits < b.transmits : a.order > b.order
        }
        var remaining = budget
        var out: [MemberUpdateMessage] = []
        for item in ordered where item.size <= remaining && item.update.nodeID != excluded {
            out.append(item.update)
            remaining -= item.size
            let id = item.update.nodeID
            if item.transmits + 1 >= limit { items[id] = nil } else { items[id]!.transmits += 1 }
            if remaining < 16 { break }
        }
        return out
    }
}
