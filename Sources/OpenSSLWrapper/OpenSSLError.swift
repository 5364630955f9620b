import COpenSSL

/// A failure inside OpenSSL, with the library's error queue drained into text.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The OpenSSL call that failed, e.g. `"EVP_DigestInit_ex"`.
    public let operation: String
    /// Entries from OpenSSL's per-thread error queue, oldest first.
    public let reasons: [String]

    /// Captures and clears the current thread's OpenSSL error queue.
    /// (`ERR_print_errors_fp(stderr)` is not usable from Swift 6; we loop `ERR_get_error`.)
    init(_ operation: String) {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.operation = operation
        self.reasons = reasons
    }

    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation) failed: \(reasons.joined(separator: "; "))"
    }
}

/// The linked OpenSSL version, e.g. "OpenSSL 3.0.19 ...".
public enum OpenSSLLibrary {
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }
}
