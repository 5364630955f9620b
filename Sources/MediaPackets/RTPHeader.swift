/// Why an RTP packet was rejected. Each case says where the packet stopped making sense.
public enum RTPError: Error, Equatable, Sendable {
    /// The packet ends before a field that its header promises (`needed` bytes, `available` present).
    case truncated(needed: Int, available: Int)
    /// The version bits are not 2 (RFC 3550 §5.1).
    case unsupportedVersion(UInt8)
    /// The padding count in the last octet is zero or longer than the payload.
    case invalidPadding(count: Int, available: Int)
    /// A header extension element at `offset` runs past the extension block (RFC 8285 §4).
    case malformedExtension(offset: Int)
    /// A value cannot be encoded (e.g. an extension id outside 1...255, or data over 255 bytes).
    case unencodable(String)
}

/// The fixed header, CSRC list and header-extension location of one RTP packet (RFC 3550 §5.1).
///
/// Parsed once per packet without copying: the header records offsets into the caller's
/// buffer, and accessors such as ``extensionData(id:in:)`` take that buffer again.
/// Header-extension elements (RFC 8285) are validated during ``parse(_:)``, so later lookups
/// cannot fail.
public struct RTPHeader: Sendable, Equatable {
    public static let fixedLength = 12
    /// `defined by profile` value of the one-byte header form (RFC 8285 §4.2).
    public static let oneByteProfile: UInt16 = 0xBEDE
    /// The two-byte form's profile value, whose low four bits are application bits (RFC 8285 §4.3).
    public static let twoByteProfile: UInt16 = 0x1000

    public var padding: Bool
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcCount: Int
    /// The extension profile, or `nil` when the X bit is clear.
    public var extensionProfile: UInt16?
    /// Bytes of the extension block after its 4-byte header; empty when there is none.
    public var extensionRange: Range<Int>
    /// Offset of the payload, i.e. the full header length including CSRCs and extensions.
    public var payloadOffset: Int
    /// Payload length, excluding padding.
    public var payloadLength: Int
    /// Number of padding octets at the end (including the count octet); 0 without padding.
    public var paddingLength: Int

    public var payloadRange: Range<Int> { payloadOffset..<(payloadOffset + payloadLength) }

    /// Parses the header of the RTP packet that fills `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTPError) -> RTPHeader {
        let count = bytes.count
        guard count >= fixedLength else { throw .truncated(needed: fixedLength, available: count) }
        let b0 = bytes[0]
        let version = b0 >> 6
        guard version == 2 else { throw .unsupportedVersion(version) }
        let hasPadding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let csrcCount = Int(b0 & 0x0F)
        let b1 = bytes[1]
        var offset = fixedLength + 4 * csrcCount
        guard count >= offset else { throw .truncated(needed: offset, available: count) }

        var profile: UInt16?
        var extensionRange = offset..<offset
        if hasExtension {
            guard count >= offset + 4 else { throw .truncated(needed: offset + 4, available: count) }
            profile = bytes.u16(offset)
            let length = Int(bytes.u16(offset + 2)) * 4
            offset += 4
            guard count >= offset + length else { throw .truncated(needed: offset + length, available: count) }
            extensionRange = offset..<(offset + length)
            offset += length
            try RTPHeaderExtensions.walk(bytes, profile: profile!, range: extensionRange) { _, _ in true }
        }

        var paddingLength = 0
        if hasPadding {
            guard count > offset else { throw .invalidPadding(count: 0, available: 0) }
            paddingLength = Int(bytes[count - 1])
            guard paddingLength >= 1, offset + paddingLength <= count else {
                throw .invalidPadding(count: paddingLength, available: count - offset)
            }
        }
        return RTPHeader(
            padding: hasPadding, marker: b1 & 0x80 != 0, payloadType: b1 & 0x7F,
            sequenceNumber: bytes.u16(2), timestamp: bytes.u32(4), ssrc: bytes.u32(8),
            csrcCount: csrcCount, extensionProfile: profile, extensionRange: extensionRange,
            payloadOffset: offset, payloadLength: count - offset - paddingLength, paddingLength: paddingLength)
    }

    /// Parses the header of the RTP packet in `bytes`.
    public static func parse(_ bytes: [UInt8]) throws(RTPError) -> RTPHeader {
        try withBytes(bytes) { (raw) throws(RTPError) in try parse(raw) }
    }

    /// The header length (fixed header, CSRCs and extension block) of the packet in `bytes`,
    /// without looking at padding or extension elements: for SRTP, where the payload and its
    /// padding count are still encrypted (RFC 3711 §3.1).
    public static func headerLength(_ bytes: UnsafeRawBufferPointer) throws(RTPError) -> Int {
        let count = bytes.count
        guard count >= fixedLength else { throw .truncated(needed: fixedLength, available: count) }
        let version = bytes[0] >> 6
        guard version == 2 else { throw .unsupportedVersion(version) }
        var offset = fixedLength + 4 * Int(bytes[0] & 0x0F)
        if bytes[0] & 0x10 != 0 {
            guard count >= offset + 4 else { throw .truncated(needed: offset + 4, available: count) }
            offset += 4 + Int(bytes.u16(offset + 2)) * 4
        }
        guard count >= offset else { throw .truncated(needed: offset, available: count) }
        return offset
    }

    /// Whether the first byte looks like RTP/RTCP rather than STUN or DTLS (RFC 7983 §7: 128...191).
    public static func isRTPOrRTCP(firstByte: UInt8) -> Bool { (128...191).contains(firstByte) }

    /// Whether a packet demultiplexed as RTP/RTCP is RTCP (RFC 5761 §4: payload types 192...223
    /// with the marker bit are RTCP packet types 200...207 and friends).
    public static func isRTCP(secondByte: UInt8) -> Bool { (192...223).contains(secondByte) }

    /// The `index`th CSRC (0-based) from the packet in `bytes`.
    public func csrc(_ index: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        precondition(index >= 0 && index < csrcCount, "CSRC index out of range")
        return bytes.u32(Self.fixedLength + 4 * index)
    }

    /// The byte range of the data of extension element `id`, if present (RFC 8285).
    public func extensionData(id: UInt8, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let profile = extensionProfile, id != 0 else { return nil }
        var found: Range<Int>?
        try? RTPHeaderExtensions.walk(bytes, profile: profile, range: extensionRange) { elementID, range in
            if elementID == id { found = range; return false }
            return true
        }
        return found
    }

    /// Calls `body` with each extension element's id and data range, in packet order.
    public func forEachExtension(in bytes: UnsafeRawBufferPointer, _ body: (UInt8, Range<Int>) -> Void) {
        guard let profile = extensionProfile else { return }
        try? RTPHeaderExtensions.walk(bytes, profile: profile, range: extensionRange) { id, range in
            body(id, range)
            return true
        }
    }
}

/// RFC 8285 header-extension element walking.
enum RTPHeaderExtensions {
    /// Visits each element of the extension block; `visit` returns false to stop early.
    /// Throws when an element runs past the block. Profiles other than the RFC 8285 forms
    /// are opaque and have no elements.
    static func walk(
        _ bytes: UnsafeRawBufferPointer, profile: UInt16, range: Range<Int>,
        _ visit: (UInt8, Range<Int>) -> Bool
    ) throws(RTPError) {
        var i = range.lowerBound
        let end = range.upperBound
        if profile == RTPHeader.oneByteProfile {
            while i < end {
                let byte = bytes[i]
                if byte == 0 { i += 1; continue }  // padding
                let id = byte >> 4
                if id == 15 { return }  // RFC 8285 §4.2: stop processing
                let length = Int(byte & 0x0F) + 1
                guard i + 1 + length <= end else { throw .malformedExtension(offset: i) }
                if !visit(id, (i + 1)..<(i + 1 + length)) { return }
                i += 1 + length
            }
        } else if profile & 0xFFF0 == RTPHeader.twoByteProfile {
            while i < end {
                let id = bytes[i]
                if id == 0 { i += 1; continue }  // padding
                guard i + 2 <= end else { throw .malformedExtension(offset: i) }
                let length = Int(bytes[i + 1])
                guard i + 2 + length <= end else { throw .malformedExtension(offset: i) }
                if !visit(id, (i + 2)..<(i + 2 + length)) { return }
                i += 2 + length
            }
        }
    }
}
