import OpenSSLWrapper

/// Session keys derived from a master key (RFC 3711 §4.3) for one of SRTP or SRTCP.
public struct SRTPSessionKeys: Sendable {
    public var encryptionKey: [UInt8]
    public var authenticationKey: [UInt8]
    public var salt: [UInt8]

    public init(encryptionKey: [UInt8], authenticationKey: [UInt8], salt: [UInt8]) {
        self.encryptionKey = encryptionKey
        self.authenticationKey = authenticationKey
        self.salt = salt
    }

    mutating func zero() {
        secureZero(&encryptionKey)
        secureZero(&authenticationKey)
        secureZero(&salt)
    }
}

/// The SRTP key derivation function: the AES-CM PRF keyed with the master key (RFC 3711 §4.3.1
/// and §4.3.3), with key derivation rate 0 as DTLS-SRTP requires (RFC 5764 §4.1.2). GCM
/// profiles use the same PRF with their 96-bit master salt padded to 112 bits (RFC 7714 §11).
public enum SRTPKeyDerivation {
    /// Key labels (RFC 3711 §4.3.1, §4.3.2).
    public enum Label: UInt8, Sendable {
        case rtpEncryption = 0, rtpAuthentication = 1, rtpSalt = 2
        case rtcpEncryption = 3, rtcpAuthentication = 4, rtcpSalt = 5
    }

    /// `length` bytes of PRF output for `label`.
    public static func derive(masterKey: [UInt8], masterSalt: [UInt8], label: Label, length: Int) throws(SRTPError) -> [UInt8] {
        guard masterKey.count == 16 || masterKey.count == 32 else { throw .invalidKeyLength(expected: 16, actual: masterKey.count) }
        guard masterSalt.count == 14 || masterSalt.count == 12 else { throw .invalidKeyLength(expected: 14, actual: masterSalt.count) }
        // x = (label || r) XOR master salt, with r = index DIV kdr = 0; IV = x * 2^16.
        var iv = [UInt8](repeating: 0, count: 16)
        for i in 0..<masterSalt.count { iv[i] = masterSalt[i] }
        iv[7] ^= label.rawValue
        var output = [UInt8](repeating: 0, count: length)
        let result: Result<Void, OpenSSLError> = iv.withUnsafeBytes { ivBytes in
            output.withUnsafeMutableBytes { out in
                Result { () throws(OpenSSLError) in try AESCounterMode(key: masterKey).apply(iv: ivBytes, to: out) }
            }
        }
        if case .failure(let error) = result { throw .crypto(error) }
        return output
    }

    /// The SRTP (or, with `rtcp`, SRTCP) session keys for `profile`.
    public static func sessionKeys(profile: SRTPProtectionProfile, master: SRTPMasterKeys, rtcp: Bool) throws(SRTPError) -> SRTPSessionKeys {
        guard master.key.count == profile.keyLength else { throw .invalidKeyLength(expected: profile.keyLength, actual: master.key.count) }
        guard master.salt.count == profile.saltLength else { throw .invalidKeyLength(expected: profile.saltLength, actual: master.salt.count) }
        let labels: (Label, Label, Label) = rtcp ? (.rtcpEncryption, .rtcpAuthentication, .rtcpSalt) : (.rtpEncryption, .rtpAuthentication, .rtpSalt)
        return SRTPSessionKeys(
            encryptionKey: try derive(masterKey: master.key, masterSalt: master.salt, label: labels.0, length: profile.keyLength),
            authenticationKey: profile.authenticationKeyLength == 0 ? []
                : try derive(masterKey: master.key, masterSalt: master.salt, label: labels.1, length: profile.authenticationKeyLength),
            salt: try derive(masterKey: master.key, masterSalt: master.salt, label: labels.2, length: profile.saltLength))
    }
}
