/// Which encoded-frame bytes Demarc leaves in the clear before the SFrame ciphertext, so the
/// SFU and the browsers' RTP depacketizers still work (docs/e2ee.md, "Payload layout").
///
/// An encoded frame (what RTCRtpScriptTransform hands a worker) becomes
///
///     clear prefix ‖ SFrame header ‖ AES-GCM(rest of frame) ‖ tag
///
/// and the clear prefix is the SFrame `metadata` (RFC 9605 §4.4.3, §9.4), so it is
/// authenticated: an SFU can read it but not change it undetected.
/// - VP8 (RFC 6386 §9.1): the 3-byte frame tag, plus for keyframes (P bit 0) the 7 bytes of
///   start code and dimensions: 10 bytes. The SFU's keyframe detector reads the P bit right
///   after the payload descriptor, which the packetizer adds after this transform, and the
///   receiving browser's VP8 depacketizer parses the keyframe dimensions.
/// - Opus and anything else: nothing; the whole frame is encrypted.
public enum E2EECodec: String, Sendable, CaseIterable {
    case vp8, opus
}

public enum E2EEFrameLayout {
    public static let vp8DeltaPrefix = 3
    public static let vp8KeyframePrefix = 10
    /// Bytes 3–5 of a VP8 keyframe (RFC 6386 §9.1).
    public static let vp8StartCode: (UInt8, UInt8, UInt8) = (0x9D, 0x01, 0x2A)

    /// Length of the clear prefix of `frame` for `codec` (at most the frame's length).
    public static func clearPrefixLength(codec: E2EECodec, frame: UnsafeRawBufferPointer) -> Int {
        switch codec {
        case .opus: return 0
        case .vp8:
            guard let tag = frame.first else { return 0 }
            return min(frame.count, tag & 0x01 == 0 ? vp8KeyframePrefix : vp8DeltaPrefix)
        }
    }

    /// Protects one encoded frame: clear prefix ‖ SFrame ciphertext.
    public static func protect(_ frame: [UInt8], codec: E2EECodec, sender: SFrameSender) throws(SFrameError) -> [UInt8] {
        let prefix = frame.withUnsafeBytes { clearPrefixLength(codec: codec, frame: $0) }
        let sealed = try sender.encrypt(Array(frame[prefix...]), metadata: Array(frame[..<prefix]))
        return Array(frame[..<prefix]) + sealed
    }

    /// Reverses `protect`.
    public static func unprotect(_ frame: [UInt8], codec: E2EECodec, receiver: SFrameReceiver) throws(SFrameError) -> [UInt8] {
        let prefix = frame.withUnsafeBytes { clearPrefixLength(codec: codec, frame: $0) }
        let clear = Array(frame[..<prefix])
        return clear + (try receiver.decrypt(Array(frame[prefix...]), metadata: clear))
    }
}
