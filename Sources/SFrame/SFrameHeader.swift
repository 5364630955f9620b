/// Why bytes are not a well-formed SFrame header (RFC 9605 §4.3).
public enum SFrameHeaderError: Error, Equatable, Sendable {
    /// The buffer ends before the header does; `needed` counts the config byte.
    case truncated(needed: Int, available: Int)
    /// A KID or CTR field was not encoded in the minimum number of bytes, which §4.3 requires
    /// (a value 0–7 carried in an extended field, or a leading zero byte).
    case nonMinimalEncoding(field: Field)

    public enum Field: String, Sendable { case keyID = "KID", counter = "CTR" }
}

/// The SFrame header (RFC 9605 §4.3): a config byte `|X|K K K|Y|C C C|`, then the KID (if X)
/// and the CTR (if Y) as big-endian integers of the minimum length, 1–8 bytes each.
/// Values 0–7 ride in the config byte itself. The encoded header is also the start of the AAD.
public struct SFrameHeader: Hashable, Sendable {
    /// Longest encoding: config byte + 8-byte KID + 8-byte CTR.
    public static let maximumLength = 17

    public var keyID: UInt64
    public var counter: UInt64

    public init(keyID: UInt64, counter: UInt64) {
        self.keyID = keyID
        self.counter = counter
    }

    /// Bytes after the config byte needed for `value` (0 when it fits in 3 bits).
    @inline(__always) static func extendedLength(_ value: UInt64) -> Int {
        value < 8 ? 0 : (64 - value.leadingZeroBitCount + 7) / 8
    }

    /// Length of this header once encoded.
    public var encodedLength: Int { 1 + Self.extendedLength(keyID) + Self.extendedLength(counter) }

    /// Writes the header at the start of `output` (which must hold `encodedLength` bytes) and
    /// returns the number of bytes written.
    @discardableResult
    public func encode(into output: UnsafeMutableRawBufferPointer) -> Int {
        let kidLength = Self.extendedLength(keyID)
        let ctrLength = Self.extendedLength(counter)
        precondition(output.count >= 1 + kidLength + ctrLength, "SFrame header needs \(1 + kidLength + ctrLength) bytes")
        var config: UInt8 = 0
        config |= kidLength == 0 ? UInt8(keyID) << 4 : 0x80 | UInt8(kidLength - 1) << 4
        config |= ctrLength == 0 ? UInt8(counter) : 0x08 | UInt8(ctrLength - 1)
        output[0] = config
        var o = 1
        for i in stride(from: kidLength - 1, through: 0, by: -1) { output[o] = UInt8(truncatingIfNeeded: keyID >> (8 * UInt64(i))); o += 1 }
        for i in stride(from: ctrLength - 1, through: 0, by: -1) { output[o] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))); o += 1 }
        return o
    }

    /// The encoded header as an array.
    public var encoded: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: encodedLength) { buffer, count in
            count = encode(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Parses a header at the start of `bytes` without copying; returns it with its length.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(SFrameHeaderError) -> (header: SFrameHeader, length: Int) {
        guard bytes.count >= 1 else { throw .truncated(needed: 1, available: 0) }
        let config = bytes[0]
        let kidLength = config & 0x80 != 0 ? Int((config >> 4) & 0x07) + 1 : 0
        let ctrLength = config & 0x08 != 0 ? Int(config & 0x07) + 1 : 0
        let length = 1 + kidLength + ctrLength
        guard bytes.count >= length else { throw .truncated(needed: length, available: bytes.count) }
        func read(_ offset: Int, _ count: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in offset..<offset + count { value = value << 8 | UInt64(bytes[i]) }
            return value
        }
        let keyID = kidLength == 0 ? UInt64((config >> 4) & 0x07) : read(1, kidLength)
        let counter = ctrLength == 0 ? UInt64(config & 0x07) : read(1 + kidLength, ctrLength)
        guard kidLength == 0 || extendedLength(keyID) == kidLength else { throw .nonMinimalEncoding(field: .keyID) }
        guard ctrLength == 0 || extendedLength(counter) == ctrLength else { throw .nonMinimalEncoding(field: .counter) }
        return (SFrameHeader(keyID: keyID, counter: counter), length)
    }

    public static func parse(_ bytes: [UInt8]) throws(SFrameHeaderError) -> (header: SFrameHeader, length: Int) {
        try withBytes(bytes) { (raw) throws(SFrameHeaderError) in try parse(raw) }
    }
}
