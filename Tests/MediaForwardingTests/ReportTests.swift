import Testing
import MediaForwarding
import MediaPackets

/// The SFU's own RTCP (RFC 3550 §6.4): receiver reports to publishers, sender reports to
/// subscribers in their numbering.
@Suite struct ReportTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    func setUp(_ router: inout Router, _ batch: inout ForwardingBatch, now: TestInstant) throws {
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10),
                             SubscriptionDescription(ssrc: 4242, initialSequenceOffset: 1000, initialTimestampOffset: 777_000),
                             now: now, into: &batch)
    }

    @Test func receiverReportsToPublishersShowUplinkLossAndEchoTheirSenderReports() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try setUp(&router, &batch, now: now)
        // 20 packets sent, 5 of them lost on the uplink (fraction 5/20 → 64/256).
        for sequence in UInt16(0)..<20 where ![3, 4, 9, 10, 11].contains(sequence) {
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: sequence, ts: UInt32(sequence) * 3000,
                                                           payload: VP8.payload(keyframe: sequence == 0)), now: now, into: &batch)
            now = now.advanced(by: .milliseconds(33))
        }
        let ntp: UInt64 = 0xE000_0000_1234_5678
        let sr = try RTCPCompound.serialize([.senderReport(SenderReport(ssrc: 5000, ntpTimestamp: ntp, rtpTimestamp: 57_000,
                                                                          packetCount: 20, octetCount: 2000))])
        router.receivePublisherRTCP(from: publisher, packet: sr, now: now)
        now = now.advanced(by: .milliseconds(500))
        batch.reset()
        router.reports(now: now, ntp: 0xE100_0000_0000_0000, into: &batch)
        let rrs = batch.sentRTCP.compactMap { sent -> ReceiverReport? in
            guard sent.to == publisher, case .receiverReport(let rr) = sent.packet else { return nil }
            return rr
        }
        #expect(rrs.count == 1)
        let block = try #require(rrs.first?.reports.first)
        #expect(rrs.first?.ssrc == router.feedbackSSRC)
        #expect(block.ssrc == 5000)
        #expect(block.fractionLost == 64)
        #expect(block.cumulativeLost == 5)
        #expect(block.extendedHighestSequenceNumber == 19)
        #expect(block.lastSenderReport == UInt32(truncatingIfNeeded: ntp >> 16))
        #expect(block.delaySinceLastSenderReport == 32_768)  // 0.5 s in 1/65536 s
        #expect(router.counters.receiverReportsSent == 1)
        // Reports from someone else about the publisher's SSRC are ignored.
        router.receivePublisherRTCP(from: subscriber, packet: sr, now: now)
    }

    @Test func senderReportsToSubscribersUseTheirSSRCAndRewrittenTimestamps() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try setUp(&router, &batch, now: now)
        var delivered: [Sent] = []
        for sequence in UInt16(0)..<10 {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: sequence, ts: 90_000 + UInt32(sequence) * 3000,
                                                           payload: VP8.payload(keyframe: sequence == 0, size: 100)), now: now, into: &batch)
            delivered += batch.sentRTP
            now = now.advanced(by: .milliseconds(33))
        }
        let last = try #require(delivered.last)
        // No publisher SR yet: the wall clock given, the last timestamp advanced by the time since.
        batch.reset()
        let later = now.advanced(by: .milliseconds(100))
        router.reports(now: later, ntp: 0xE100_0000_8000_0000, into: &batch)
        var srs = batch.directives.compactMap { directive -> SenderReport? in
            guard case .sendSubscriberRTCP(let to, .senderReport(let sr)) = directive, to == subscriber else { return nil }
            return sr
        }
        #expect(srs.count == 1)
        #expect(srs.first?.ssrc == 4242)
        #expect(srs.first?.packetCount == 10)
        #expect(srs.first?.octetCount == 1000)
        #expect(srs.first?.ntpTimestamp == 0xE100_0000_8000_0000)
        // Last forwarded at now − 33 ms; 133 ms later at 90 kHz = 11,970 ticks.
        #expect(srs.first?.rtpTimestamp == last.header.timestamp &+ 11_970)

        // With the publisher's SR, its (NTP, RTP) pair mapped through the rewrite, advanced.
        let publisherNTP: UInt64 = 0xE000_0000_0000_0000
        let sr = try RTCPCompound.serialize([.senderReport(SenderReport(ssrc: 5000, ntpTimestamp: publisherNTP,
                                                                          rtpTimestamp: 90_000 + 27_000, packetCount: 10, octetCount: 1000))])
        router.receivePublisherRTCP(from: publisher, packet: sr, now: now)
        batch.reset()
        router.reports(now: now.advanced(by: .milliseconds(250)), ntp: 0, into: &batch)
        srs = batch.directives.compactMap { directive -> SenderReport? in
            guard case .sendSubscriberRTCP(_, .senderReport(let sr)) = directive else { return nil }
            return sr
        }
        // Source timestamp 117,000 is outgoing `last` (the rewrite's offset), + 0.25 s × 90 kHz.
        #expect(srs.first?.rtpTimestamp == last.header.timestamp &+ 22_500)
        #expect(srs.first?.ntpTimestamp == publisherNTP + (1 << 30))  // + 0.25 s
        #expect(router.counters.senderReportsSent == 2)
    }

    @Test func nothingIsReportedBeforeMediaFlows() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try setUp(&router, &batch, now: now)
        batch.reset()
        router.reports(now: now, ntp: 1, into: &batch)
        #expect(batch.directives.isEmpty)
    }
}
