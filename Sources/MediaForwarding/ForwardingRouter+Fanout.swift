import MediaPackets
import MediaCore

// The per-packet hot path of ``ForwardingRouter``: one in-place access to the track, one
// to each subscription that receives the packet's layer (issue 6: value copies of `Track`
// and `Subscription` per packet were ~20 % of the SFU thread, docs/performance.md).

extension ForwardingRouter.Track {
    /// Rebuilds ``receivers`` and ``switching`` from the subscriptions' current and target
    /// layers. Called whenever a subscription is added or removed, or its current or target
    /// layer changes (never per packet).
    mutating func reindexSubscriptions() {
        let count = layers.count
        if receivers.count != count {
            receivers = [[Int]](repeating: [], count: count)
            switching = [Int](repeating: 0, count: count)
        } else {
            for layer in 0..<count {
                receivers[layer].removeAll(keepingCapacity: true)
                switching[layer] = 0
            }
        }
        for index in subscriptions.indices {
            let subscription = subscriptions[index]
            if let current = subscription.current, current >= 0, current < count { receivers[current].append(index) }
            if subscription.current != subscription.target, subscription.target >= 0, subscription.target < count {
                switching[subscription.target] += 1
            }
        }
    }

    /// The publisher-side stages of a packet of `layer`: bitrate meter, retransmission cache,
    /// uplink NACK generator, reception statistics and (for a video keyframe) the keyframe
    /// requester.
    mutating func recordPublished(layer: Int, header: RTPHeader, packet: UnsafeRawBufferPointer, isKeyframe: Bool, now: Instant) {
        layers[layer].meter.record(bytes: packet.count, now: now)
        layers[layer].cache.store(packet, sequenceNumber: header.sequenceNumber)
        layers[layer].nack?.packetReceived(sequenceNumber: header.sequenceNumber, now: now)
        layers[layer].reception.packetReceived(sequenceNumber: header.sequenceNumber, rtpTimestamp: header.timestamp, arrival: now)
        if isKeyframe && description.kind == .video { layers[layer].keyframes?.keyframeReceived(now: now) }
    }

    /// Appends a rewritten copy of the packet for every subscription receiving `layer`, in
    /// subscription order. Subscriptions waiting for this layer join it at a keyframe (never
    /// mid-stream); only then are the other subscriptions looked at. A subscription in a
    /// congested switch down holds its current layer after the frame end (LayerSwitch.swift).
    mutating func fanOut(layer: Int, header: RTPHeader, packet: UnsafeRawBufferPointer, isKeyframe: Bool, now: Instant,
                         switching switchConfiguration: LayerSwitchConfiguration,
                         counters: inout ForwardingCounters, batch: inout ForwardingBatch) {
        guard layer < receivers.count else { return }
        let clockRate = description.clockRate
        var held = 0
        if isKeyframe && switching[layer] > 0 {
            let reportsSwitches = description.kind == .video && layers.count > 1
            for index in subscriptions.indices {
                var entered = false, switched = false
                if subscriptions[index].current != layer {
                    guard subscriptions[index].target == layer else { continue }
                    entered = true
                    switched = subscriptions[index].current != nil && reportsSwitches
                    subscriptions[index].current = layer
                    if reportsSwitches {
                        counters.layerSwitches += 1
                        batch.append(.layerSwitched(subscriber: subscriptions[index].subscriber, track: description.id, layer: layer))
                    }
                }
                if subscriptions[index].forward(layer: layer, header: header, packet: packet, clockRate: clockRate, now: now,
                                                entered: entered, switched: switched, switching: switchConfiguration,
                                                held: &held, into: &batch) {
                    counters.packetsForwarded += 1
                }
            }
            counters.packetsHeldForSwitch += held
            reindexSubscriptions()
            return
        }
        // One uniqueness check of the subscriptions' storage per packet, not one per subscriber.
        let receiving = receivers[layer]
        var forwarded = 0
        subscriptions.withUnsafeMutableBufferPointer { subscriptions in
            for index in receiving
            where subscriptions[index].forward(layer: layer, header: header, packet: packet, clockRate: clockRate, now: now,
                                               entered: false, switched: false, switching: switchConfiguration,
                                               held: &held, into: &batch) {
                forwarded += 1
            }
        }
        counters.packetsForwarded += forwarded
        counters.packetsHeldForSwitch += held
    }
}

extension ForwardingRouter.Subscription {
    /// The subscription's copy of a packet of the layer it receives: rewritten SSRC, sequence
    /// number, timestamp and payload type, written into the batch's next slot, recorded for
    /// NACKs and sender reports. False when the rewriter drops it (it predates a switch), the
    /// batch refused the slot, or a congested switch down holds this layer (counted in `held`).
    /// `entered`: the subscription joined the layer at this packet; `switched`: from another one.
    mutating func forward(layer: Int, header: RTPHeader, packet: UnsafeRawBufferPointer, clockRate: Int, now: Instant,
                          entered: Bool, switched: Bool, switching switchConfiguration: LayerSwitchConfiguration,
                          held: inout Int, into batch: inout ForwardingBatch) -> Bool {
        if !entered, layerSwitch.isPending, !layerSwitch.forwardsCurrent(marker: header.marker, now: now, configuration: switchConfiguration) {
            held += 1
            return false
        }
        var advance: UInt32 = 1
        if let last = lastForwardedAt {
            let elapsed = last.duration(to: now).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            advance = UInt32(max(1, min(seconds * Double(clockRate), Double(UInt32.max / 2))))
        }
        guard let output = rewriter.rewrite(ssrc: header.ssrc, sequenceNumber: header.sequenceNumber,
                                            timestamp: header.timestamp, timestampAdvance: advance)
        else { return false }
        lastForwardedAt = now
        let ssrc = description.ssrc
        let payloadType = payloadTypes[Int(header.payloadType)]
        let range = batch.fillSlot { out in
            out.copyMemory(from: packet)
            try? RTPHeader.rewrite(out, ssrc: ssrc, sequenceNumber: output.sequenceNumber, timestamp: output.timestamp,
                                   payloadType: payloadType)
            return packet.count
        }
        guard let range else { return false }
        sequenceMap.record(outgoing: output.sequenceNumber, layer: layer, sourceSequence: header.sequenceNumber, timestamp: output.timestamp)
        if switched { layerSwitch.switched(firstSequence: output.sequenceNumber, now: now, configuration: switchConfiguration) }
        if layerSwitch.isWatchingKeyframeEnd { layerSwitch.forwardedAfterSwitch(sequence: output.sequenceNumber, marker: header.marker) }
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: header.payloadLength)
        if output == rewriter.lastOutput { lastSourceTimestamp = header.timestamp }
        batch.append(.sendRTP(to: subscriber, packet: range, retransmission: false))
        return true
    }
}
