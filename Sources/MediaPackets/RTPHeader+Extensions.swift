/// The extension URIs WebRTC negotiates with `a=extmap` (RFC 8285 §8).
public enum RTPExtensionURI {
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"  // RFC 8843 §15.1
    public static let rtpStreamID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"  // RFC 8852 §3.1
    public static let repairedRTPStreamID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"  // RFC 8852 §3.2
    public static let absSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    public static let transportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    public static let audioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"  // RFC 6464
}

/// Audio level of one packet (RFC 6464 §3): `level` is -dBov, 0 (loudest) to 127 (silence).
public struct AudioLevel: Sendable, Equatable {
    public var voiceActivity: Bool
    public var level: UInt8

    public init(voiceActivity: Bool, level: UInt8) {
        self.voiceActivity = voiceActivity
        self.level = min(level, 127)
    }
}

extension RTPHeader {
    /// The extension element as text (mid, rid and repaired-rid are SDES items, RFC 8852 §3).
    public func extensionString(id: UInt8, in bytes: UnsafeRawBufferPointer) -> String? {
        guard let range = extensionData(id: id, in: bytes) else { return nil }
        // Some senders pad the value with NULs to keep the block aligned.
        var end = range.upperBound
        while end > range.lowerBound, bytes[end - 1] == 0 { end -= 1 }
        return String(decoding: bytes[range.lowerBound..<end], as: UTF8.self)
    }

    /// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions §2).
    public func transportSequenceNumber(id: UInt8, in bytes: UnsafeRawBufferPointer) -> UInt16? {
        guard let range = extensionData(id: id, in: bytes), range.count >= 2 else { return nil }
        return bytes.u16(range.lowerBound)
    }

    /// abs-send-time: a 24-bit 6.18 fixed-point number of seconds (wraps every 64 s).
    public func absSendTime(id: UInt8, in bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard let range = extensionData(id: id, in: bytes), range.count >= 3 else { return nil }
        return bytes.u24(range.lowerBound)
    }

    /// The client-to-mixer audio level (RFC 6464 §3, one-byte form).
    public func audioLevel(id: UInt8, in bytes: UnsafeRawBufferPointer) -> AudioLevel? {
        guard let range = extensionData(id: id, in: bytes), range.count >= 1 else { return nil }
        let byte = bytes[range.lowerBound]
        return AudioLevel(voiceActivity: byte & 0x80 != 0, level: byte & 0x7F)
    }
}

/// Converts abs-send-time's 6.18 fixed point to microseconds (modulo 64 s).
public func absSendTimeMicroseconds(_ value: UInt32) -> UInt64 {
    (UInt64(value & 0xFF_FFFF) * 1_000_000) >> 18
}

/// In-place rewriting of a parsed RTP packet for forwarding: an SFU gives each subscriber its
/// own SSRC, sequence and timestamp space without copying or reallocating the packet.
extension RTPHeader {
    /// Overwrites the given header fields of the packet in `bytes` (which `self` was parsed from).
    public static func rewrite(
        _ bytes: UnsafeMutableRawBufferPointer,
        ssrc: UInt32? = nil, sequenceNumber: UInt16? = nil, timestamp: UInt32? = nil,
        payloadType: UInt8? = nil, marker: Bool? = nil
    ) throws(RTPError) {
        guard bytes.count >= fixedLength else { throw .truncated(needed: fixedLength, available: bytes.count) }
        if let payloadType {
            guard payloadType < 128 else { throw .unencodable("payload type \(payloadType) exceeds 127") }
            bytes[1] = (bytes[1] & 0x80) | payloadType
        }
        if let marker { bytes[1] = (bytes[1] & 0x7F) | (marker ? 0x80 : 0) }
        if let sequenceNumber { bytes.store16(sequenceNumber, at: 2) }
        if let timestamp { bytes.store32(timestamp, at: 4) }
        if let ssrc { bytes.store32(ssrc, at: 8) }
    }

    /// Overwrites the given header fields of the packet in `bytes`.
    public static func rewrite(
        _ bytes: inout [UInt8],
        ssrc: UInt32? = nil, sequenceNumber: UInt16? = nil, timestamp: UInt32? = nil,
        payloadType: UInt8? = nil, marker: Bool? = nil
    ) throws(RTPError) {
        let result: Result<Void, RTPError> = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(RTPError) in
                try rewrite(raw, ssrc: ssrc, sequenceNumber: sequenceNumber, timestamp: timestamp,
                            payloadType: payloadType, marker: marker)
            }
        }
        try result.get()
    }

    /// Overwrites the data of extension element `id` with `value` of the same length.
    /// Returns false when the element is absent or its length differs.
    public func rewriteExtension(id: UInt8, in bytes: UnsafeMutableRawBufferPointer, with value: some Collection<UInt8>) -> Bool {
        guard let range = extensionData(id: id, in: UnsafeRawBufferPointer(bytes)), range.count == value.count else { return false }
        var i = range.lowerBound
        for byte in value { bytes[i] = byte; i += 1 }
        return true
    }

    /// Overwrites the transport-wide sequence number, as an SFU does per outgoing transport.
    public func rewriteTransportSequenceNumber(_ value: UInt16, id: UInt8, in bytes: UnsafeMutableRawBufferPointer) -> Bool {
        guard let range = extensionData(id: id, in: UnsafeRawBufferPointer(bytes)), range.count == 2 else { return false }
        bytes.store16(value, at: range.lowerBound)
        return true
    }
}
