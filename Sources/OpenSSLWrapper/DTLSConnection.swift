import COpenSSL

/// Settings shared by every DTLS connection of a node: the certificate whose fingerprint goes
/// into SDP and the SRTP profiles offered in use_srtp (RFC 5764 §4.1).
///
/// DTLS 1.2 only (WebRTC's floor, RFC 8827 §6.5). Peers present self-signed certificates, so
/// OpenSSL accepts any certificate and the caller must compare ``DTLSConnection/peerFingerprint(_:)``
/// with the fingerprint from the peer's SDP before trusting the keys (RFC 8122 §5).
public final class DTLSContext: @unchecked Sendable {
    // Configured once in init and only read afterwards; SSL_CTX reads are thread-safe.
    let context: OpaquePointer
    public let certificate: ECDSACertificate

    /// `srtpProfiles` are OpenSSL names in preference order, e.g. `SRTP_AEAD_AES_128_GCM`.
    public init(certificate: ECDSACertificate, srtpProfiles: [String]) throws(OpenSSLError) {
        guard let context = SSL_CTX_new(DTLS_method()) else { throw OpenSSLError("SSL_CTX_new") }
        self.context = context
        self.certificate = certificate
        guard demarc_SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) == 1,
              demarc_SSL_CTX_set_max_proto_version(context, DTLS1_2_VERSION) == 1 else {
            throw OpenSSLError("SSL_CTX_set_min/max_proto_version")
        }
        guard SSL_CTX_use_certificate(context, certificate.certificate) == 1 else { throw OpenSSLError("SSL_CTX_use_certificate") }
        guard SSL_CTX_use_PrivateKey(context, certificate.key) == 1 else { throw OpenSSLError("SSL_CTX_use_PrivateKey") }
        guard SSL_CTX_check_private_key(context) == 1 else { throw OpenSSLError("SSL_CTX_check_private_key") }
        // Memory BIOs cannot report a path MTU; the connection sets one explicitly.
        SSL_CTX_set_options(context, demarc_SSL_OP_NO_QUERY_MTU() | demarc_SSL_OP_NO_TICKET())
        // Require a certificate from the peer but accept any: it is checked against SDP.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, _ in 1 }
        // Unlike most of OpenSSL, this returns 0 on success (PLATFORM-NOTES.md).
        guard SSL_CTX_set_tlsext_use_srtp(context, srtpProfiles.joined(separator: ":")) == 0 else {
            throw OpenSSLError("SSL_CTX_set_tlsext_use_srtp")
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// One DTLS 1.2 association over memory BIOs: the caller moves datagrams in and out, so the
/// handshake runs over whatever transport the node uses (ICE-demultiplexed UDP, RFC 7983).
///
/// Drive it with ``receive(_:)`` for each incoming DTLS datagram and ``handleTimeout()`` when
/// ``retransmissionTimeout`` elapses; after either, send ``takeOutgoingDatagrams()``. Once
/// ``isHandshakeComplete``, read the SRTP profile and export keys.
/// Not thread-safe: one connection belongs to one task.
public final class DTLSConnection {
    public enum Role: Sendable { case client, server }

    public enum State: Sendable, Equatable {
        case handshaking
        case connected
        /// The peer closed the association (close_notify) or it failed.
        case closed
    }

    private let ssl: OpaquePointer
    private let incoming: OpaquePointer
    private let outgoing: OpaquePointer
    public let role: Role
    public let mtu: Int
    public private(set) var state: State = .handshaking
    private let context: DTLSContext  // keeps the SSL_CTX alive
    /// Room for one decrypted record (DTLS plaintext is at most 2^14 bytes, RFC 6347 §4.1).
    private var readBuffer = [UInt8](repeating: 0, count: 16_384)

    public init(context: DTLSContext, role: Role, mtu: Int = 1200) throws(OpenSSLError) {
        guard let ssl = SSL_new(context.context) else { throw OpenSSLError("SSL_new") }
        guard let incoming = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw OpenSSLError("BIO_new")
        }
        guard let outgoing = BIO_new(BIO_s_mem()) else {
            BIO_free(incoming)
            SSL_free(ssl)
            throw OpenSSLError("BIO_new")
        }
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        self.role = role
        self.mtu = mtu
        self.context = context
        // An empty memory BIO reports "retry" rather than EOF, which DTLS needs.
        demarc_BIO_set_mem_eof_return(incoming, -1)
        demarc_BIO_set_mem_eof_return(outgoing, -1)
        SSL_set_bio(ssl, incoming, outgoing)  // the SSL now owns both BIOs
        // SSL_CTRL_SET_MTU returns the MTU it set, or 0 when below the DTLS minimum.
        guard demarc_SSL_set_mtu(ssl, mtu) > 0 else { throw OpenSSLError("SSL_set_mtu") }
        if role == .server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
    }

    deinit { SSL_free(ssl) }

    public var isHandshakeComplete: Bool { state == .connected }

    /// Starts the handshake (the client's ClientHello); a server just waits.
    public func start() throws(OpenSSLError) {
        try advance()
    }

    /// Feeds one incoming datagram. Returns any application data it carried (e.g. SCTP for
    /// data channels) once connected.
    public func receive(_ datagram: [UInt8]) throws(OpenSSLError) -> [[UInt8]] {
        guard state != .closed else { return [] }
        let written = datagram.withUnsafeBytes { BIO_write(incoming, $0.baseAddress, Int32($0.count)) }
        guard written == datagram.count else { throw OpenSSLError("BIO_write") }
        if state == .handshaking {
            try advance()
            if state != .connected { return [] }
        }
        var messages: [[UInt8]] = []
        while true {
            let n = readBuffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                messages.append(Array(readBuffer[0..<Int(n)]))
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { break }
            if error == SSL_ERROR_ZERO_RETURN {
                state = .closed
                break
            }
            state = .closed
            throw OpenSSLError("SSL_read")
        }
        return messages
    }

    /// Encrypts application data for the peer (queued in ``takeOutgoingDatagrams()``).
    public func send(_ data: [UInt8]) throws(OpenSSLError) {
        guard state == .connected else { throw OpenSSLError("SSL_write before the handshake completed") }
        let n = data.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard n == data.count else { throw OpenSSLError("SSL_write") }
    }

    /// Sends close_notify (RFC 5246 §7.2.1).
    public func close() {
        if state == .connected { _ = SSL_shutdown(ssl) }
        state = .closed
    }

    /// Datagrams to send, each at most ``mtu`` bytes: whole DTLS records packed in order
    /// (a memory BIO does not keep datagram boundaries, so records are re-split here).
    public func takeOutgoingDatagrams() -> [[UInt8]] {
        var pointer: UnsafeMutablePointer<CChar>?
        let pending = Int(demarc_BIO_get_mem_data(outgoing, &pointer))
        guard pending > 0, let pointer else { return [] }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: pending)
        var datagrams: [[UInt8]] = []
        var current: [UInt8] = []
        var offset = 0
        while offset < pending {
            // DTLS record header: type(1) version(2) epoch(2) sequence(6) length(2) (RFC 6347 §4.1).
            var recordLength = pending - offset
            if pending - offset >= 13 {
                recordLength = min(pending - offset, 13 + (Int(bytes[offset + 11]) << 8 | Int(bytes[offset + 12])))
            }
            if !current.isEmpty, current.count + recordLength > mtu {
                datagrams.append(current)
                current = []
            }
            current.append(contentsOf: bytes[offset..<(offset + recordLength)])
            offset += recordLength
        }
        if !current.isEmpty { datagrams.append(current) }
        _ = demarc_BIO_reset(outgoing)
        return datagrams
    }

    /// How long until the handshake retransmits (RFC 6347 §4.2.4), or nil if no timer runs.
    public var retransmissionTimeout: Duration? {
        var tv = timeval()
        guard demarc_DTLSv1_get_timeout(ssl, &tv) == 1 else { return nil }
        return .seconds(tv.tv_sec) + .microseconds(tv.tv_usec)
    }

    /// Call when ``retransmissionTimeout`` has elapsed: queues the retransmitted flight.
    public func handleTimeout() throws(OpenSSLError) {
        guard state == .handshaking else { return }
        guard demarc_DTLSv1_handle_timeout(ssl) >= 0 else { throw OpenSSLError("DTLSv1_handle_timeout") }
    }

    /// The SRTP profile both sides agreed on in use_srtp (its RFC 5764 identifier).
    public var selectedSRTPProfile: UInt16? {
        guard state == .connected, let profile = SSL_get_selected_srtp_profile(ssl) else { return nil }
        return UInt16(truncatingIfNeeded: profile.pointee.id)
    }

    /// The RFC 8122 fingerprint of the certificate the peer presented.
    public func peerFingerprint(_ algorithm: DigestAlgorithm = .sha256) throws(OpenSSLError) -> String {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { throw OpenSSLError("SSL_get1_peer_certificate") }
        defer { X509_free(certificate) }
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { throw OpenSSLError("i2d_X509") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        guard written == length else { throw OpenSSLError("i2d_X509") }
        return try ECDSACertificate.fingerprint(der: der, algorithm: algorithm)
    }

    /// Keying material per RFC 5705; DTLS-SRTP uses the label "EXTRACTOR-dtls_srtp" and no
    /// context (RFC 5764 §4.2).
    public func exportKeyingMaterial(label: String = "EXTRACTOR-dtls_srtp", length: Int) throws(OpenSSLError) -> [UInt8] {
        guard state == .connected else { throw OpenSSLError("SSL_export_keying_material before the handshake completed") }
        var out = [UInt8](repeating: 0, count: length)
        let ok = label.withCString { l in
            SSL_export_keying_material(ssl, &out, length, l, strlen(l), nil, 0, 0)
        }
        guard ok == 1 else { throw OpenSSLError("SSL_export_keying_material") }
        return out
    }

    private func advance() throws(OpenSSLError) {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            state = .connected
            return
        }
        let error = SSL_get_error(ssl, result)
        guard error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE else {
            state = .closed
            throw OpenSSLError("SSL_do_handshake")
        }
    }
}
