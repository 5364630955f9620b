import CSodium

/// Secret key material that is zeroed (`sodium_memzero`) when released.
///
/// The bytes live in a buffer this class owns; they are never copied into an
/// `Array` except on explicit request (`withUnsafeBytes`). `description` never
/// prints the contents, so a secret logged by mistake shows as `<redacted>`.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible {
    // Immutable after init: @unchecked Sendable is sound.
    private let buffer: UnsafeMutableRawBufferPointer

    /// Number of secret bytes.
    public var count: Int { count_ }

    /// Copies `bytes` into owned storage and zeroes the caller's array.
    public init(consuming bytes: inout [UInt8]) {
        Sodium.ensureInitialized()
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage[0] = 0
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { storage.baseAddress!.copyMemory(from: base, byteCount: source.count) }
        }
        buffer = storage
        count_ = bytes.count
        Sodium.memzero(&bytes)
    }

    private let count_: Int

    /// Fresh random secret of `count` bytes.
    public convenience init(randomCount count: Int) {
        var bytes = RandomBytes.generate(count: count)
        self.init(consuming: &bytes)
    }

    deinit {
        sodium_memzero(buffer.baseAddress!, buffer.count)
        buffer.deallocate()
    }

    /// Gives temporary read access to the secret; do not let the pointer escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count_]))
    }

    public var description: String { "<redacted \(count_) bytes>" }
}
