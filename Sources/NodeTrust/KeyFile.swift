public import SodiumWrapper
import Foundation

/// Text files for Ed25519 keys: one line, a type tag and the base64 bytes.
///
///     demarc-ed25519-secret-v1 <base64 of the 32-byte seed>
///     demarc-ed25519-public-v1 <base64 of the 32-byte public key>
///
/// Secret files are written with mode 0600 by the CLI. The tag makes a public
/// key given where a secret is expected (or the reverse) a clear error.
public enum KeyFile {
    public static let secretTag = "demarc-ed25519-secret-v1"
    public static let publicTag = "demarc-ed25519-public-v1"

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case wrongKind(expected: String, found: String)
        case notBase64
        case wrongLength(expected: Int, actual: Int)

        public var description: String {
            switch self {
            case let .wrongKind(expected, found):
                "expected a '\(expected)' key file but found '\(found)'; check you passed the right file"
            case .notBase64: "the key is not valid base64"
            case let .wrongLength(expected, actual): "the key is \(actual) bytes; an Ed25519 key is \(expected)"
            }
        }
    }

    public static func encodeSecret(_ key: Ed25519.PrivateKey) -> String {
        key.withSeed { secretTag + " " + Data($0).base64EncodedString() + "\n" }
    }

    public static func encodePublic(_ key: Ed25519.PublicKey) -> String {
        publicTag + " " + Data(key.rawRepresentation).base64EncodedString() + "\n"
    }

    public static func decodeSecret(_ text: String) throws(KeyFile.Error) -> Ed25519.PrivateKey {
        var bytes = try payload(text, tag: secretTag)
        defer { Sodium.memzero(&bytes) }
        do { return try Ed25519.PrivateKey(seed: &bytes) } catch { throw .wrongLength(expected: 32, actual: bytes.count) }
    }

    /// Accepts a public key file, or a secret key file (whose public half is derived).
    public static func decodePublic(_ text: String) throws(KeyFile.Error) -> Ed25519.PublicKey {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix(secretTag) {
            return try decodeSecret(text).publicKey
        }
        let bytes = try payload(text, tag: publicTag)
        do { return try Ed25519.PublicKey(rawRepresentation: bytes) } catch { throw .wrongLength(expected: 32, actual: bytes.count) }
    }

    private static func payload(_ text: String, tag: String) throws(KeyFile.Error) -> [UInt8] {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        let found = parts.first.map(String.init) ?? ""
        guard found == tag, parts.count == 2 else { throw .wrongKind(expected: tag, found: String(found.prefix(40))) }
        guard let data = Data(base64Encoded: String(parts[1])) else { throw .notBase64 }
        guard data.count == 32 else { throw .wrongLength(expected: 32, actual: data.count) }
        return Array(data)
    }
}
