import MediaPackets
import MediaCore

/// NACK repairs toward subscribers under a budget, NACKs as a congestion signal, and the
/// rules of a layer switch under congestion (issue 6). The types holding the state are
/// ``RetransmissionBudget``, ``RepairLossMeter`` and ``LayerSwitchState``.
extension ForwardingRouter {
    /// One NACKed sequence number of the subscription at (`slot`, `index`): counted as a
    /// congestion signal the first time, then resent unless it is too old, belongs to a layer
    /// being left, was resent less than a round trip ago, or the budget is spent (then it is
    /// queued). A NACKed packet of a switch's target keyframe that cannot be repaired, or is
    /// NACKed again after its repair had time to arrive, asks the publisher for a new keyframe.
    mutating func repair(_ outgoing: UInt16, slot: Int, index: Int, now: Instant, into batch: inout ForwardingBatch) {
        guard let entry = tracks[slot]!.subscriptions[index].sequenceMap.lookup(outgoing) else {
            counters.nackMisses += 1
            return
        }
        let subscriber = tracks[slot]!.subscriptions[index].subscriber
        if tracks[slot]!.subscriptions[index].sequenceMap.markNacked(outgoing) {
            participants[subscriber]?.repairLoss.firstNACK()
        }
        let keyframePacket = tracks[slot]!.subscriptions[index].layerSwitch.isKeyframePacket(outgoing, now: now)
        guard let budget = participants[subscriber]?.retransmission else { return }
        if isTooOld(entry, slot: slot, index: index) {
            counters.repairsTooOld += 1
            if keyframePacket { rerequestKeyframe(slot: slot, index: index, now: now, into: &batch) }
            return
        }
        if dropsAsLeftLayer(entry, slot: slot, index: index) {
            counters.repairsDroppedForSwitch += 1
            return
        }
        if let last = entry.lastResent {
            let sinceLast = last.duration(to: now)
            // Its repair had time to arrive and did not: the keyframe is lost in the bottleneck.
            if keyframePacket && sinceLast >= budget.resendInterval { rerequestKeyframe(slot: slot, index: index, now: now, into: &batch) }
            if sinceLast < budget.resendInterval { return }
        }
        guard participants[subscriber]!.retransmission.canSend(now: now) else {
            let pending = RetransmissionBudget<Instant>.Pending(slot: slot, track: tracks[slot]!.description.id, outgoing: outgoing, requestedAt: now)
            let (queued, dropped) = participants[subscriber]!.retransmission.enqueue(pending)
            if queued { counters.repairsQueued += 1 }
            if dropped != nil { counters.repairsExpired += 1 }
            return
        }
        if let bytes = resend(outgoing, slot: slot, index: index, now: now, into: &batch) {
            participants[subscriber]!.retransmission.spend(bytes: bytes)
            participants[subscriber]!.retransmission.repairSent(slot: slot, track: tracks[slot]!.description.id, outgoing: outgoing, now: now)
        } else if keyframePacket {
            rerequestKeyframe(slot: slot, index: index, now: now, into: &batch)
        }
    }

    /// Queued repairs, oldest first, as each subscriber's budget refills (called on the tick).
    mutating func sendQueuedRepairs(now: Instant, into batch: inout ForwardingBatch) {
        for subscriber in participants.keys where !(participants[subscriber]!.retransmission.pending.isEmpty) {
            while let pending = participants[subscriber]!.retransmission.dequeue(now: now) {
                guard tracks.indices.contains(pending.slot), let track = tracks[pending.slot], track.description.id == pending.track,
                      let index = track.subscriptions.firstIndex(where: { $0.subscriber == subscriber }),
                      let entry = track.subscriptions[index].sequenceMap.lookup(pending.outgoing) else {
                    counters.repairsExpired += 1
                    continue
                }
                if isTooOld(entry, slot: pending.slot, index: index) {
                    counters.repairsExpired += 1
                    continue
                }
                if dropsAsLeftLayer(entry, slot: pending.slot, index: index) {
                    counters.repairsDroppedForSwitch += 1
                    continue
                }
                if let last = entry.lastResent,
                   last.duration(to: now) < participants[subscriber]!.retransmission.resendInterval { continue }
                if let bytes = resend(pending.outgoing, slot: pending.slot, index: index, now: now, into: &batch) {
                    participants[subscriber]!.retransmission.spend(bytes: bytes)
                    participants[subscriber]!.retransmission.repairSent(slot: pending.slot, track: pending.track,
                                                                        outgoing: pending.outgoing, now: now)
                }
            }
        }
        resendUnconfirmedRepairs(now: now, into: &batch)
    }

    /// Repairs no NACK has confirmed for two resend intervals are sent once more (queued like
    /// any repair when the budget is spent): a receiver that NACKs only on a new gap would
    /// never ask again for one lost at the end of a congestion episode.
    mutating func resendUnconfirmedRepairs(now: Instant, into batch: inout ForwardingBatch) {
        for subscriber in participants.keys where !(participants[subscriber]!.retransmission.unconfirmed.isEmpty) {
            for due in participants[subscriber]!.retransmission.dueUnconfirmed(now: now) {
                guard tracks.indices.contains(due.slot), let track = tracks[due.slot], track.description.id == due.track,
                      let index = track.subscriptions.firstIndex(where: { $0.subscriber == subscriber }),
                      let entry = track.subscriptions[index].sequenceMap.lookup(due.outgoing),
                      !isTooOld(entry, slot: due.slot, index: index), !dropsAsLeftLayer(entry, slot: due.slot, index: index)
                else { continue }
                guard participants[subscriber]!.retransmission.canSend(now: now) else {
                    let pending = RetransmissionBudget<Instant>.Pending(slot: due.slot, track: due.track, outgoing: due.outgoing, requestedAt: now)
                    if participants[subscriber]!.retransmission.enqueue(pending).queued { counters.repairsQueued += 1 }
                    continue
                }
                if let bytes = resend(due.outgoing, slot: due.slot, index: index, now: now, into: &batch) {
                    participants[subscriber]!.retransmission.spend(bytes: bytes)
                    counters.unconfirmedRepairsResent += 1
                }
            }
        }
    }

    /// More than `retransmission.maximumAge` of media time behind the newest packet sent on
    /// the subscription (outgoing timestamps advance with the wall clock across switches).
    func isTooOld(_ entry: OutgoingSequenceMap<Instant>.Entry, slot: Int, index: Int) -> Bool {
        guard let newest = tracks[slot]!.subscriptions[index].rewriter.lastOutput else { return false }
        let behind = Int32(bitPattern: newest.timestamp &- entry.timestamp)
        guard behind > 0 else { return false }
        let clockRate = max(1, tracks[slot]!.description.clockRate)
        let limit = RetransmissionBudget<Instant>.seconds(configuration.retransmission.maximumAge) * Double(clockRate)
        return Double(behind) > limit
    }

    /// A repair of a layer other than the target while a switch is pending, when such
    /// repairs are dropped (``LeftLayerRepairs/dropped``).
    func dropsAsLeftLayer(_ entry: OutgoingSequenceMap<Instant>.Entry, slot: Int, index: Int) -> Bool {
        guard configuration.layerSwitch.leftLayerRepairs == .dropped else { return false }
        let subscription = tracks[slot]!.subscriptions[index]
        guard let current = subscription.current, current != subscription.target else { return false }
        return Int(entry.layer) != subscription.target
    }

    /// The target keyframe of a switch did not reach the subscriber: ask for another.
    mutating func rerequestKeyframe(slot: Int, index: Int, now: Instant, into batch: inout ForwardingBatch) {
        guard let layer = tracks[slot]!.subscriptions[index].current else { return }
        counters.keyframeRerequests += 1
        requestKeyframe(slot: slot, layer: layer, now: now, into: &batch)
    }

    /// The packets sent so far to `subscriber` on its video subscriptions.
    func packetsSent(to subscriber: ParticipantID) -> Int {
        var total = 0
        for track in tracks {
            guard let track, track.description.kind == .video else { continue }
            for subscription in track.subscriptions where subscription.subscriber == subscriber {
                total += Int(subscription.packetsSent)
            }
        }
        return total
    }

    /// After a NACK: when the NACKed share of what was sent since the last report is already
    /// above the decrease threshold (at least `repairLoss.minimumPackets` over
    /// `repairLoss.minimumInterval`), it is a loss report of its own — the estimate falls
    /// without waiting for the receiver report.
    mutating func repairLossReport(for subscriber: ParticipantID, now: Instant, into batch: inout ForwardingBatch) {
        guard let state = participants[subscriber], !state.sendsREMB else { return }
        let sent = packetsSent(to: subscriber)
        guard let share = participants[subscriber]!.repairLoss.take(sent: sent, now: now, requireMinimum: true),
              share > configuration.lossEstimator.decreaseThreshold else { return }
        counters.repairLossReports += 1
        lossReport(for: subscriber, loss: share, now: now, into: &batch)
    }

    /// One loss observation (0…1) for the subscriber's loss-based estimate.
    mutating func lossReport(for subscriber: ParticipantID, loss: Double, now: Instant, into batch: inout ForwardingBatch) {
        guard participants[subscriber] != nil else { return }
        if loss > configuration.lossEstimator.decreaseThreshold { participants[subscriber]!.congestedAt = now }
        let rate = sendingRate(to: subscriber, now: now)
        let fraction = UInt8(min(255, max(0, loss * 256)))
        guard let estimate = participants[subscriber]!.lossEstimator.receiverReport(fractionLost: fraction, sendingRate: rate, now: now)
        else { return }
        counters.lossBasedEstimates += 1
        bandwidthEstimate(subscriber, bitsPerSecond: estimate, now: now, into: &batch)
    }

    /// Whether the subscriber reported loss above the decrease threshold recently.
    func isCongested(_ subscriber: ParticipantID, now: Instant) -> Bool {
        guard let at = participants[subscriber]?.congestedAt else { return false }
        return at.duration(to: now) < configuration.layerSwitch.congestionMemory
    }

    /// After the target of the subscription at (`slot`, `index`) was chosen: a switch down
    /// while congested pauses the current layer at its frame end (``CongestedDownSwitch``);
    /// a switch that is no longer wanted, or one up, does not.
    mutating func updateLayerSwitch(slot: Int, index: Int, now: Instant) {
        let subscription = tracks[slot]!.subscriptions[index]
        guard let current = subscription.current else { return }
        if subscription.target < current && isCongested(subscription.subscriber, now: now) {
            tracks[slot]!.subscriptions[index].layerSwitch.downSwitchDecided(now: now)
        } else if subscription.layerSwitch.isPending && subscription.target >= current {
            tracks[slot]!.subscriptions[index].layerSwitch.cancel()
        }
    }

    /// The SFU sent `subscriber` a sender report at `now` with NTP time `ntp`; kept (the last
    /// eight: one per stream it receives) to read the round-trip time from its receiver reports.
    mutating func senderReportSent(to subscriber: ParticipantID, ntp: UInt64, now: Instant) {
        let lsr = UInt32(truncatingIfNeeded: ntp >> 16)
        guard participants[subscriber] != nil, participants[subscriber]!.senderReports.last?.lsr != lsr else { return }
        participants[subscriber]!.senderReports.append((lsr, now))
        if participants[subscriber]!.senderReports.count > 8 { participants[subscriber]!.senderReports.removeFirst() }
    }

    /// RTT = time since the SR named by LSR − DLSR (RFC 3550 §6.4.1), into the repair budget.
    mutating func roundTrip(_ block: ReceptionReport, from subscriber: ParticipantID, now: Instant) {
        guard block.lastSenderReport != 0,
              let sent = participants[subscriber]?.senderReports.first(where: { $0.lsr == block.lastSenderReport }) else { return }
        let delay = Duration.nanoseconds(Int64(block.delaySinceLastSenderReport) * 1_000_000_000 / 65_536)
        let rtt = sent.sentAt.duration(to: now) - delay
        guard rtt >= .zero else { return }
        participants[subscriber]!.retransmission.roundTripTime = rtt
    }
}
