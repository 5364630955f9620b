import MediaPackets
import MediaCore

extension ForwardingRouter {
    /// An RTP packet from `publisher`, SRTP-decrypted. Appends one `sendRTP` directive (and
    /// a rewritten copy in `batch`) per subscriber currently receiving its track and layer.
    /// Malformed or unknown packets are dropped and counted, never trusted.
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
        guard let track = tracks[key.track], track.publisher == publisher else {
            counters.droppedForeignSource += 1
            return
        }
        guard !key.isRTX else {
            counters.droppedPublisherRTX += 1
            return
        }
        guard packet.count <= configuration.maxPacketSize, packet.count + 2 <= batch.slotSize else {
            counters.droppedOversize += 1
            return
        }
        guard let codec = track.codecs[Int(header.payloadType)] else {
            counters.droppedUnknownPayloadType += 1
            return
        }
        forward(slot: key.track, layer: key.layer, header: header, codec: codec, packet: packet, now: now, into: &batch)
    }

    public mutating func receiveRTP(from publisher: ParticipantID, packet: [UInt8], now: Instant, into batch: inout ForwardingBatch) {
        packet.withUnsafeBytes { receiveRTP(from: publisher, packet: $0, now: now, into: &batch) }
    }

    private mutating func forward(slot: Int, layer: Int, header: RTPHeader, codec: ForwardedCodec,
                                  packet: UnsafeRawBufferPointer, now: Instant, into batch: inout ForwardingBatch) {
        let kind = tracks[slot]!.description.kind
        let publisher = tracks[slot]!.publisher
        let clockRate = tracks[slot]!.description.clockRate
        tracks[slot]!.layers[layer].meter.record(bytes: packet.count, now: now)
        tracks[slot]!.layers[layer].cache.store(packet, sequenceNumber: header.sequenceNumber)

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
        if isKeyframe && kind == .video { tracks[slot]!.layers[layer].keyframes?.keyframeReceived(now: now) }

        if kind == .audio, let id = participants[publisher]?.extensionMap.audioLevel,
           let level = header.audioLevel(id: id, in: packet) {
            speakers.observe(publisher, level: level.level, voiceActivity: level.voiceActivity)
        }

        let trackID = tracks[slot]!.description.id
        for index in tracks[slot]!.subscriptions.indices {
            let current = tracks[slot]!.subscriptions[index].current
            if current != layer {
                // Join or switch to this layer only at a keyframe of it, never mid-stream.
                guard tracks[slot]!.subscriptions[index].target == layer, isKeyframe else { continue }
                tracks[slot]!.subscriptions[index].current = layer
                if kind == .video && tracks[slot]!.layers.count > 1 {
                    batch.append(.layerSwitched(subscriber: tracks[slot]!.subscriptions[index].subscriber, track: trackID, layer: layer))
                }
            }
            var advance: UInt32 = 1
            if let last = tracks[slot]!.subscriptions[index].lastForwardedAt {
                let elapsed = last.duration(to: now).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                advance = UInt32(max(1, min(seconds * Double(clockRate), Double(UInt32.max / 2))))
            }
            guard let output = tracks[slot]!.subscriptions[index].rewriter.rewrite(
                ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, timestampAdvance: advance)
            else { continue }
            tracks[slot]!.subscriptions[index].lastForwardedAt = now
            let ssrc = tracks[slot]!.subscriptions[index].description.ssrc
            let payloadType = tracks[slot]!.subscriptions[index].payloadTypes[Int(header.payloadType)]
            let range = batch.fillSlot { out in
                out.copyMemory(from: packet)
                try? RTPHeader.rewrite(out, ssrc: ssrc, sequenceNumber: output.sequenceNumber, timestamp: output.timestamp,
                                       payloadType: payloadType)
                return packet.count
            }
            guard let range else { continue }
            tracks[slot]!.subscriptions[index].sequenceMap.record(
                outgoing: output.sequenceNumber, layer: layer, sourceSequence: header.sequenceNumber, timestamp: output.timestamp)
            batch.append(.sendRTP(to: tracks[slot]!.subscriptions[index].subscriber, packet: range, retransmission: false))
            counters.packetsForwarded += 1
        }
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
