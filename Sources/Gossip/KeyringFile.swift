import SodiumWrapper
import Foundation

/// The gossip keyring as a text file, the same on every node. One key a line, the
/// primary first (it seals; every key opens); `#` starts a comment:
///
///     demarc-gossip-key-v1 2026-12 <base64 of 32 random bytes>
///
/// Written by `demarc cluster up`; read by `demarc node run` (`gossip.keyring:`).
public enum KeyringFile {
    public static let tag = "demarc-gossip-key-v1"

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case empty
        case malformedLine(Int)
        case wrongLength(line: Int, actual: Int)
        case duplicateID(String)

        public var description: String {
            switch self {
            case .empty: "the keyring holds no key"
            case let .malformedLine(n): "line \(n) is not '\(KeyringFile.tag) <id> <base64 key>'"
            case let .wrongLength(n, actual): "line \(n): the key is \(actual) bytes; a gossip key is \(XChaCha20Poly1305.keyLength)"
            case let .duplicateID(id): "key id '\(id)' appears twice"
            }
        }
    }

    /// A keyring with one fresh random key named `id`, as file text.
    public static func generate(id: String) -> String {
        var bytes = RandomBytes.generate(count: XChaCha20Poly1305.keyLength)
        defer { Sodium.memzero(&bytes) }
        return "# demarc gossip keyring: the first key seals, every key opens. Keep it secret; the same file on every node.\n"
            + "\(tag) \(id) \(Data(bytes).base64EncodedString())\n"
    }

    public static func decode(_ text: String) throws(KeyringFile.Error) -> Keyring {
        var entries: [Keyring.Entry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == tag, let data = Data(base64Encoded: String(parts[2])) else { throw .malformedLine(i + 1) }
            guard data.count == XChaCha20Poly1305.keyLength else { throw .wrongLength(line: i + 1, actual: data.count) }
            let id = String(parts[1])
            guard !entries.contains(where: { $0.id == id }) else { throw .duplicateID(id) }
            var bytes = Array(data)
            guard let key = try? XChaCha20Poly1305.Key(consuming: &bytes) else { throw .wrongLength(line: i + 1, actual: data.count) }
            entries.append(.init(id: id, key: key))
        }
        guard let primary = entries.first else { throw .empty }
        return Keyring(primary: primary, secondary: Array(entries.dropFirst()))
    }
}
