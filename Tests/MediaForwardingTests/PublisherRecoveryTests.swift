import Testing
import MediaForwarding
import MediaPackets

/// Loss on a publisher's uplink: the SFU NACKs the publisher (RFC 4585 §6.2.1) and forwards
/// the packets its RTX brings back (RFC 4588 §4) to subscribers, in their own numbering.
@Suite struct PublisherRecoveryTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    /// An RTX packet for `original`: own SSRC, sequence and payload type, then the OSN.
    func rtx(original: UInt16, payload: [UInt8], seq: UInt16, ts: UInt32) -> [UInt8] {
        rtp(ssrc: 5001, seq: seq, ts: ts, pt: 97, payload: [UInt8(original >> 8), UInt8(original & 0xFF)] + payload)
    }

    @Test func uplinkLossIsNACKedAndTheRTXIsForwarded() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000, rtxSSRC: 5001), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)

        var delivered: [Sent] = []
        var nacked: [UInt16] = []
        func collect() {
            delivered += batch.sentRTP
            for (to, packet) in batch.sentRTCP {
                guard case .nack(let nack) = packet else { continue }
                #expect(to == publisher)
                #expect(nack.mediaSSRC == 5000)
                #expect(nack.senderSSRC == router.feedbackSSRC)
                for pair in nack.pairs {
                    nacked.append(pair.packetID)
                    for bit in 0..<16 where pair.bitmask & (1 << bit) != 0 { nacked.append(pair.packetID &+ UInt16(bit) &+ 1) }
                }
            }
        }
        // 65,530…65,545 across the wrap; 65,533, 65,534 and 3 are lost on the uplink.
        let lost: Set<UInt16> = [65_533, 65_534, 3]
        var sequence: UInt16 = 65_530
        for k in 0..<16 {
            batch.reset()
            if !lost.contains(sequence) {
                let payload = VP8.payload(keyframe: k == 0, fill: UInt8(truncatingIfNeeded: sequence))
                router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: sequence, ts: UInt32(k) * 3000, payload: payload),
                                  now: now, into: &batch)
            }
            collect()
            sequence &+= 1
            now = now.advanced(by: .milliseconds(5))
        }
        #expect(delivered.count == 13)
        // The tick after the reordering delay asks for all three, in one NACK packet.
        batch.reset()
        now = now.advanced(by: .milliseconds(20))
        router.tick(now: now, into: &batch)
        collect()
        #expect(Set(nacked) == lost)
        #expect(router.counters.nacksSentToPublishers == 1)
        // Not again before the retry interval.
        batch.reset()
        router.tick(now: now.advanced(by: .milliseconds(10)), into: &batch)
        #expect(batch.sentRTCP.isEmpty)

        // The publisher answers with RTX (plus a padding-only probe, which carries nothing).
        let firstOut = delivered[0].header.sequenceNumber
        for (n, original) in [UInt16(65_533), 3].enumerated() {
            batch.reset()
            let k = Int(original &- 65_530)
            router.receiveRTP(from: publisher, packet: rtx(original: original, payload: VP8.payload(keyframe: false, fill: UInt8(truncatingIfNeeded: original)),
                                                           seq: 900 + UInt16(n), ts: UInt32(k) * 3000), now: now, into: &batch)
            let recovered = batch.sentRTP
            #expect(recovered.count == 1)
            // The subscriber's numbering: the packet's place in the original sequence.
            #expect(recovered.first?.header.sequenceNumber == firstOut &+ UInt16(k))
            #expect(recovered.first?.header.ssrc == 4242)
            #expect(recovered.first?.header.payloadType == 96)
            #expect(recovered.first?.payload == VP8.payload(keyframe: false, fill: UInt8(truncatingIfNeeded: original)))
            #expect(recovered.first?.retransmission == false)
        }
        batch.reset()
        var probe = RTPPacketBuilder(payloadType: 97, sequenceNumber: 902, timestamp: 0, ssrc: 5001, payload: [])
        probe.paddingLength = 200
        router.receiveRTP(from: publisher, packet: try probe.build(), now: now, into: &batch)
        #expect(batch.sentRTP.isEmpty)
        #expect(router.counters.publisherRetransmissionsReceived == 2)
        #expect(router.counters.droppedPublisherRTX == 1)

        // Only the one still missing is asked for again.
        nacked = []
        batch.reset()
        router.tick(now: now.advanced(by: .milliseconds(200)), into: &batch)
        collect()
        #expect(nacked == [65_534])
    }

    @Test func nackPairsPackRunsIntoBitmasks() {
        // RFC 4585 §6.2.1: PID, then bit i for PID + i + 1.
        #expect(Router.nackPairs([10, 11, 13, 26, 27, 65_535, 0]) == [
            GenericNACK.Pair(packetID: 10, bitmask: 0b1000_0000_0000_0101),
            GenericNACK.Pair(packetID: 27, bitmask: 0),
            GenericNACK.Pair(packetID: 65_535, bitmask: 0b1),
        ])
        #expect(Router.nackPairs([]).isEmpty)
    }

    @Test func publisherLossRecoveryCanBeTurnedOff() throws {
        var configuration = ForwardingConfiguration()
        configuration.publisherLossRecovery = .off
        var router = Router(configuration: configuration)
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000, rtxSSRC: 5001), by: publisher)
        for sequence: UInt16 in [1, 5] {
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: sequence, ts: 0, payload: VP8.payload(keyframe: true)), now: now, into: &batch)
        }
        batch.reset()
        router.tick(now: now.advanced(by: .seconds(1)), into: &batch)
        #expect(!batch.sentRTCP.contains { if case .nack = $0.packet { true } else { false } })
    }
}
