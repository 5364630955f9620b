import OpenSSLWrapper

/// HKDF with HMAC-SHA-256 (RFC 5869). Used at key set-up, never per frame, so the simple
/// allocating HMAC is fine here.
public enum HKDF {
    public static let hashLength = 32

    /// HKDF-Extract(salt, IKM) → PRK (RFC 5869 §2.2). An empty salt means HashLen zero bytes.
    public static func extract(salt: [UInt8], inputKeyingMaterial ikm: [UInt8]) throws(SFrameError) -> [UInt8] {
        let key = salt.isEmpty ? [UInt8](repeating: 0, count: hashLength) : salt
        do { return try HMAC.authenticate(ikm, key: key, algorithm: .sha256) } catch { throw .cryptoFailure(error.description) }
    }

    /// HKDF-Expand(PRK, info, L) → OKM (RFC 5869 §2.3); `length` ≤ 255 · HashLen.
    public static func expand(pseudorandomKey prk: [UInt8], info: [UInt8], length: Int) throws(SFrameError) -> [UInt8] {
        precondition(length > 0 && length <= 255 * hashLength, "HKDF-Expand length \(length)")
        var output: [UInt8] = []
        output.reserveCapacity(length + hashLength)
        var previous: [UInt8] = []
        var block: UInt8 = 1
        while output.count < length {
            var message = previous + info
            message.append(block)
            do { previous = try HMAC.authenticate(message, key: prk, algorithm: .sha256) } catch { throw .cryptoFailure(error.description) }
            secureZero(&message)
            output += previous
            block &+= 1
        }
        secureZero(&previous)
        let result = Array(output.prefix(length))
        secureZero(&output)
        return result
    }

    /// Extract then expand.
    public static func derive(inputKeyingMaterial ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) throws(SFrameError) -> [UInt8] {
        var prk = try extract(salt: salt, inputKeyingMaterial: ikm)
        defer { secureZero(&prk) }
        return try expand(pseudorandomKey: prk, info: info, length: length)
    }
}
