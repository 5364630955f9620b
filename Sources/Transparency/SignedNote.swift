public import SodiumWrapper
import Foundation

/// A C2SP signed note (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank
/// line, then one or more lines `— <key name> <base64(4-byte key ID ‖ signature)>`.
public struct SignedNote: Sendable, Equatable {
    /// The signed text, including its final newline.
    public let text: String
    public let signatures: [Signature]

    public struct Signature: Sendable, Equatable {
        public let keyName: String
        public let keyID: UInt32
        public let signature: [UInt8]
    }

    /// Verifiers accept at most this many signature lines (the spec requires at least 16).
    public static let maxSignatures = 64
    /// Notes larger than this are rejected before parsing.
    public static let maxSize = 64 * 1024

    public init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// The serialised note.
    public var serialized: String {
        var s = text + "\n"
        for sig in signatures {
            var raw: [UInt8] = withUnsafeBytes(of: sig.keyID.bigEndian) { Array($0) }
            raw += sig.signature
            s += "\u{2014} \(sig.keyName) \(Data(raw).base64EncodedString())\n"
        }
        return s
    }

    /// Parses a note without verifying it. Signature lines that are malformed fail the
    /// whole note; signatures by unknown keys are kept (the verifier ignores them).
    public static func parse(_ note: String) throws(NoteError) -> SignedNote {
        let utf8 = Array(note.utf8)
        guard utf8.count <= maxSize else { throw .tooLarge(utf8.count) }
        guard !utf8.contains(where: { $0 < 0x20 && $0 != 0x0A }) else { throw .controlCharacter }
        guard let split = note.range(of: "\n\n", options: .backwards) else { throw .missingSignatureBlock }
        let text = String(note[note.startIndex..<split.lowerBound]) + "\n"
        let block = note[split.upperBound...]
        guard block.hasSuffix("\n") else { throw .malformedSignatureLine("the signature block must end with a newline") }
        var signatures: [Signature] = []
        for line in block.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\u{2014} ") else { throw .malformedSignatureLine(String(line.prefix(80))) }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains("+"),
                  let raw = Data(base64Encoded: String(parts[1])), raw.count > 4,
                  // Canonical base64 only: no unused non-zero bits, so a signature line has one spelling.
                  raw.base64EncodedString() == parts[1] else {
                throw .malformedSignatureLine(String(line.prefix(80)))
            }
            let bytes = Array(raw)
            let id = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            signatures.append(Signature(keyName: String(parts[0]), keyID: id, signature: Array(bytes[4...])))
            guard signatures.count <= maxSignatures else { throw .tooManySignatures }
        }
        guard !signatures.isEmpty else { throw .missingSignatureBlock }
        return SignedNote(text: text, signatures: signatures)
    }
}

/// Signs notes with an Ed25519 key under a key name (C2SP signed-note, type 0x01).
public struct NoteSigner: Sendable {
    public let keyName: String
    public let keyID: UInt32
    private let key: Ed25519.PrivateKey

    public init(keyName: String, key: Ed25519.PrivateKey) throws(NoteError) {
        try NoteVerifier.checkKeyName(keyName)
        self.keyName = keyName
        self.key = key
        keyID = NoteVerifier.keyID(name: keyName, publicKey: key.publicKey)
    }

    public var verifier: NoteVerifier { try! NoteVerifier(keyName: keyName, publicKey: key.publicKey) }

    /// Signs `text` (which must end in a newline) and returns the note.
    public func sign(_ text: String) -> SignedNote {
        precondition(text.hasSuffix("\n"), "note text must end with a newline")
        let sig = key.signature(for: Array(text.utf8))
        return SignedNote(text: text, signatures: [.init(keyName: keyName, keyID: keyID, signature: sig)])
    }
}

/// Verifies C2SP signed notes made with one Ed25519 key.
public struct NoteVerifier: Sendable, Equatable {
    public let keyName: String
    public let keyID: UInt32
    public let publicKey: Ed25519.PublicKey

    public init(keyName: String, publicKey: Ed25519.PublicKey) throws(NoteError) {
        try NoteVerifier.checkKeyName(keyName)
        self.keyName = keyName
        self.publicKey = publicKey
        keyID = NoteVerifier.keyID(name: keyName, publicKey: publicKey)
    }

    /// `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]`, big-endian (c2sp.org/signed-note).
    public static func keyID(name: String, publicKey: Ed25519.PublicKey) -> UInt32 {
        let digest = SHA256.hash(Array(name.utf8) + [0x0A, 0x01] + publicKey.rawRepresentation)
        return digest[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    static func checkKeyName(_ name: String) throws(NoteError) {
        guard !name.isEmpty, !name.contains("+"), !name.unicodeScalars.contains(where: { $0.properties.isWhitespace }),
              !name.utf8.contains(where: { $0 < 0x20 }) else { throw .invalidKeyName(name) }
    }

    /// Returns the note's text when a signature by this key verifies. Signatures by other
    /// keys are ignored; a failing signature by this key rejects the note (the spec's SHOULD).
    public func open(_ note: SignedNote) throws(NoteError) -> String {
        var verified = false
        for sig in note.signatures where sig.keyName == keyName && sig.keyID == keyID {
            guard publicKey.isValidSignature(sig.signature, for: Array(note.text.utf8)) else { throw .badSignature(keyName) }
            verified = true
        }
        guard verified else { throw .noSignatureByKnownKey }
        return note.text
    }
}

public enum NoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(Int)
    case controlCharacter
    case missingSignatureBlock
    case malformedSignatureLine(String)
    case tooManySignatures
    case invalidKeyName(String)
    case badSignature(String)
    case noSignatureByKnownKey

    public var description: String {
        switch self {
        case let .tooLarge(n): "the signed note is \(n) bytes, over the \(SignedNote.maxSize)-byte limit"
        case .controlCharacter: "the signed note contains a control character other than newline"
        case .missingSignatureBlock: "the note has no signature block (a blank line followed by '— name signature' lines)"
        case let .malformedSignatureLine(line): "malformed signature line: \(line)"
        case .tooManySignatures: "the note has more than \(SignedNote.maxSignatures) signatures"
        case let .invalidKeyName(n): "'\(n)' is not a valid key name (non-empty, no spaces, no '+')"
        case let .badSignature(n): "the signature by '\(n)' does not verify: the note was altered or signed by another key"
        case .noSignatureByKnownKey: "the note carries no signature by the expected key; check you passed the right key file"
        }
    }
}
