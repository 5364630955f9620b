import Testing
import MediaForwarding
import MediaPackets

@Suite struct FanOutTests {
    let publisher = ParticipantID(1)

    @Test func fanOutRewritesEachCopyAndKeepsContinuity() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher, extensionMap: Ext.map)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        let subscribers = (2...6).map { ParticipantID(UInt32($0)) }
        for (i, s) in subscribers.enumerated() {
            try router.join(s)
            batch.reset()
            // Subscriber 3 negotiated VP8 as payload type 100.
            let map: [UInt8: UInt8] = s == ParticipantID(3) ? [96: 100] : [:]
            try router.subscribe(s, to: TrackID(10), SubscriptionDescription(
                ssrc: 9000 + UInt32(i), payloadTypeMap: map,
                initialSequenceOffset: UInt16(i * 1000), initialTimestampOffset: UInt32(i) * 77_777), now: now, into: &batch)
        }
        // Delta frames before the first keyframe are not forwarded: nobody could decode them.
        batch.reset()
        router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: 65_530, ts: 1000, payload: VP8.payload(keyframe: false)), now: now, into: &batch)
        #expect(batch.sentRTP.isEmpty)

        var received: [ParticipantID: [Sent]] = [:]
        for k in 0..<40 {
            now = now.advanced(by: .milliseconds(33))
            batch.reset()
            let seq = UInt16(truncatingIfNeeded: 65_531 + k)  // crosses the sequence wrap
            let payload = VP8.payload(keyframe: k == 0, fill: UInt8(k))
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: seq, ts: 1000 + UInt32(k) * 3000, payload: payload), now: now, into: &batch)
            let sent = batch.sentRTP
            #expect(sent.count == subscribers.count)
            #expect(Set(sent.map(\.to)) == Set(subscribers))  // once each, never the publisher
            for packet in sent {
                #expect(packet.payload == payload)
                received[packet.to, default: []].append(packet)
            }
        }
        for (i, s) in subscribers.enumerated() {
            let packets = received[s] ?? []
            #expect(packets.count == 40)
            for (k, packet) in packets.enumerated() {
                #expect(packet.header.ssrc == 9000 + UInt32(i))
                #expect(packet.header.payloadType == (s == ParticipantID(3) ? 100 : 96))
                #expect(packet.header.sequenceNumber == packets[0].header.sequenceNumber &+ UInt16(k))
                #expect(packet.header.timestamp == packets[0].header.timestamp &+ UInt32(k) * 3000)
            }
            #expect(packets.first?.header.sequenceNumber == UInt16(truncatingIfNeeded: 65_531 + i * 1000))
        }
        #expect(router.counters.packetsForwarded == 200)
    }

    @Test func audioIsForwardedFromTheFirstPacketAndNeverToItsPublisher() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher, extensionMap: Ext.map)
        try router.join(ParticipantID(2))
        try router.publish(audioTrack(20, mid: "1", ssrc: 7000), by: publisher)
        #expect(throws: ForwardingError.ownTrack(TrackID(20), publisher)) {
            try router.subscribe(publisher, to: TrackID(20), SubscriptionDescription(ssrc: 1), now: now, into: &batch)
        }
        try router.subscribe(ParticipantID(2), to: TrackID(20), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        batch.reset()
        router.receiveRTP(from: publisher, packet: rtp(ssrc: 7000, seq: 1, ts: 960, pt: 111, payload: [1, 2, 3]), now: now, into: &batch)
        #expect(batch.sentRTP.map(\.to) == [ParticipantID(2)])
        #expect(batch.sentRTP.first?.header.ssrc == 8000)
    }

    @Test func packetsFromAnotherParticipantsSSRCAreDropped() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher)
        try router.join(ParticipantID(2))
        try router.join(ParticipantID(3))
        try router.publish(audioTrack(20, mid: "1", ssrc: 7000), by: publisher)
        try router.subscribe(ParticipantID(3), to: TrackID(20), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        batch.reset()
        router.receiveRTP(from: ParticipantID(2), packet: rtp(ssrc: 7000, seq: 1, ts: 960, pt: 111, payload: [1]), now: now, into: &batch)
        #expect(batch.directives.isEmpty)
        #expect(router.counters.droppedForeignSource == 1)
    }

    @Test func leaveAndUnpublishCleanUp() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher)
        try router.join(ParticipantID(2))
        try router.join(ParticipantID(3))
        try router.publish(audioTrack(20, mid: "1", ssrc: 7000), by: publisher)
        try router.subscribe(ParticipantID(2), to: TrackID(20), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        try router.subscribe(ParticipantID(3), to: TrackID(20), SubscriptionDescription(ssrc: 8001), now: now, into: &batch)
        router.leave(ParticipantID(2), into: &batch)
        batch.reset()
        router.receiveRTP(from: publisher, packet: rtp(ssrc: 7000, seq: 1, ts: 960, pt: 111, payload: [1]), now: now, into: &batch)
        #expect(batch.sentRTP.map(\.to) == [ParticipantID(3)])
        // The subscriber's SSRC is free again.
        try router.join(ParticipantID(4))
        try router.subscribe(ParticipantID(4), to: TrackID(20), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        router.leave(publisher, into: &batch)
        batch.reset()
        router.receiveRTP(from: publisher, packet: rtp(ssrc: 7000, seq: 2, ts: 1920, pt: 111, payload: [1]), now: now, into: &batch)
        #expect(batch.directives.isEmpty)
        #expect(router.subscriptions(of: ParticipantID(3)).isEmpty)
        #expect(throws: ForwardingError.unknownTrack(TrackID(20))) { try router.unpublish(TrackID(20)) }
        // Publishing validates identities: same mid twice, an SSRC in use.
        try router.publish(audioTrack(21, mid: "1", ssrc: 7100), by: ParticipantID(3))
        #expect(throws: ForwardingError.midInUse("1", ParticipantID(3))) {
            try router.publish(audioTrack(22, mid: "1", ssrc: 7200), by: ParticipantID(3))
        }
        #expect(throws: ForwardingError.ssrcInUse(7100)) {
            try router.publish(audioTrack(23, mid: "2", ssrc: 7100), by: ParticipantID(4))
        }
    }
}
