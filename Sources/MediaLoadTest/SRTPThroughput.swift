public import MediaCrypto
import MediaPackets

/// SRTP protect and unprotect alone, per profile: `demarc loadtest --srtp-only`.
///
/// Times the calling thread's CPU (not the wall clock), so other processes on a shared
/// machine slow the run down without making the per-core figure look worse. Protects a
/// stream of RTP packets in place in one preallocated buffer (the SFU's path), then
/// unprotects copies of them in order (the receive path, with replay checks).
public enum SRTPThroughput {
    public struct Result: Sendable, CustomStringConvertible {
        public var profile: SRTPProtectionProfile
        public var payloadBytes: Int
        public var packets: Int
        public var protectPerSecond: Double
        public var unprotectPerSecond: Double

        public var description: String {
            let name = profile == .aeadAES128GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80"
            return "\(name), \(payloadBytes)-byte payload: protect \(Int(protectPerSecond))/s, unprotect \(Int(unprotectPerSecond))/s per core (thread CPU time, n=\(packets))"
        }
    }

    /// Both profiles Demarc negotiates, AES-CM first.
    public static func measureEachProfile(payloadBytes: Int = 1_000, packets: Int = 200_000) throws -> [Result] {
        try [SRTPProtectionProfile.aes128CMHMACSHA1_80, .aeadAES128GCM].map { try measure(profile: $0, payloadBytes: payloadBytes, packets: packets) }
    }

    public static func measure(profile: SRTPProtectionProfile, payloadBytes: Int = 1_000, packets: Int = 200_000) throws -> Result {
        let master = SRTPMasterKeys(key: [UInt8](repeating: 0x11, count: profile.keyLength), salt: [UInt8](repeating: 0x22, count: profile.saltLength))
        let sender = try SRTPContext(profile: profile, master: master)
        let receiver = try SRTPContext(profile: profile, master: master)
        let template = try RTPPacketBuilder(payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0x1234_5678,
                                            payload: [UInt8](repeating: 0x5A, count: payloadBytes)).build()
        let length = template.count
        var buffer = [UInt8](repeating: 0, count: length + profile.rtpTagLength)
        // Keep a bounded set of protected packets for the unprotect pass (in sequence order).
        let kept = min(packets, 20_000)
        var protected: [[UInt8]] = []
        protected.reserveCapacity(kept)
        var protectCPU = 0.0
        for chunk in stride(from: 0, to: packets, by: kept) {
            let count = min(kept, packets - chunk)
            let start = threadCPUSeconds()
            // (A typed-throws closure here crashes Swift 6.3.1's IRGen: report errors as a value.)
            let failure: SRTPError? = buffer.withUnsafeMutableBytes { raw in
                for i in 0..<count {
                    template.withUnsafeBytes { raw.copyMemory(from: $0) }
                    raw.storeBytes(of: UInt16(truncatingIfNeeded: chunk + i).bigEndian, toByteOffset: 2, as: UInt16.self)
                    do throws(SRTPError) { _ = try sender.protectRTP(raw, length: length) } catch { return error }
                }
                return nil
            }
            if let failure { throw failure }
            protectCPU += threadCPUSeconds() - start
            if chunk == 0 {
                // Re-protect the first chunk into copies for the receiver (not timed).
                let copySender = try SRTPContext(profile: profile, master: master)
                for i in 0..<count {
                    var packet = template
                    packet.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(truncatingIfNeeded: i).bigEndian, toByteOffset: 2, as: UInt16.self) }
                    try copySender.protectRTP(&packet)
                    protected.append(packet)
                }
            }
        }
        let start = threadCPUSeconds()
        for i in protected.indices {
            let failure: SRTPError? = protected[i].withUnsafeMutableBytes { raw in
                do throws(SRTPError) { _ = try receiver.unprotectRTP(raw, length: raw.count) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }
        let unprotectCPU = threadCPUSeconds() - start
        return Result(profile: profile, payloadBytes: payloadBytes, packets: packets,
                      protectPerSecond: protectCPU > 0 ? Double(packets) / protectCPU : 0,
                      unprotectPerSecond: unprotectCPU > 0 ? Double(protected.count) / unprotectCPU : 0)
    }
}
