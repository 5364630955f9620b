import Testing
import MediaForwarding
import MediaPackets

@Suite struct FeedbackTests {
    let publisher = ParticipantID(1)
    let withRTX = ParticipantID(2)
    let plain = ParticipantID(3)

    /// A publisher with one VP8 track and two subscribers, one with RTX; 30 packets sent.
    func setUp() throws -> (Router, [ParticipantID: [Sent]], TestInstant) {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher)
        try router.join(withRTX)
        try router.join(plain)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try router.subscribe(withRTX, to: TrackID(10), SubscriptionDescription(
            ssrc: 8000, payloadTypeMap: [96: 98], rtx: .init(ssrc: 8001, payloadTypes: [98: 99]),
            initialSequenceOffset: 40_000), now: now, into: &batch)
        try router.subscribe(plain, to: TrackID(10), SubscriptionDescription(ssrc: 9000, initialSequenceOffset: 7), now: now, into: &batch)
        var sent: [ParticipantID: [Sent]] = [:]
        for k in 0..<30 {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: UInt16(truncatingIfNeeded: 65_520 + k),
                                                           ts: UInt32(k) * 3000, payload: VP8.payload(keyframe: k == 0, fill: UInt8(k))),
                              now: now, into: &batch)
            for packet in batch.sentRTP { sent[packet.to, default: []].append(packet) }
            now = now.advanced(by: .milliseconds(10))
        }
        return (router, sent, now)
    }

    func nack(_ subscriber: UInt32, media: UInt32, _ lost: [UInt16]) -> [UInt8] {
        try! RTCPCompound.serialize([.nack(GenericNACK(senderSSRC: subscriber, mediaSSRC: media, lost: lost))])
    }

    @Test func nackIsAnsweredFromTheCacheAsRTXOrPlainRetransmission() throws {
        var (router, sent, now) = try setUp()
        var batch = ForwardingBatch()
        let rtxOriginals = sent[withRTX]!
        let lost = [rtxOriginals[3], rtxOriginals[4], rtxOriginals[20]]
        router.receiveRTCP(from: withRTX, packet: nack(1, media: 8000, lost.map(\.header.sequenceNumber)), now: now, into: &batch)
        let answers = batch.sentRTP
        #expect(answers.count == 3)
        for (answer, original) in zip(answers, lost) {
            #expect(answer.to == withRTX && answer.retransmission)
            #expect(answer.header.ssrc == 8001)
            #expect(answer.header.payloadType == 99)
            #expect(answer.header.timestamp == original.header.timestamp)
            // RFC 4588 §4: the original sequence number, then the original payload.
            let (osn, payload) = try answer.bytes.withUnsafeBytes { try RTXPacket.decapsulate($0, header: answer.header) }
            #expect(osn == original.header.sequenceNumber)
            #expect(Array(answer.bytes[payload]) == original.payload)
        }
        #expect(answers.map(\.header.sequenceNumber) == [answers[0].header.sequenceNumber, answers[0].header.sequenceNumber &+ 1, answers[0].header.sequenceNumber &+ 2])

        // Without RTX the packet is resent as it was first sent, byte for byte.
        batch.reset()
        let plainOriginal = sent[plain]![17]
        router.receiveRTCP(from: plain, packet: nack(2, media: 9000, [plainOriginal.header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.sentRTP.map(\.bytes) == [plainOriginal.bytes])

        // A duplicate NACK right away is damped; after the resend interval (100 ms while the
        // round-trip time is unknown) it is answered again.
        batch.reset()
        router.receiveRTCP(from: plain, packet: nack(2, media: 9000, [plainOriginal.header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.sentRTP.isEmpty)
        now = now.advanced(by: .milliseconds(60))
        router.receiveRTCP(from: plain, packet: nack(2, media: 9000, [plainOriginal.header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.sentRTP.isEmpty)
        now = now.advanced(by: .milliseconds(50))
        router.receiveRTCP(from: plain, packet: nack(2, media: 9000, [plainOriginal.header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.sentRTP.count == 1)

        // Never-sent numbers and another subscriber's SSRC are not answered.
        batch.reset()
        router.receiveRTCP(from: plain, packet: nack(2, media: 9000, [plainOriginal.header.sequenceNumber &+ 500]), now: now, into: &batch)
        router.receiveRTCP(from: plain, packet: nack(2, media: 8000, [rtxOriginals[5].header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.directives.isEmpty)
        #expect(router.counters.nackMisses == 1)
    }

    @Test func pliIsRelayedToThePublisherAndThrottledPerLayer() throws {
        var (router, _, now) = try setUp()
        var batch = ForwardingBatch()
        func pli(_ media: UInt32) -> [UInt8] {
            try! RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: media))])
        }
        // The subscriptions asked for a keyframe at t=0; the interval is 500 ms.
        now = TestInstant.zero.advanced(by: .milliseconds(600))
        router.receiveRTCP(from: withRTX, packet: pli(8000), now: now, into: &batch)
        #expect(batch.sentRTCP.count == 1)
        #expect(batch.sentRTCP.first?.to == publisher)
        #expect(batch.sentRTCP.first?.packet == .pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 5000)))
        // A burst from both subscribers (PLI and FIR) inside the interval sends nothing now…
        batch.reset()
        now = now.advanced(by: .milliseconds(100))
        router.receiveRTCP(from: plain, packet: pli(9000), now: now, into: &batch)
        router.receiveRTCP(from: withRTX, packet: try RTCPCompound.serialize([.fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 8000, sequenceNumber: 1)]))]), now: now, into: &batch)
        #expect(batch.sentRTCP.isEmpty)
        // …and one deferred request when it ends.
        now = now.advanced(by: .milliseconds(400))
        router.tick(now: now, into: &batch)
        #expect(batch.sentRTCP.count == 1)
        // A PLI naming an SSRC the sender does not receive is ignored.
        batch.reset()
        now = now.advanced(by: .seconds(1))
        router.receiveRTCP(from: plain, packet: pli(8000), now: now, into: &batch)
        #expect(batch.sentRTCP.isEmpty)
    }
}
