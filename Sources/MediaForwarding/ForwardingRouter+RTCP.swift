import MediaPackets
import MediaCore

extension ForwardingRouter {
    /// A compound RTCP packet from `subscriber`, SRTCP-decrypted. NACKs are answered from
    /// the publisher-side caches (RFC 4585 §6.2.1; as RTX when negotiated, RFC 4588 §4);
    /// PLI and FIR are relayed to the publisher of the layer the subscriber is on, throttled
    /// per layer (RFC 4585 §6.3.1, RFC 5104 §4.3.1); REMB updates the bandwidth estimate, and
    /// until a subscriber sends REMB the loss in its receiver reports does
    /// (``LossBasedBandwidthEstimator``, draft-ietf-rmcat-gcc-02 §6).
    /// Feedback naming an SSRC this subscriber does not receive is ignored.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func receiveRTCP(from subscriber: ParticipantID, packet: UnsafeRawBufferPointer, now: Instant,
                                     into batch: inout ForwardingBatch) {
        guard let packets = try? RTCPCompound.parse(packet) else {
            counters.malformedRTCP += 1
            return
        }
        for rtcp in packets {
            switch rtcp {
            case .nack(let nack):
                answer(nack, from: subscriber, now: now, into: &batch)
            case .pictureLossIndication(let pli):
                relayKeyframeRequest(mediaSSRC: pli.mediaSSRC, from: subscriber, now: now, into: &batch)
            case .fullIntraRequest(let fir):
                for entry in fir.entries { relayKeyframeRequest(mediaSSRC: entry.ssrc, from: subscriber, now: now, into: &batch) }
            case .remb(let remb):
                participants[subscriber]?.sendsREMB = true
                bandwidthEstimate(subscriber, bitsPerSecond: Int(clamping: remb.bitrate), now: now, into: &batch)
            case .receiverReport(let report):
                receptionReports(report.reports, from: subscriber, now: now, into: &batch)
            case .senderReport(let report):
                receptionReports(report.reports, from: subscriber, now: now, into: &batch)
            default:
                break
            }
        }
    }

    public mutating func receiveRTCP(from subscriber: ParticipantID, packet: [UInt8], now: Instant, into batch: inout ForwardingBatch) {
        packet.withUnsafeBytes { receiveRTCP(from: subscriber, packet: $0, now: now, into: &batch) }
    }

    /// Report blocks about streams this subscriber receives feed its loss-based estimate
    /// (the worst block counts); blocks about other SSRCs are ignored.
    private mutating func receptionReports(_ reports: [ReceptionReport], from subscriber: ParticipantID, now: Instant,
                                           into batch: inout ForwardingBatch) {
        guard let state = participants[subscriber] else { return }
        var worst: UInt8?
        for block in reports where subscriptionIndex(ssrc: block.ssrc, subscriber: subscriber) != nil {
            worst = max(worst ?? 0, block.fractionLost)
            roundTrip(block, from: subscriber, now: now)
        }
        guard let worst, !state.sendsREMB else { return }
        // The NACKed share since the last report counts too (RepairLossMeter).
        let nacked = participants[subscriber]!.repairLoss.take(sent: packetsSent(to: subscriber), now: now, requireMinimum: false) ?? 0
        lossReport(for: subscriber, loss: max(Double(worst) / 256, nacked), now: now, into: &batch)
    }

    private func subscriptionIndex(ssrc: UInt32, subscriber: ParticipantID) -> (slot: Int, index: Int)? {
        guard let slot = subscriptionSSRCs[ssrc], let track = tracks[slot],
              let index = track.subscriptions.firstIndex(where: { $0.subscriber == subscriber && $0.description.ssrc == ssrc })
        else { return nil }
        return (slot, index)
    }

    private mutating func relayKeyframeRequest(mediaSSRC: UInt32, from subscriber: ParticipantID, now: Instant,
                                               into batch: inout ForwardingBatch) {
        guard let (slot, index) = subscriptionIndex(ssrc: mediaSSRC, subscriber: subscriber),
              tracks[slot]!.description.kind == .video else { return }
        let subscription = tracks[slot]!.subscriptions[index]
        requestKeyframe(slot: slot, layer: subscription.current ?? subscription.target, now: now, into: &batch)
    }

    private mutating func answer(_ nack: GenericNACK, from subscriber: ParticipantID, now: Instant, into batch: inout ForwardingBatch) {
        guard let (slot, index) = subscriptionIndex(ssrc: nack.mediaSSRC, subscriber: subscriber) else { return }
        let basis = participants[subscriber]?.estimate ?? sendingRate(to: subscriber, now: now)
        participants[subscriber]?.retransmission.setRate(basis: basis, now: now)
        participants[subscriber]?.retransmission.nackReceived(slot: slot, missing: Set(nack.lostSequenceNumbers), now: now)
        for pair in nack.pairs {
            repair(pair.packetID, slot: slot, index: index, now: now, into: &batch)
            var mask = pair.bitmask
            var bit: UInt16 = 1
            while mask != 0 {
                if mask & 1 != 0 { repair(pair.packetID &+ bit, slot: slot, index: index, now: now, into: &batch) }
                mask >>= 1
                bit += 1
            }
        }
        repairLossReport(for: subscriber, now: now, into: &batch)
    }

    /// Resends the packet the subscriber numbered `outgoing` (RTX or plain); returns its size,
    /// or nil when it is no longer cached (counted as a miss). The rules deciding whether to
    /// (budget, age, interval, switches) are in ``repair(_:slot:index:now:into:)``.
    mutating func resend(_ outgoing: UInt16, slot: Int, index: Int, now: Instant, into batch: inout ForwardingBatch) -> Int? {
        guard let entry = tracks[slot]!.subscriptions[index].sequenceMap.lookup(outgoing) else {
            counters.nackMisses += 1
            return nil
        }
        let layer = Int(entry.layer)
        guard tracks[slot]!.layers.indices.contains(layer) else { return nil }
        let subscription = tracks[slot]!.subscriptions[index]
        var rtxPayloadType: UInt8?
        var rtxSequence: UInt16 = 0
        let range: Range<Int>?? = tracks[slot]!.layers[layer].cache.withPacket(sequenceNumber: entry.sourceSequence) { source in
            guard let header = try? RTPHeader.parse(source) else { return nil }
            let payloadType = subscription.payloadTypes[Int(header.payloadType)]
            if let rtx = subscription.description.rtx, subscription.rtxPayloadTypes[Int(payloadType)] != 0xFF {
                // RFC 4588 §4: RTX header (own SSRC, sequence, payload type), then the
                // original sequence number, then the original payload; no padding.
                let pt = subscription.rtxPayloadTypes[Int(payloadType)]
                rtxPayloadType = pt
                rtxSequence = subscription.rtxSequence
                return batch.fillSlot { out in
                    let headerLength = header.payloadOffset
                    let length = headerLength + 2 + header.payloadLength
                    guard length <= out.count else { return nil }
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<headerLength]))
                    out[0] &= ~0x20
                    try? RTPHeader.rewrite(out, ssrc: rtx.ssrc, sequenceNumber: subscription.rtxSequence,
                                           timestamp: entry.timestamp, payloadType: pt)
                    out[headerLength] = UInt8(outgoing >> 8)
                    out[headerLength + 1] = UInt8(truncatingIfNeeded: outgoing)
                    UnsafeMutableRawBufferPointer(rebasing: out[(headerLength + 2)..<length])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[header.payloadRange]))
                    return length
                }
            }
            return batch.fillSlot { out in
                out.copyMemory(from: source)
                try? RTPHeader.rewrite(out, ssrc: subscription.description.ssrc, sequenceNumber: outgoing,
                                       timestamp: entry.timestamp, payloadType: payloadType)
                return source.count
            }
        }
        guard let found = range, let written = found else {
            counters.nackMisses += 1
            return nil
        }
        if rtxPayloadType != nil { tracks[slot]!.subscriptions[index].rtxSequence = rtxSequence &+ 1 }
        tracks[slot]!.subscriptions[index].sequenceMap.markResent(outgoing, now: now)
        batch.append(.sendRTP(to: subscription.subscriber, packet: written, retransmission: true))
        counters.retransmissionsSent += 1
        return written.count
    }
}
