import SodiumWrapper
import Foundation

/// The cluster keyring as a text file, the same on every node:
///
///     # comments and blank lines are ignored
///     demarc-gossip-key-v1 <key id> <base64 of 32 random bytes>
///
/// The first key line is the primary (it seals); every listed key opens
/// (docs/gossip.md, "Keyring and packet security"). Key bytes never appear in
/// errors or logs. The node reads the file at start; rotating is editing the
/// file on every node in the documented order and restarting or reloading.
public enum KeyringFile {
    public static let tag = "demarc-gossip-key-v1"

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case malformedLine(line: Int, reason: String)
        case duplicateID(line: Int, id: String)

        public var description: String {
            switch self {
            case .empty: "the keyring has no key; create one with `demarc keyring generate --out FILE`"
            case let .malformedLine(line, reason): "keyring line \(line): \(reason); expected `\(KeyringFile.tag) <id> <base64 32 bytes>`"
            case let .duplicateID(line, id): "keyring line \(line): key id '\(id)' is listed twice"
            }
        }
    }

    public static func parse(_ text: String) throws(KeyringFile.Error) -> Keyring {
        var entries: [Keyring.Entry] = []
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, parts[0] == tag else {
                throw .malformedLine(line: i + 1, reason: parts.first.map { $0 == Substring(tag) ? "wrong number of fields" : "unknown tag" } ?? "empty")
            }
            let id = String(parts[1])
            guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                throw .malformedLine(line: i + 1, reason: "the key id must be 1-64 printable ASCII characters")
            }
            guard seen.insert(id).inserted else { throw .duplicateID(line: i + 1, id: id) }
            guard var bytes = Data(base64Encoded: String(parts[2])).map(Array.init), bytes.count == XChaCha20Poly1305.keyLength else {
                throw .malformedLine(line: i + 1, reason: "the key is not base64 of \(XChaCha20Poly1305.keyLength) bytes")
            }
            guard let key = try? XChaCha20Poly1305.Key(consuming: &bytes) else {
                throw .malformedLine(line: i + 1, reason: "the key was refused")
            }
            entries.append(.init(id: id, key: key))
        }
        guard let primary = entries.first else { throw .empty }
        return Keyring(primary: primary, secondary: Array(entries.dropFirst()))
    }

    /// A new keyring file text with one fresh random key.
    public static func generate(id: String) -> String {
        var bytes = SecretBytes(randomCount: XChaCha20Poly1305.keyLength).withUnsafeBytes { Array($0) }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return "# Demarc gossip keyring: the first key seals, every key opens. Same file on every node. Secret.\n"
            + "\(tag) \(id) \(Data(bytes).base64EncodedString())\n"
    }
}
