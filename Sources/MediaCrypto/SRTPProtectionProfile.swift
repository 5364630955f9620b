/// The SRTP protection profiles Demarc negotiates in DTLS use_srtp (RFC 5764 §4.1.2,
/// RFC 7714 §14.2), preferring GCM.
public enum SRTPProtectionProfile: Sendable, Equatable, CaseIterable {
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001): AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 3711).
    case aes128CMHMACSHA1_80
    /// SRTP_AEAD_AES_128_GCM (0x0007): AES-128-GCM with a 16-byte tag (RFC 7714).
    case aeadAES128GCM

    /// The profile's DTLS-SRTP identifier.
    public var identifier: UInt16 {
        switch self {
        case .aes128CMHMACSHA1_80: 0x0001
        case .aeadAES128GCM: 0x0007
        }
    }

    public init?(identifier: UInt16) {
        guard let profile = Self.allCases.first(where: { $0.identifier == identifier }) else { return nil }
        self = profile
    }

    /// The name OpenSSL's `SSL_CTX_set_tlsext_use_srtp` expects.
    public var openSSLName: String {
        switch self {
        case .aes128CMHMACSHA1_80: "SRTP_AES128_CM_SHA1_80"
        case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
        }
    }

    public var keyLength: Int { 16 }

    /// Master and session salt length: 112 bits for AES-CM, 96 bits for GCM (RFC 7714 §12).
    public var saltLength: Int { self == .aeadAES128GCM ? 12 : 14 }

    /// Bytes appended to each SRTP packet (the tag).
    public var rtpTagLength: Int { self == .aeadAES128GCM ? 16 : 10 }

    /// Bytes appended to each SRTCP packet (tag plus the 4-byte E flag and index).
    public var rtcpTrailerLength: Int { rtpTagLength + 4 }

    /// HMAC-SHA1 session authentication key length; AEAD needs none.
    var authenticationKeyLength: Int { self == .aeadAES128GCM ? 0 : 20 }

    /// How many bytes to export from DTLS with the label "EXTRACTOR-dtls_srtp" (RFC 5764 §4.2).
    public var keyingMaterialLength: Int { 2 * (keyLength + saltLength) }
}

/// A master key and salt for one direction.
public struct SRTPMasterKeys: Sendable, Equatable {
    public var key: [UInt8]
    public var salt: [UInt8]

    public init(key: [UInt8], salt: [UInt8]) {
        self.key = key
        self.salt = salt
    }
}

extension SRTPProtectionProfile {
    /// Splits keying material exported from DTLS into the client's and server's write keys
    /// (RFC 5764 §4.2: client key | server key | client salt | server salt).
    public func splitKeyingMaterial(_ material: [UInt8]) throws(SRTPError) -> (client: SRTPMasterKeys, server: SRTPMasterKeys) {
        guard material.count == keyingMaterialLength else {
            throw .invalidKeyLength(expected: keyingMaterialLength, actual: material.count)
        }
        let k = keyLength
        let s = saltLength
        return (SRTPMasterKeys(key: Array(material[0..<k]), salt: Array(material[(2 * k)..<(2 * k + s)])),
                SRTPMasterKeys(key: Array(material[k..<(2 * k)]), salt: Array(material[(2 * k + s)..<(2 * k + 2 * s)])))
    }
}
