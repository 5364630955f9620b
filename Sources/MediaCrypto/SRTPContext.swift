import OpenSSLWrapper
import MediaCore
import MediaPackets

/// Protects or unprotects the SRTP and SRTCP packets of one direction of a DTLS-SRTP session
/// (RFC 3711 §3.3, §3.4; RFC 7714 §8, §9).
///
/// Owns its keyed OpenSSL contexts, so per-packet work is IV setup and one cipher pass: the
/// buffer-based methods never allocate, and the `[UInt8]` ones only when the array lacks
/// capacity for the trailer. Tracks per-SSRC rollover counters (RFC 3711 §3.3.1) and replay
/// windows (§3.3.2), updating them only for authenticated packets.
///
/// Not thread-safe: one context belongs to one connection's task.
public final class SRTPContext {
    public let profile: SRTPProtectionProfile
    private let rtp: Transform
    private let rtcp: Transform
    private var streams: [UInt32: StreamState] = [:]
    public let replayProtection: Bool

    private struct StreamState {
        var rollover = RolloverCounter()
        var rtpReplay = ReplayWindow()
        var rtcpReplay = ReplayWindow()
        /// The last SRTCP index sent; the first packet is sent with index 1, as libsrtp does.
        var rtcpIndex: UInt32 = 0
    }

    /// The per-packet transform for SRTP or SRTCP: a cipher and, for AES-CM, an HMAC.
    private final class Transform {
        let counterMode: AESCounterMode?
        let gcm: AESGCM?
        let hmac: HMACContext?
        /// Session salt, zero-padded to 16 bytes.
        var salt: (UInt64, UInt64) = (0, 0)

        init(profile: SRTPProtectionProfile, keys: SRTPSessionKeys) throws(SRTPError) {
            do {
                switch profile {
                case .aes128CMHMACSHA1_80:
                    counterMode = try AESCounterMode(key: keys.encryptionKey)
                    hmac = try HMACContext(key: keys.authenticationKey, algorithm: .sha1)
                    gcm = nil
                case .aeadAES128GCM:
                    gcm = try AESGCM(key: keys.encryptionKey)
                    counterMode = nil
                    hmac = nil
                }
            } catch {
                throw .crypto(error)
            }
            withUnsafeMutableBytes(of: &salt) { s in
                for (i, byte) in keys.salt.prefix(16).enumerated() { s[i] = byte }
            }
        }

        deinit {
            withUnsafeMutableBytes(of: &salt) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
        }
    }

    /// A context for `profile` keyed with the master key and salt of this direction.
    public convenience init(profile: SRTPProtectionProfile, master: SRTPMasterKeys, replayProtection: Bool = true) throws(SRTPError) {
        var rtpKeys = try SRTPKeyDerivation.sessionKeys(profile: profile, master: master, rtcp: false)
        var rtcpKeys = try SRTPKeyDerivation.sessionKeys(profile: profile, master: master, rtcp: true)
        defer {
            rtpKeys.zero()
            rtcpKeys.zero()
        }
        try self.init(profile: profile, rtpKeys: rtpKeys, rtcpKeys: rtcpKeys, replayProtection: replayProtection)
    }

    /// A context from session keys directly (as the RFC test vectors give them).
    public init(profile: SRTPProtectionProfile, rtpKeys: SRTPSessionKeys, rtcpKeys: SRTPSessionKeys, replayProtection: Bool = true) throws(SRTPError) {
        self.profile = profile
        self.replayProtection = replayProtection
        rtp = try Transform(profile: profile, keys: rtpKeys)
        rtcp = try Transform(profile: profile, keys: rtcpKeys)
    }

    // MARK: SRTP

    /// Encrypts and authenticates the RTP packet in `buffer[0..<length]` in place, appending
    /// the tag. Returns the new length; `buffer` needs `length + profile.rtpTagLength` bytes.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = profile.rtpTagLength
        guard buffer.count >= length + tagLength else { throw .bufferTooSmall(needed: length + tagLength, available: buffer.count) }
        let packet = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        guard let headerLength = try? RTPHeader.headerLength(packet) else { throw .malformedPacket }
        let sequence = packet.be16(2)
        let ssrc = packet.be32(8)
        var state = streams[ssrc] ?? StreamState()
        guard let (roc, index) = state.rollover.estimate(sequence) else { throw .tooOld }
        do {
            switch profile {
            case .aes128CMHMACSHA1_80:
                var iv = counterModeIV(salt: rtp.salt, ssrc: ssrc, index: index)
                try withUnsafeBytes(of: &iv) { ivBytes throws(OpenSSLError) in
                    try rtp.counterMode!.apply(iv: ivBytes, to: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<length]))
                }
                var rocBytes = roc.bigEndian
                try withUnsafeBytes(of: &rocBytes) { rocRaw throws(OpenSSLError) in
                    try rtp.hmac!.authenticate(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), rocRaw,
                                               into: UnsafeMutableRawBufferPointer(rebasing: buffer[length..<(length + tagLength)]))
                }
            case .aeadAES128GCM:
                var nonce = gcmRTPNonce(salt: rtp.salt, ssrc: ssrc, roc: roc, sequence: sequence)
                try withUnsafeBytes(of: &nonce) { n throws(OpenSSLError) in
                    try rtp.gcm!.seal(nonce: UnsafeRawBufferPointer(rebasing: n[0..<12]),
                                      aad: UnsafeRawBufferPointer(rebasing: buffer[0..<headerLength]),
                                      buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<length]),
                                      tag: UnsafeMutableRawBufferPointer(rebasing: buffer[length..<(length + tagLength)]))
                }
            }
        } catch {
            throw .crypto(error)
        }
        state.rollover.update(sequenceNumber: sequence, rolloverCount: roc)
        streams[ssrc] = state
        return length + tagLength
    }

    /// Authenticates, replay-checks and decrypts the SRTP packet in `buffer[0..<length]` in
    /// place. Returns the RTP packet's length (the tag removed).
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = profile.rtpTagLength
        guard length <= buffer.count, length >= RTPHeader.fixedLength + tagLength else { throw .malformedPacket }
        let body = length - tagLength
        let packet = UnsafeRawBufferPointer(rebasing: buffer[0..<body])
        guard let headerLength = try? RTPHeader.headerLength(packet) else { throw .malformedPacket }
        let sequence = packet.be16(2)
        let ssrc = packet.be32(8)
        var state = streams[ssrc] ?? StreamState()
        guard let (roc, index) = state.rollover.estimate(sequence) else { throw .tooOld }
        if replayProtection {
            switch state.rtpReplay.check(index) {
            case .fresh: break
            case .replayed: throw .replayed
            case .tooOld: throw .tooOld
            }
        }
        let authentic: Bool
        do {
            switch profile {
            case .aes128CMHMACSHA1_80:
                var computed: (UInt64, UInt64, UInt64) = (0, 0, 0)
                var rocBytes = roc.bigEndian
                try withUnsafeBytes(of: &rocBytes) { rocRaw throws(OpenSSLError) in
                    try withUnsafeMutableBytes(of: &computed) { c throws(OpenSSLError) in
                        try rtp.hmac!.authenticate(packet, rocRaw, into: UnsafeMutableRawBufferPointer(rebasing: c[0..<tagLength]))
                    }
                }
                authentic = withUnsafeBytes(of: &computed) { c in
                    constantTimeEqual(UnsafeRawBufferPointer(rebasing: c[0..<tagLength]), UnsafeRawBufferPointer(rebasing: buffer[body..<length]))
                }
                if authentic {
                    var iv = counterModeIV(salt: rtp.salt, ssrc: ssrc, index: index)
                    try withUnsafeBytes(of: &iv) { ivBytes throws(OpenSSLError) in
                        try rtp.counterMode!.apply(iv: ivBytes, to: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<body]))
                    }
                }
            case .aeadAES128GCM:
                var nonce = gcmRTPNonce(salt: rtp.salt, ssrc: ssrc, roc: roc, sequence: sequence)
                authentic = try withUnsafeBytes(of: &nonce) { n throws(OpenSSLError) in
                    try rtp.gcm!.open(nonce: UnsafeRawBufferPointer(rebasing: n[0..<12]),
                                      aad: UnsafeRawBufferPointer(rebasing: buffer[0..<headerLength]),
                                      buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<body]),
                                      tag: UnsafeRawBufferPointer(rebasing: buffer[body..<length]))
                }
            }
        } catch {
            throw .crypto(error)
        }
        guard authentic else { throw .authenticationFailed }
        state.rtpReplay.accept(index)
        state.rollover.update(sequenceNumber: sequence, rolloverCount: roc)
        streams[ssrc] = state
        return body
    }

    // MARK: SRTCP

    /// Encrypts and authenticates the (compound) RTCP packet in `buffer[0..<length]` in place,
    /// appending the E flag, SRTCP index and tag. `buffer` needs `length + profile.rtcpTrailerLength` bytes.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let trailer = profile.rtcpTrailerLength
        guard buffer.count >= length + trailer else { throw .bufferTooSmall(needed: length + trailer, available: buffer.count) }
        guard length >= 8, buffer[0] >> 6 == 2 else { throw .malformedPacket }
        let ssrc = UnsafeRawBufferPointer(buffer).be32(4)
        var state = streams[ssrc] ?? StreamState()
        guard state.rtcpIndex < 0x7FFF_FFFF else { throw .indexExhausted }
        state.rtcpIndex += 1
        let index = state.rtcpIndex
        do {
            switch profile {
            case .aes128CMHMACSHA1_80:
                var iv = counterModeIV(salt: rtcp.salt, ssrc: ssrc, index: UInt64(index))
                try withUnsafeBytes(of: &iv) { ivBytes throws(OpenSSLError) in
                    try rtcp.counterMode!.apply(iv: ivBytes, to: UnsafeMutableRawBufferPointer(rebasing: buffer[8..<length]))
                }
                buffer.storeBytes(of: (0x8000_0000 | index).bigEndian, toByteOffset: length, as: UInt32.self)
                try rtcp.hmac!.authenticate(UnsafeRawBufferPointer(rebasing: buffer[0..<(length + 4)]),
                                            into: UnsafeMutableRawBufferPointer(rebasing: buffer[(length + 4)..<(length + trailer)]))
            case .aeadAES128GCM:
                // RFC 7714 §9: ciphertext, then the tag, then E || SRTCP index (which is also AAD).
                let indexOffset = length + AESGCM.tagLength
                buffer.storeBytes(of: (0x8000_0000 | index).bigEndian, toByteOffset: indexOffset, as: UInt32.self)
                var nonce = gcmRTCPNonce(salt: rtcp.salt, ssrc: ssrc, index: index)
                try withUnsafeBytes(of: &nonce) { n throws(OpenSSLError) in
                    try rtcp.gcm!.seal(nonce: UnsafeRawBufferPointer(rebasing: n[0..<12]),
                                       aad: UnsafeRawBufferPointer(rebasing: buffer[0..<8]),
                                       moreAAD: UnsafeRawBufferPointer(rebasing: buffer[indexOffset..<(indexOffset + 4)]),
                                       buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[8..<length]),
                                       tag: UnsafeMutableRawBufferPointer(rebasing: buffer[length..<indexOffset]))
                }
            }
        } catch {
            throw .crypto(error)
        }
        streams[ssrc] = state
        return length + trailer
    }

    /// Authenticates, replay-checks and (if the E flag is set) decrypts the SRTCP packet in
    /// `buffer[0..<length]` in place. Returns the RTCP packet's length.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = profile.rtpTagLength
        guard length <= buffer.count, length >= 8 + 4 + tagLength, buffer[0] >> 6 == 2 else { throw .malformedPacket }
        let raw = UnsafeRawBufferPointer(buffer)
        let ssrc = raw.be32(4)
        let indexOffset = profile == .aeadAES128GCM ? length - 4 : length - tagLength - 4
        let word = raw.be32(indexOffset)
        let encrypted = word & 0x8000_0000 != 0
        let index = word & 0x7FFF_FFFF
        var state = streams[ssrc] ?? StreamState()
        if replayProtection {
            switch state.rtcpReplay.check(UInt64(index)) {
            case .fresh: break
            case .replayed: throw .replayed
            case .tooOld: throw .tooOld
            }
        }
        let authentic: Bool
        let plainLength: Int
        do {
            switch profile {
            case .aes128CMHMACSHA1_80:
                plainLength = indexOffset
                var computed: (UInt64, UInt64, UInt64) = (0, 0, 0)
                try withUnsafeMutableBytes(of: &computed) { c throws(OpenSSLError) in
                    try rtcp.hmac!.authenticate(UnsafeRawBufferPointer(rebasing: raw[0..<(indexOffset + 4)]),
                                                into: UnsafeMutableRawBufferPointer(rebasing: c[0..<tagLength]))
                }
                authentic = withUnsafeBytes(of: &computed) { c in
                    constantTimeEqual(UnsafeRawBufferPointer(rebasing: c[0..<tagLength]), UnsafeRawBufferPointer(rebasing: raw[(indexOffset + 4)..<length]))
                }
                if authentic && encrypted {
                    var iv = counterModeIV(salt: rtcp.salt, ssrc: ssrc, index: UInt64(index))
                    try withUnsafeBytes(of: &iv) { ivBytes throws(OpenSSLError) in
                        try rtcp.counterMode!.apply(iv: ivBytes, to: UnsafeMutableRawBufferPointer(rebasing: buffer[8..<indexOffset]))
                    }
                }
            case .aeadAES128GCM:
                let tagOffset = indexOffset - AESGCM.tagLength
                plainLength = tagOffset
                var nonce = gcmRTCPNonce(salt: rtcp.salt, ssrc: ssrc, index: index)
                // With E clear, everything is associated data and nothing is encrypted (RFC 7714 §9.3).
                let cipherStart = encrypted ? 8 : tagOffset
                authentic = try withUnsafeBytes(of: &nonce) { n throws(OpenSSLError) in
                    try rtcp.gcm!.open(nonce: UnsafeRawBufferPointer(rebasing: n[0..<12]),
                                       aad: UnsafeRawBufferPointer(rebasing: raw[0..<cipherStart]),
                                       moreAAD: UnsafeRawBufferPointer(rebasing: raw[indexOffset..<length]),
                                       buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[cipherStart..<tagOffset]),
                                       tag: UnsafeRawBufferPointer(rebasing: raw[tagOffset..<indexOffset]))
                }
            }
        } catch {
            throw .crypto(error)
        }
        guard authentic else { throw .authenticationFailed }
        state.rtcpReplay.accept(UInt64(index))
        streams[ssrc] = state
        return plainLength
    }

    // MARK: Array conveniences

    /// Protects the RTP packet in `packet`, appending the tag.
    public func protectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        try grow(&packet, by: profile.rtpTagLength) { (b, n) throws(SRTPError) in try protectRTP(b, length: n) }
    }

    public func unprotectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        try shrink(&packet) { (b, n) throws(SRTPError) in try unprotectRTP(b, length: n) }
    }

    public func protectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        try grow(&packet, by: profile.rtcpTrailerLength) { (b, n) throws(SRTPError) in try protectRTCP(b, length: n) }
    }

    public func unprotectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        try shrink(&packet) { (b, n) throws(SRTPError) in try unprotectRTCP(b, length: n) }
    }

    private func grow(_ packet: inout [UInt8], by extra: Int,
                      _ body: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) throws(SRTPError) {
        let length = packet.count
        packet.append(contentsOf: repeatElement(0, count: extra))
        let result: Result<Int, SRTPError> = packet.withUnsafeMutableBytes { raw in Result { () throws(SRTPError) in try body(raw, length) } }
        do {
            _ = try result.get()
        } catch {
            packet.removeLast(extra)
            throw error
        }
    }

    private func shrink(_ packet: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) throws(SRTPError) {
        let length = packet.count
        let result: Result<Int, SRTPError> = packet.withUnsafeMutableBytes { raw in Result { () throws(SRTPError) in try body(raw, length) } }
        let newLength = try result.get()
        packet.removeLast(length - newLength)
    }
}

// MARK: IV construction

/// AES-CM IV (RFC 3711 §4.1.1): (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
private func counterModeIV(salt: (UInt64, UInt64), ssrc: UInt32, index: UInt64) -> (UInt64, UInt64) {
    var iv = salt
    withUnsafeMutableBytes(of: &iv) { b in
        b[4] ^= UInt8(truncatingIfNeeded: ssrc >> 24)
        b[5] ^= UInt8(truncatingIfNeeded: ssrc >> 16)
        b[6] ^= UInt8(truncatingIfNeeded: ssrc >> 8)
        b[7] ^= UInt8(truncatingIfNeeded: ssrc)
        for i in 0..<6 { b[8 + i] ^= UInt8(truncatingIfNeeded: index >> (40 - 8 * i)) }
        b[14] = 0
        b[15] = 0
    }
    return iv
}

/// GCM SRTP IV (RFC 7714 §8.1): 00 00 || SSRC || ROC || SEQ, XOR the 12-byte salt.
private func gcmRTPNonce(salt: (UInt64, UInt64), ssrc: UInt32, roc: UInt32, sequence: UInt16) -> (UInt64, UInt64) {
    var nonce = salt
    withUnsafeMutableBytes(of: &nonce) { b in
        for i in 0..<4 { b[2 + i] ^= UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * i)) }
        for i in 0..<4 { b[6 + i] ^= UInt8(truncatingIfNeeded: roc >> (24 - 8 * i)) }
        b[10] ^= UInt8(truncatingIfNeeded: sequence >> 8)
        b[11] ^= UInt8(truncatingIfNeeded: sequence)
    }
    return nonce
}

/// GCM SRTCP IV (RFC 7714 §9.1): 00 00 || SSRC || 00 00 || 0 || SRTCP index, XOR the salt.
private func gcmRTCPNonce(salt: (UInt64, UInt64), ssrc: UInt32, index: UInt32) -> (UInt64, UInt64) {
    var nonce = salt
    withUnsafeMutableBytes(of: &nonce) { b in
        for i in 0..<4 { b[2 + i] ^= UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * i)) }
        for i in 0..<4 { b[8 + i] ^= UInt8(truncatingIfNeeded: index >> (24 - 8 * i)) }
    }
    return nonce
}

extension UnsafeRawBufferPointer {
    @inline(__always) func be16(_ offset: Int) -> UInt16 { UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) func be32(_ offset: Int) -> UInt32 { UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
}
