import COpenSSL

/// A self-signed ECDSA P-256 certificate and its key, as a WebRTC endpoint uses
/// for DTLS (RFC 8827 §6.5: certificates are self-signed and authenticated by the
/// SDP fingerprint). Owns the OpenSSL handles and frees them on deinit.
public final class ECDSACertificate: @unchecked Sendable {
    // The handles are only read after init; OpenSSL's X509/EVP_PKEY reads are thread-safe.
    let key: OpaquePointer
    let certificate: OpaquePointer

    /// Generates a fresh key pair and a certificate valid from one day ago for `validityDays`.
    public init(commonName: String = "demarc", validityDays: Int = 30) throws(OpenSSLError) {
        guard let key = demarc_EVP_EC_gen("P-256") else { throw OpenSSLError("EVP_EC_gen") }
        guard let cert = X509_new() else { EVP_PKEY_free(key); throw OpenSSLError("X509_new") }
        self.key = key
        self.certificate = cert
        guard X509_set_version(cert, 2) == 1 else { throw OpenSSLError("X509_set_version") }
        var serial = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw OpenSSLError("RAND_bytes") }
        let serialValue = serial.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } & 0x7fff_ffff_ffff_ffff
        guard ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serialValue) == 1 else {
            throw OpenSSLError("ASN1_INTEGER_set_uint64")
        }
        guard X509_gmtime_adj(X509_getm_notBefore(cert), -86_400) != nil,
              X509_gmtime_adj(X509_getm_notAfter(cert), validityDays * 86_400) != nil else {
            throw OpenSSLError("X509_gmtime_adj")
        }
        let name = X509_get_subject_name(cert)
        let added = commonName.withCString { cn in
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, UnsafeRawPointer(cn).assumingMemoryBound(to: UInt8.self), -1, -1, 0)
        }
        guard added == 1, X509_set_issuer_name(cert, name) == 1 else { throw OpenSSLError("X509_NAME_add_entry_by_txt") }
        guard X509_set_pubkey(cert, key) == 1 else { throw OpenSSLError("X509_set_pubkey") }
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw OpenSSLError("X509_sign") }
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// The DER encoding of the certificate.
    public func derEncoded() throws(OpenSSLError) -> [UInt8] {
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { throw OpenSSLError("i2d_X509") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        guard written == length else { throw OpenSSLError("i2d_X509") }
        return out
    }

    /// The SDP fingerprint value (RFC 8122 §5): uppercase hex pairs joined by colons.
    public func fingerprint(_ algorithm: DigestAlgorithm = .sha256) throws(OpenSSLError) -> String {
        try Self.fingerprint(der: try derEncoded(), algorithm: algorithm)
    }

    /// The RFC 8122 fingerprint of a DER-encoded certificate.
    static func fingerprint(der: [UInt8], algorithm: DigestAlgorithm) throws(OpenSSLError) -> String {
        let digest = try Digest.hash(der, algorithm: algorithm)
        return digest.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
