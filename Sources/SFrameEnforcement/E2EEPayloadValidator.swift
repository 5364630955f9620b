public import MediaPackets
public import SFrame

/// Why the SFU refuses a publisher's packet in a meeting whose policy says `e2ee: required`
/// (issue 8 §3; docs/e2ee.md, "Enforcement").
public enum E2EEViolation: Error, Equatable, Sendable {
    /// The codec's own payload header (the VP8 payload descriptor) does not parse.
    case malformedCodecPayload(CodecPayloadError)
    /// The VP8 clear prefix is cut short, or a keyframe lacks its start code.
    case malformedClearPrefix
    /// No well-formed SFrame header where the layout puts one.
    case missingSFrameHeader(SFrameHeaderError)
    /// The SFrame KID is not one of this publisher's (wrong sender slot).
    case foreignKeyID(UInt64)
    /// The KID has the publisher's slot but no sealed key for it was relayed.
    case unannouncedKeyID(UInt64)
    /// Too short to hold even the AEAD tag.
    case truncated
}

/// What the validator found in a packet.
public enum E2EEPacketVerdict: Equatable, Sendable {
    /// The first packet of a frame, carrying this SFrame header.
    case frameStart(SFrameHeader, keyframe: Bool)
    /// A later packet of a frame (opaque ciphertext), or an empty payload (a padding-only
    /// probe, RFC 3550 §5.1): nothing to check.
    case continuation
}

/// Decides, per RTP payload and without allocating, whether a frame starts with the Demarc
/// E2EE layout: the codec's clear bytes, then a well-formed SFrame header whose KID carries
/// the publisher's sender slot. It cannot prove the bytes after the header are ciphertext —
/// nothing can without the key — but a client that forgot to encrypt fails it on the first
/// frame with overwhelming probability (docs/e2ee.md), and it keeps keyframe detection working.
public enum E2EEPayloadValidator {
    /// `senderSlot` is the slot signaling assigned this publisher; nil skips the KID check.
    /// `announcedKeyIDs`, when given, are the KIDs of the envelopes this publisher sent through
    /// signaling (readable there without keys); a frame under any other KID is refused.
    public static func validate(rtpPayload payload: UnsafeRawBufferPointer, codec: E2EECodec, senderSlot: UInt32?,
                                announcedKeyIDs: Set<UInt64>? = nil) throws(E2EEViolation) -> E2EEPacketVerdict {
        guard payload.count > 0 else { return .continuation }
        let sframeOffset: Int
        var keyframe = false
        switch codec {
        case .opus:
            sframeOffset = 0
        case .vp8:
            let descriptor: VP8PayloadDescriptor
            do { descriptor = try VP8PayloadDescriptor.parse(payload) } catch { throw .malformedCodecPayload(error) }
            guard descriptor.startOfPartition, descriptor.partitionIndex == 0 else { return .continuation }
            let o = descriptor.payloadOffset
            guard payload.count > o else { throw .malformedClearPrefix }
            keyframe = payload[o] & 0x01 == 0
            let prefix = keyframe ? E2EEFrameLayout.vp8KeyframePrefix : E2EEFrameLayout.vp8DeltaPrefix
            guard payload.count >= o + prefix else { throw .malformedClearPrefix }
            if keyframe {
                let s = E2EEFrameLayout.vp8StartCode
                guard payload[o + 3] == s.0, payload[o + 4] == s.1, payload[o + 5] == s.2 else { throw .malformedClearPrefix }
            }
            sframeOffset = o + prefix
        }
        let rest = UnsafeRawBufferPointer(rebasing: payload[sframeOffset...])
        let parsed: (header: SFrameHeader, length: Int)
        do { parsed = try SFrameHeader.parse(rest) } catch { throw .missingSFrameHeader(error) }
        if let senderSlot, E2EEKeyID(parsed.header.keyID).senderSlot != senderSlot { throw .foreignKeyID(parsed.header.keyID) }
        if let announcedKeyIDs, !announcedKeyIDs.contains(parsed.header.keyID) { throw .unannouncedKeyID(parsed.header.keyID) }
        // An Opus frame is one packet, so it must hold the whole tag; a VP8 frame may span packets.
        if codec == .opus, rest.count < parsed.length + SFrameCipherSuite.aes128GCMSHA256_128.tagLength { throw .truncated }
        return .frameStart(parsed.header, keyframe: keyframe)
    }

    public static func validate(rtpPayload payload: [UInt8], codec: E2EECodec, senderSlot: UInt32?,
                                announcedKeyIDs: Set<UInt64>? = nil) throws(E2EEViolation) -> E2EEPacketVerdict {
        let result: Result<E2EEPacketVerdict, E2EEViolation> = payload.withUnsafeBytes { raw in
            Result { () throws(E2EEViolation) in try validate(rtpPayload: raw, codec: codec, senderSlot: senderSlot, announcedKeyIDs: announcedKeyIDs) }
        }
        return try result.get()
    }
}
