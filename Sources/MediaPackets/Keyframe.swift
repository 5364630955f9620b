/// Why a codec payload could not be inspected.
public enum CodecPayloadError: Error, Equatable, Sendable {
    case truncated(needed: Int, available: Int)
    /// A NAL unit inside an aggregation packet runs past the payload (RFC 6184 §5.7.1).
    case malformedAggregation(offset: Int)
}

/// The VP8 payload descriptor (RFC 7741 §4.2) and what the frame header says.
public struct VP8PayloadDescriptor: Sendable, Equatable {
    public var nonReference: Bool
    /// S bit: this packet starts a VP8 partition.
    public var startOfPartition: Bool
    public var partitionIndex: UInt8
    public var pictureID: UInt16?
    public var tl0PictureIndex: UInt8?
    public var temporalLayer: UInt8?
    public var layerSync: Bool
    public var keyIndex: UInt8?
    /// Offset of the VP8 payload (the frame data) inside the RTP payload.
    public var payloadOffset: Int

    public static func parse(_ b: UnsafeRawBufferPointer) throws(CodecPayloadError) -> VP8PayloadDescriptor {
        func need(_ n: Int) throws(CodecPayloadError) {
            guard b.count >= n else { throw .truncated(needed: n, available: b.count) }
        }
        try need(1)
        let b0 = b[0]
        var d = VP8PayloadDescriptor(nonReference: b0 & 0x20 != 0, startOfPartition: b0 & 0x10 != 0, partitionIndex: b0 & 0x07,
                                     pictureID: nil, tl0PictureIndex: nil, temporalLayer: nil, layerSync: false, keyIndex: nil, payloadOffset: 1)
        if b0 & 0x80 != 0 {
            try need(2)
            let x = b[1]
            var o = 2
            if x & 0x80 != 0 {  // I: PictureID, 7 or 15 bits
                try need(o + 1)
                if b[o] & 0x80 != 0 {
                    try need(o + 2)
                    d.pictureID = b.u16(o) & 0x7FFF
                    o += 2
                } else {
                    d.pictureID = UInt16(b[o])
                    o += 1
                }
            }
            if x & 0x40 != 0 {  // L: TL0PICIDX
                try need(o + 1)
                d.tl0PictureIndex = b[o]
                o += 1
            }
            if x & 0x30 != 0 {  // T or K: TID/Y/KEYIDX
                try need(o + 1)
                if x & 0x20 != 0 { d.temporalLayer = b[o] >> 6; d.layerSync = b[o] & 0x20 != 0 }
                if x & 0x10 != 0 { d.keyIndex = b[o] & 0x1F }
                o += 1
            }
            d.payloadOffset = o
        }
        try need(d.payloadOffset)
        return d
    }
}

/// Keyframe detection on the first packet of a frame, so an SFU can switch simulcast layers
/// and answer PLI only at decodable points.
public enum KeyframeDetector {
    /// VP8 (RFC 7741 §4.3): the packet starts partition 0 and its frame tag's P bit is 0.
    public static func isVP8Keyframe(_ payload: UnsafeRawBufferPointer) throws(CodecPayloadError) -> Bool {
        let descriptor = try VP8PayloadDescriptor.parse(payload)
        guard descriptor.startOfPartition, descriptor.partitionIndex == 0 else { return false }
        guard payload.count > descriptor.payloadOffset else { throw .truncated(needed: descriptor.payloadOffset + 1, available: payload.count) }
        return payload[descriptor.payloadOffset] & 0x01 == 0
    }

    /// H.264 (RFC 6184 §5): an IDR slice (NAL type 5) or SPS (type 7, which precedes an IDR)
    /// as a single NAL unit, inside STAP-A (type 24), or starting an FU-A (type 28).
    public static func isH264Keyframe(_ payload: UnsafeRawBufferPointer) throws(CodecPayloadError) -> Bool {
        guard payload.count >= 1 else { throw .truncated(needed: 1, available: 0) }
        func isKey(_ type: UInt8) -> Bool { type == 5 || type == 7 }
        let type = payload[0] & 0x1F
        switch type {
        case 24:  // STAP-A: [size(2) NALU]...
            var o = 1
            var found = false
            while o < payload.count {
                guard o + 2 <= payload.count else { throw .malformedAggregation(offset: o) }
                let size = Int(payload.u16(o))
                guard size > 0, o + 2 + size <= payload.count else { throw .malformedAggregation(offset: o) }
                if isKey(payload[o + 2] & 0x1F) { found = true }
                o += 2 + size
            }
            return found
        case 28:  // FU-A: indicator, header (S E R type)
            guard payload.count >= 2 else { throw .truncated(needed: 2, available: payload.count) }
            return payload[1] & 0x80 != 0 && isKey(payload[1] & 0x1F)
        default:
            return isKey(type)
        }
    }

    public static func isVP8Keyframe(_ payload: [UInt8]) throws(CodecPayloadError) -> Bool {
        try withBytes(payload) { (raw) throws(CodecPayloadError) in try isVP8Keyframe(raw) }
    }

    public static func isH264Keyframe(_ payload: [UInt8]) throws(CodecPayloadError) -> Bool {
        try withBytes(payload) { (raw) throws(CodecPayloadError) in try isH264Keyframe(raw) }
    }
}
