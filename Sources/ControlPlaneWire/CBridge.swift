import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the C memory an encoder hands to protobuf-c (strings, byte buffers,
/// repeated fields) and frees all of it when the encode finishes.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit { for p in allocations { free(p) } }

    /// A NUL-terminated copy of `string`. Interior NULs cannot be represented in
    /// protobuf-c's `char *` strings, so they are rejected by the caller first.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let p = malloc(bytes.count)!
        allocations.append(p)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: p.assumingMemoryBound(to: UInt8.self))
    }

    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let p = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        p.initialize(from: values, count: values.count)
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// Keeps a heap copy of a nested message alive until the arena dies.
    func box<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        p.initialize(to: value)
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }
}

enum CRead {
    static func string(_ p: UnsafeMutablePointer<CChar>?, message: String, field: String) throws(WireError) -> String {
        guard let p else { return "" }
        guard let s = String(validatingCString: p) else { throw .invalidUTF8(message: message, field: field) }
        return s
    }

    /// Decodes a protobuf-c repeated message field (`n` pointers, none may be null).
    static func messages<C, T>(_ items: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?, count n: Int, message: String, field: String,
                               _ decode: (C) throws(WireError) -> T) throws(WireError) -> [T] {
        var out: [T] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            guard let p = items?[i] else { throw .missingField(message: message, field: field) }
            out.append(try decode(p.pointee))
        }
        return out
    }

    static func bytes(_ b: ProtobufCBinaryData) -> [UInt8] {
        guard b.len > 0, let data = b.data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: b.len))
    }
}

/// Packs any protobuf-c message given its size and pack functions.
@inline(__always)
func packMessage<M>(_ message: inout M, size: (UnsafePointer<M>) -> Int, pack: (UnsafePointer<M>, UnsafeMutablePointer<UInt8>) -> Int) -> [UInt8] {
    withUnsafePointer(to: &message) { m in
        let n = size(m)
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 {
            let written = out.withUnsafeMutableBufferPointer { pack(m, $0.baseAddress!) }
            precondition(written == n, "protobuf-c packed \(written) of \(n) bytes")
        }
        return out
    }
}

/// Calls `body` with a non-null pointer to `bytes` for protobuf-c's unpack functions.
@inline(__always)
func withInput<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if bytes.isEmpty {
        let zero: UInt8 = 0
        return withUnsafePointer(to: zero) { body($0, 0) }
    }
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
}

extension String {
    /// protobuf-c strings are NUL-terminated; a string containing NUL cannot be encoded faithfully.
    var hasInteriorNUL: Bool { utf8.contains(0) }
}
