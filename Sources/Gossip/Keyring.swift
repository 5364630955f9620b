public import SodiumWrapper

/// The cluster's gossip keys (memberlist's keyring model): the primary key seals
/// every packet, every installed key opens. Rotation without downtime:
/// 1. `install` the new key on every node (it opens, does not seal yet);
/// 2. `usePrimary` the new key on every node (packets from nodes still on the old
///    primary still open, because the old key stays installed);
/// 3. once every node seals with the new key and packets sealed under the old one have
///    drained (seconds), `remove` the old key everywhere.
public struct Keyring: Sendable {
    public struct Entry: Sendable {
        /// Operator-chosen label, e.g. "2026-11"; never the key itself.
        public var id: String
        public var key: XChaCha20Poly1305.Key
        public init(id: String, key: XChaCha20Poly1305.Key) {
            self.id = id
            self.key = key
        }
    }

    /// Primary first.
    public private(set) var entries: [Entry]

    public init(primary: Entry, secondary: [Entry] = []) {
        entries = [primary] + secondary.filter { $0.id != primary.id }
    }

    public var primaryID: String { entries[0].id }
    public var keyIDs: [String] { entries.map(\.id) }

    /// Adds a key that opens packets; it does not seal until made primary.
    public mutating func install(_ entry: Entry) {
        let primary = primaryID
        guard entry.id != primary else { return }
        entries.removeAll { $0.id == entry.id }
        entries.append(entry)
    }

    /// Makes an installed key the primary.
    public mutating func usePrimary(id: String) throws(KeyringError) {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { throw .unknownKey(id) }
        let entry = entries.remove(at: i)
        entries.insert(entry, at: 0)
    }

    /// Removes a key. The primary cannot be removed.
    public mutating func remove(id: String) throws(KeyringError) {
        let primary = primaryID
        guard id != primary else { throw .cannotRemovePrimary(id) }
        guard entries.contains(where: { $0.id == id }) else { throw .unknownKey(id) }
        entries.removeAll { $0.id == id }
    }
}

public enum KeyringError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownKey(String)
    case cannotRemovePrimary(String)

    public var description: String {
        switch self {
        case let .unknownKey(id): "no gossip key with id '\(id)' is installed"
        case let .cannotRemovePrimary(id): "gossip key '\(id)' is the primary; make another key primary before removing it"
        }
    }
}
