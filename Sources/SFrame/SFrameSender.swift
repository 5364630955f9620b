/// The sending half of one participant's SFrame context (RFC 9605 §4.4.1, Appendix A): the
/// current send key and a CTR that only grows. The counter carries over key rotations, so a
/// sender never repeats a CTR in its session, and (base_key, KID, CTR) is never reused (§9.1).
/// A key is used here for encryption only, never installed in a receiver of the same client.
public final class SFrameSender {
    public private(set) var current: SFrameKeyContext
    /// CTR of the next frame.
    public private(set) var nextCounter: UInt64

    public init(keyID: UInt64, baseKey: [UInt8], suite: SFrameCipherSuite = .aes128GCMSHA256_128, firstCounter: UInt64 = 0) throws(SFrameError) {
        current = try SFrameKeyContext(keyID: keyID, baseKey: baseKey, suite: suite)
        nextCounter = firstCounter
    }

    /// Switches to a new key (rotation or ratchet); the counter keeps counting.
    public func rotate(keyID: UInt64, baseKey: [UInt8]) throws(SFrameError) {
        current = try SFrameKeyContext(keyID: keyID, baseKey: baseKey, suite: current.suite)
    }

    /// Encrypts one frame into `output` (header ‖ ciphertext ‖ tag) and returns its length.
    /// No allocation. `output` needs `plaintext.count + current.maximumOverhead` bytes.
    public func encrypt(metadata: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(SFrameError) -> Int {
        guard nextCounter != .max else { throw .counterExhausted(keyID: current.keyID) }
        let written = try current.seal(counter: nextCounter, metadata: metadata, plaintext: plaintext, into: output)
        nextCounter += 1
        return written
    }

    /// Encrypts one frame and returns header ‖ ciphertext ‖ tag.
    public func encrypt(_ plaintext: [UInt8], metadata: [UInt8] = []) throws(SFrameError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + current.maximumOverhead)
        let written = try withBytes(metadata) { (m) throws(SFrameError) in
            try withBytes(plaintext) { (p) throws(SFrameError) in
                try withMutableBytes(&out) { (o) throws(SFrameError) in try encrypt(metadata: m, plaintext: p, into: o) }
            }
        }
        out.removeLast(out.count - written)
        return out
    }
}
