public import MediaPackets
import MediaCore

extension ForwardingRouter {
    /// An RTP packet from `publisher`, SRTP-decrypted. Appends one `sendRTP` directive (and
    /// a rewritten copy in `batch`) per subscriber currently receiving its track and layer.
    /// Malformed or unknown packets are dropped and counted, never trusted.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func receiveRTP(from publisher: ParticipantID, packet: UnsafeRawBufferPointer, now: Instant,
                                    into batch: inout ForwardingBatch) {
        counters.packetsReceived += 1
        guard let header = try? RTPHeader.parse(packet) else {
            counters.droppedMalformed += 1
            return
        }
        guard let key = sources[header.ssrc] ?? learnSource(publisher: publisher, header: header, packet: packet, now: now, into: &batch) else {
            counters.droppedUnknownSource += 1
            return
        }
        guard tracks[key.track]?.publisher == publisher else {
            counters.droppedForeignSource += 1
            return
        }
        guard !key.isRTX else {
            recoverRetransmission(slot: key.track, layer: key.layer, header: header, packet: packet, now: now, into: &batch)
            return
        }
        guard packet.count <= configuration.maxPacketSize, packet.count + 2 <= batch.slotSize else {
            counters.droppedOversize += 1
            return
        }
        guard let codec = tracks[key.track]!.codecs[Int(header.payloadType)] else {
            counters.droppedUnknownPayloadType += 1
            return
        }
        forward(slot: key.track, layer: key.layer, header: header, codec: codec, packet: packet, now: now, into: &batch)
    }

    public mutating func receiveRTP(from publisher: ParticipantID, packet: [UInt8], now: Instant, into batch: inout ForwardingBatch) {
        packet.withUnsafeBytes { receiveRTP(from: publisher, packet: $0, now: now, into: &batch) }
    }

    /// Forwards a publisher's packet of `layer` (media, or rebuilt from RTX) to the
    /// subscriptions receiving that layer. One in-place access to the track; nothing of a
    /// subscription on another layer is touched unless a keyframe lets it switch here.
    private mutating func forward(slot: Int, layer: Int, header: RTPHeader, codec: ForwardedCodec,
                                  packet: UnsafeRawBufferPointer, now: Instant, into batch: inout ForwardingBatch) {
        let kind = tracks[slot]!.description.kind
        // Keyframes gate layer switches; codecs we cannot inspect are treated as always decodable.
        let isKeyframe: Bool
        switch (kind, codec) {
        case (.audio, _), (_, .opus), (_, .other):
            isKeyframe = true
        case (.video, .vp8):
            isKeyframe = (try? KeyframeDetector.isVP8Keyframe(UnsafeRawBufferPointer(rebasing: packet[header.payloadRange]))) ?? false
        case (.video, .h264):
            isKeyframe = (try? KeyframeDetector.isH264Keyframe(UnsafeRawBufferPointer(rebasing: packet[header.payloadRange]))) ?? false
        }
        tracks[slot]!.recordPublished(layer: layer, header: header, packet: packet, isKeyframe: isKeyframe, now: now)

        if kind == .audio {
            let publisher = tracks[slot]!.publisher
            if let id = participants[publisher]?.extensionMap.audioLevel, let level = header.audioLevel(id: id, in: packet) {
                speakers.observe(publisher, level: level.level, voiceActivity: level.voiceActivity)
            }
        }
        tracks[slot]!.fanOut(layer: layer, header: header, packet: packet, isKeyframe: isKeyframe, now: now,
                             switching: configuration.layerSwitch, counters: &counters, batch: &batch)
    }

    /// A publisher's RTX packet (RFC 4588 §4): the original sequence number is the first two
    /// payload bytes, the media payload type the one bound to the RTX type by `apt`. The
    /// original packet is rebuilt (media SSRC, original sequence number and payload type,
    /// no padding) and forwarded like any other, so subscribers get what the uplink lost.
    /// Padding-only RTX (bandwidth probes) carries nothing and is dropped.
    private mutating func recoverRetransmission(slot: Int, layer: Int, header: RTPHeader, packet: UnsafeRawBufferPointer,
                                                now: Instant, into batch: inout ForwardingBatch) {
        let track = tracks[slot]!
        guard header.payloadLength > 2,
              let mediaSSRC = track.layers[layer].description.ssrc,
              let media = track.description.payloadTypes.first(where: { $0.rtxPayloadType == header.payloadType }),
              let codec = track.codecs[Int(media.payloadType)] else {
            counters.droppedPublisherRTX += 1
            return
        }
        let payload = header.payloadRange
        let original = UInt16(packet[payload.lowerBound]) << 8 | UInt16(packet[payload.lowerBound + 1])
        let length = header.payloadOffset + payload.count - 2
        guard length <= configuration.maxPacketSize, length + 2 <= batch.slotSize else {
            counters.droppedOversize += 1
            return
        }
        // RTX is rare (only what was lost), so one allocation per recovered packet is fine.
        var rebuilt = [UInt8](repeating: 0, count: length)
        rebuilt.withUnsafeMutableBytes { out in
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: packet[0..<header.payloadOffset]))
            out[0] &= ~0x20  // no padding in the rebuilt packet
            UnsafeMutableRawBufferPointer(rebasing: out[header.payloadOffset...])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: packet[(payload.lowerBound + 2)..<payload.upperBound]))
            try? RTPHeader.rewrite(out, ssrc: mediaSSRC, sequenceNumber: original, timestamp: header.timestamp,
                                   payloadType: media.payloadType)
        }
        rebuilt.withUnsafeBytes { bytes in
            guard let rebuiltHeader = try? RTPHeader.parse(bytes) else {
                counters.droppedPublisherRTX += 1
                return
            }
            counters.publisherRetransmissionsReceived += 1
            forward(slot: slot, layer: layer, header: rebuiltHeader, codec: codec, packet: bytes, now: now, into: &batch)
        }
    }

    /// NACKs due to publishers for packets missing on their uplinks (called on the tick);
    /// a packet given up on asks for a keyframe instead (RFC 4585 §6.3.1).
    mutating func requestPublisherRetransmissions(now: Instant, into batch: inout ForwardingBatch) {
        for slot in tracks.indices where tracks[slot] != nil {
            for layer in tracks[slot]!.layers.indices {
                guard tracks[slot]!.layers[layer].nack != nil, let ssrc = tracks[slot]!.layers[layer].description.ssrc else { continue }
                let output = tracks[slot]!.layers[layer].nack!.tick(now: now)
                if !output.nack.isEmpty {
                    let nack = GenericNACK(senderSSRC: feedbackSSRC, mediaSSRC: ssrc, pairs: Self.nackPairs(output.nack))
                    batch.append(.sendRTCP(to: tracks[slot]!.publisher, .nack(nack)))
                    counters.nacksSentToPublishers += 1
                }
                if output.keyframeNeeded { requestKeyframe(slot: slot, layer: layer, now: now, into: &batch) }
            }
        }
    }

    /// Packs sequence numbers (oldest first) into generic-NACK pairs: a packet id and a
    /// bitmask of the 16 after it (RFC 4585 §6.2.1).
    public static func nackPairs(_ sequences: [UInt16]) -> [GenericNACK.Pair] {
        var pairs: [GenericNACK.Pair] = []
        for sequence in sequences {
            if let last = pairs.last {
                let distance = sequence &- last.packetID
                if distance >= 1 && distance <= 16 {
                    pairs[pairs.count - 1].bitmask |= 1 << (distance - 1)
                    continue
                }
            }
            pairs.append(GenericNACK.Pair(packetID: sequence, bitmask: 0))
        }
        return pairs
    }

    /// Binds an unknown SSRC to a layer of one of `publisher`'s tracks from the packet's mid
    /// and rid (or repaired-rid, for RTX) header extensions (RFC 8843 §15, RFC 8852 §3), as
    /// browsers announce simulcast without `a=ssrc` lines. Runs once per new SSRC.
    private mutating func learnSource(publisher: ParticipantID, header: RTPHeader, packet: UnsafeRawBufferPointer,
                                      now: Instant, into batch: inout ForwardingBatch) -> SourceKey? {
        guard let map = participants[publisher]?.extensionMap, let mid = header.mid(map, in: packet) else { return nil }
        guard subscriptionSSRCs[header.ssrc] == nil else { return nil }
        guard let slot = tracks.firstIndex(where: { $0?.publisher == publisher && $0?.description.mid == mid }) else { return nil }
        let layers = tracks[slot]!.layers
        let rid = map.rtpStreamID.flatMap { header.extensionString(id: $0, in: packet) }
        let repaired = map.repairedRTPStreamID.flatMap { header.extensionString(id: $0, in: packet) }
        let layer: Int
        let isRTX: Bool
        if let rid, let index = layers.firstIndex(where: { $0.description.rid == rid }) {
            layer = index
            isRTX = false
        } else if let repaired, let index = layers.firstIndex(where: { $0.description.rid == repaired }) {
            layer = index
            isRTX = true
        } else if rid == nil, repaired == nil, layers.count == 1 {
            layer = 0
            isRTX = tracks[slot]!.description.payloadTypes.contains { $0.rtxPayloadType == header.payloadType }
        } else {
            return nil
        }
        if isRTX {
            guard layers[layer].description.rtxSSRC == nil else { return nil }
            tracks[slot]!.layers[layer].description.rtxSSRC = header.ssrc
        } else {
            guard layers[layer].description.ssrc == nil else { return nil }
            tracks[slot]!.layers[layer].description.ssrc = header.ssrc
            tracks[slot]!.layers[layer].keyframes = keyframeRequester(mediaSSRC: header.ssrc)
            if tracks[slot]!.layers[layer].keyframeWanted {
                tracks[slot]!.layers[layer].keyframeWanted = false
                requestKeyframe(slot: slot, layer: layer, now: now, into: &batch)
            }
        }
        let key = SourceKey(track: slot, layer: layer, isRTX: isRTX)
        sources[header.ssrc] = key
        return key
    }
}
