import OpenSSLWrapper
import SodiumWrapper

/// The receiving half of an SFrame context: decryption keys by KID, each with its own replay
/// window (RFC 9605 §4.4.4, §9.3). Frames may arrive reordered within `ReplayWindow.size`;
/// a CTR is accepted once per key. Holds OpenSSL contexts: use from one task at a time.
///
/// With `ratchetOnDemand`, a frame under an unknown KID whose previous generation (Demarc KID
/// layout, `E2EEKeyID`) is installed is tried with the ratcheted key (`MediaKey.ratchet`), and
/// that key is kept only if the frame authenticates: receivers follow a join ratchet without
/// waiting for a message (docs/e2ee.md, "Rotation and ratchet").
public final class SFrameReceiver {
    private struct Entry {
        let context: SFrameKeyContext
        /// Kept only for ratcheting; zeroed when the entry goes.
        let baseKey: SecretBytes
        var window = ReplayWindow()
    }

    private var keys: [UInt64: Entry] = [:]
    public let ratchetOnDemand: Bool

    public init(ratchetOnDemand: Bool = false) {
        self.ratchetOnDemand = ratchetOnDemand
    }

    private static func entry(keyID: UInt64, baseKey: [UInt8], suite: SFrameCipherSuite) throws(SFrameError) -> Entry {
        let context = try SFrameKeyContext(keyID: keyID, baseKey: baseKey, suite: suite)
        var copy = baseKey
        return Entry(context: context, baseKey: SecretBytes(consuming: &copy))
    }

    /// Installs (or replaces, with a fresh replay window) the decryption key for `keyID`.
    public func addKey(keyID: UInt64, baseKey: [UInt8], suite: SFrameCipherSuite = .aes128GCMSHA256_128) throws(SFrameError) {
        keys[keyID] = try Self.entry(keyID: keyID, baseKey: baseKey, suite: suite)
    }

    /// The ratcheted key for `keyID` if its previous generation is installed.
    private func ratchetCandidate(for keyID: UInt64) throws(SFrameError) -> Entry? {
        let id = E2EEKeyID(keyID)
        let previous = E2EEKeyID(senderSlot: id.senderSlot, generation: id.generation &- 1)
        guard let known = keys[previous.rawValue] else { return nil }
        var base = known.baseKey.withUnsafeBytes { Array($0) }
        defer { secureZero(&base) }
        var next = try MediaKey.ratchet(base, to: id)
        defer { secureZero(&next) }
        return try Self.entry(keyID: keyID, baseKey: next, suite: known.context.suite)
    }

    /// Forgets a key, e.g. the previous generation once its grace period has passed.
    public func removeKey(keyID: UInt64) { keys[keyID] = nil }

    public func hasKey(_ keyID: UInt64) -> Bool { keys[keyID] != nil }

    public var keyIDs: [UInt64] { keys.keys.sorted() }

    /// Decrypts `frame` (header ‖ ciphertext ‖ tag) in place; returns the header and where the
    /// plaintext now lies in `frame`. No allocation. After a thrown error `frame` is unspecified.
    public func decrypt(metadata: UnsafeRawBufferPointer, frame: UnsafeMutableRawBufferPointer) throws(SFrameError) -> (header: SFrameHeader, plaintext: Range<Int>) {
        let parsed: (header: SFrameHeader, length: Int)
        do { parsed = try SFrameHeader.parse(UnsafeRawBufferPointer(frame)) } catch { throw .malformedHeader(error) }
        let header = parsed.header
        var candidate: Entry?
        if keys[header.keyID] == nil, ratchetOnDemand { candidate = try ratchetCandidate(for: header.keyID) }
        guard var entry = keys[header.keyID] ?? candidate else { throw .unknownKeyID(header.keyID) }
        let tagLength = entry.context.suite.tagLength
        guard frame.count >= parsed.length + tagLength else {
            throw .truncatedCiphertext(needed: parsed.length + tagLength, available: frame.count)
        }
        switch entry.window.check(header.counter) {
        case .replayed: throw .replayed(keyID: header.keyID, counter: header.counter)
        case .tooOld: throw .outsideReplayWindow(keyID: header.keyID, counter: header.counter)
        case .fresh: break
        }
        let range = try entry.context.open(header: header, headerLength: parsed.length, metadata: metadata, frame: frame)
        entry.window.accept(header.counter)
        keys[header.keyID] = entry
        return (header, range)
    }

    /// Decrypts a copy of `frame` and returns the plaintext.
    public func decrypt(_ frame: [UInt8], metadata: [UInt8] = []) throws(SFrameError) -> [UInt8] {
        var copy = frame
        let range = try withBytes(metadata) { (m) throws(SFrameError) in
            try withMutableBytes(&copy) { (f) throws(SFrameError) in try decrypt(metadata: m, frame: f).plaintext }
        }
        return Array(copy[range])
    }
}
