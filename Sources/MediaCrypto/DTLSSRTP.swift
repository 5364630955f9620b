public import OpenSSLWrapper
public import MediaPackets

/// Why SRTP keys could not be taken from a DTLS association.
public enum DTLSSRTPError: Error, Sendable {
    case handshakeIncomplete
    /// The peer did not negotiate use_srtp, or chose a profile we do not implement.
    case noCommonProfile(UInt16?)
    /// The certificate the peer presented does not match the `a=fingerprint` from its SDP
    /// (RFC 8122 §5, RFC 8842 §5): the association must be torn down.
    case fingerprintMismatch(expected: String, actual: String)
    case unsupportedFingerprintAlgorithm(String)
    case crypto(OpenSSLError)
    case srtp(SRTPError)
}

/// The SRTP contexts of one DTLS-SRTP association: protect what we send with `outbound`,
/// unprotect what we receive with `inbound`.
public struct SRTPSession {
    public let profile: SRTPProtectionProfile
    public let outbound: SRTPContext
    public let inbound: SRTPContext
}

/// DTLS-SRTP key establishment (RFC 5764 §4.2): checks the peer's certificate against its SDP
/// fingerprint, reads the negotiated profile, exports the keying material and splits it by role.
public enum DTLSSRTP {
    /// The profiles Demarc offers, best first, in OpenSSL's spelling.
    public static let offeredProfiles = [SRTPProtectionProfile.aeadAES128GCM, .aes128CMHMACSHA1_80].map(\.openSSLName)

    public static func establish(_ connection: DTLSConnection, peerFingerprint: SDPFingerprint) throws(DTLSSRTPError) -> SRTPSession {
        guard connection.isHandshakeComplete else { throw .handshakeIncomplete }
        let algorithm: DigestAlgorithm
        switch peerFingerprint.algorithm.lowercased() {
        case "sha-256": algorithm = .sha256
        case "sha-1": algorithm = .sha1
        default: throw .unsupportedFingerprintAlgorithm(peerFingerprint.algorithm)
        }
        let actual: String
        do { actual = try connection.peerFingerprint(algorithm) } catch { throw .crypto(error) }
        guard actual == peerFingerprint.value.uppercased() else {
            throw .fingerprintMismatch(expected: peerFingerprint.value.uppercased(), actual: actual)
        }
        let selected = connection.selectedSRTPProfile
        guard let id = selected, let profile = SRTPProtectionProfile(identifier: id) else { throw .noCommonProfile(selected) }
        var material: [UInt8]
        do { material = try connection.exportKeyingMaterial(length: profile.keyingMaterialLength) } catch { throw .crypto(error) }
        defer { secureZero(&material) }
        do {
            var (client, server) = try profile.splitKeyingMaterial(material)
            defer {
                secureZero(&client.key)
                secureZero(&client.salt)
                secureZero(&server.key)
                secureZero(&server.salt)
            }
            let (local, remote) = connection.role == .client ? (client, server) : (server, client)
            return SRTPSession(profile: profile,
                               outbound: try SRTPContext(profile: profile, master: local),
                               inbound: try SRTPContext(profile: profile, master: remote))
        } catch {
            throw .srtp(error)
        }
    }
}
