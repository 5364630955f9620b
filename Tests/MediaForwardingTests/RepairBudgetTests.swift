import Testing
@testable import MediaForwarding
import MediaPackets
import DemarcTestSupport

/// The rules that keep NACK repairs from filling a subscriber's bottleneck (issue 6):
/// the budget, the age limit, the per-packet interval, and NACKs as a congestion signal.
/// Time is a manual instant; nothing sleeps.
@Suite struct RepairBudgetTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    /// A VP8 track (SSRC 5000, 90 kHz) with one subscriber (SSRC 8000, no RTX); `count`
    /// 1,000-byte packets 10 ms apart. Returns the router, the subscriber's packets and the time.
    func setUp(count: Int, estimate: Int? = nil, configuration: ForwardingConfiguration = ForwardingConfiguration()) throws -> (Router, [Sent], TestInstant) {
        var router = Router(configuration: configuration)
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        if let estimate { router.bandwidthEstimate(subscriber, bitsPerSecond: estimate, now: now, into: &batch) }
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        var sent: [Sent] = []
        for k in 0..<count {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: UInt16(k), ts: UInt32(k) * 900,
                                                           payload: VP8.payload(keyframe: k == 0, size: 988)),
                              now: now, into: &batch)
            sent += batch.sentRTP
            now = now.advanced(by: .milliseconds(10))
        }
        return (router, sent, now)
    }

    func nack(_ lost: [UInt16]) -> [UInt8] {
        try! RTCPCompound.serialize([.nack(GenericNACK(senderSSRC: 1, mediaSSRC: 8000, lost: lost))])
    }

    @Test func repairsStayWithinAFractionOfTheEstimateAndTheRestArePaced() throws {
        // 200 kb/s estimate → 100 kb/s of repairs, 50 kbit of burst (500 ms). (NACKs as a
        // loss signal are tested below; here they must not move the estimate.)
        var configuration = ForwardingConfiguration()
        configuration.repairLoss.minimumPackets = 10_000
        var (router, sent, now) = try setUp(count: 100, estimate: 200_000, configuration: configuration)
        var batch = ForwardingBatch()
        let lost = sent[40..<80].map(\.header.sequenceNumber)
        router.receiveRTCP(from: subscriber, packet: nack(Array(lost)), now: now, into: &batch)
        // 50,000 bits of burst / 8,096 bits per packet: 7 sent at once (the last one overdraws).
        let immediate = batch.sentRTP.filter(\.retransmission)
        #expect(immediate.count == 7)
        #expect(router.counters.repairsQueued == 33)
        // A duplicate NACK at once: the 7 were just resent, the 33 are already queued.
        batch.reset()
        router.receiveRTCP(from: subscriber, packet: nack(Array(lost)), now: now, into: &batch)
        #expect(batch.sentRTP.isEmpty)
        #expect(router.counters.repairsQueued == 33)
        // The rest leave on ticks at the refill rate: ~12 a second, oldest first.
        var paced: [Sent] = []
        for _ in 0..<20 {  // 1 s of 50 ms ticks
            now = now.advanced(by: .milliseconds(50))
            batch.reset()
            router.tick(now: now, into: &batch)
            paced += batch.sentRTP.filter(\.retransmission)
        }
        #expect(paced.count >= 11 && paced.count <= 13)
        #expect(paced.map(\.header.sequenceNumber) == Array(lost[7..<(7 + paced.count)]))
        #expect(router.counters.retransmissionsSent == 7 + paced.count)
    }

    @Test func nacksForPacketsTooOldToBeUsefulAreIgnored() throws {
        // 400 packets, 10 ms of media apart: the first is 3.99 s behind the newest.
        var (router, sent, now) = try setUp(count: 400)
        var batch = ForwardingBatch()
        router.receiveRTCP(from: subscriber, packet: nack([sent[0].header.sequenceNumber, sent[150].header.sequenceNumber]),
                           now: now, into: &batch)
        #expect(batch.sentRTP.map(\.header.sequenceNumber) == [sent[150].header.sequenceNumber])
        #expect(sent.count == 400)
        #expect(router.counters.repairsTooOld == 1)
        // The limit is configurable.
        var configuration = ForwardingConfiguration()
        configuration.retransmission.maximumAge = .seconds(5)
        var lenient = Router(configuration: configuration)
        try lenient.join(publisher)
        try lenient.join(subscriber)
        try lenient.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try lenient.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 8000), now: .zero, into: &batch)
        now = .zero
        var first: Sent?
        for k in 0..<400 {
            batch.reset()
            lenient.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: UInt16(k), ts: UInt32(k) * 900,
                                                            payload: VP8.payload(keyframe: k == 0, size: 100)), now: now, into: &batch)
            if k == 0 { first = batch.sentRTP.first }
            now = now.advanced(by: .milliseconds(10))
        }
        batch.reset()
        lenient.receiveRTCP(from: subscriber, packet: nack([try #require(first).header.sequenceNumber]), now: now, into: &batch)
        #expect(batch.sentRTP.count == 1)
    }

    @Test func aPacketIsResentAtMostOncePerRoundTrip() throws {
        var (router, sent, now) = try setUp(count: 30)
        var batch = ForwardingBatch()
        let packet = [sent[20].header.sequenceNumber]
        func answers(after delay: Duration) -> Int {
            now = now.advanced(by: delay)
            batch.reset()
            router.receiveRTCP(from: subscriber, packet: nack(packet), now: now, into: &batch)
            return batch.sentRTP.count
        }
        // No round-trip time known yet: at most once per 100 ms.
        #expect(answers(after: .zero) == 1)
        #expect(answers(after: .milliseconds(50)) == 0)
        #expect(answers(after: .milliseconds(60)) == 1)

        // A sender report, and 300 ms later a receiver report echoing it with 100 ms of DLSR:
        // the round trip is 200 ms (RFC 3550 §6.4.1), which becomes the interval.
        let ntp: UInt64 = 0x0001_2345_6789_ABCD
        batch.reset()
        router.reports(now: now, ntp: ntp, into: &batch)
        now = now.advanced(by: .milliseconds(300))
        let block = ReceptionReport(ssrc: 8000, lastSenderReport: UInt32(truncatingIfNeeded: ntp >> 16),
                                    delaySinceLastSenderReport: 65_536 / 10)
        router.receiveRTCP(from: subscriber, packet: try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [block]))]),
                           now: now, into: &batch)
        let rtt = try #require(router.participants[subscriber]?.retransmission.roundTripTime)
        #expect(abs((rtt - .milliseconds(200)) / .milliseconds(1)) < 1)
        #expect(answers(after: .zero) == 1)
        #expect(answers(after: .milliseconds(150)) == 0)
        #expect(answers(after: .milliseconds(60)) == 1)
    }

    @Test func nacksAreALossSignalBeforeTheReceiverReport() throws {
        // A clean downlink so far: no estimate. 50 packets sent in 0.5 s, then 20 NACKed (40 %).
        var (router, sent, now) = try setUp(count: 50)
        var batch = ForwardingBatch()
        #expect(router.estimate(of: subscriber) == nil)
        router.receiveRTCP(from: subscriber, packet: nack(sent[10..<30].map(\.header.sequenceNumber)), now: now, into: &batch)
        #expect(router.counters.repairLossReports == 1)
        let lowered = try #require(router.estimate(of: subscriber))
        // GCC §6 from what is sent (400 kbit in the 1 s meter window): × (1 − 0.4/2).
        #expect(abs(lowered - 320_000) < 5_000)

        // The same packets NACKed again are not new loss; a receiver report showing none
        // (the repairs arrived) lets the estimate hold or grow.
        for k in 50..<100 {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: UInt16(k), ts: UInt32(k) * 900,
                                                           payload: VP8.payload(keyframe: false, size: 988)), now: now, into: &batch)
            now = now.advanced(by: .milliseconds(10))
        }
        router.receiveRTCP(from: subscriber, packet: nack(sent[10..<30].map(\.header.sequenceNumber)), now: now, into: &batch)
        #expect(router.counters.repairLossReports == 1)
        let clean = try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [ReceptionReport(ssrc: 8000)]))])
        router.receiveRTCP(from: subscriber, packet: clean, now: now, into: &batch)
        #expect(router.estimate(of: subscriber).map { $0 >= lowered } == true)
    }

    @Test func aReceiverReportHidingRepairedLossStillCountsTheNACKs() throws {
        // Loss the subscriber repaired by RTX does not show in its report (libwebrtc counts a
        // repaired packet as received); the 30 % it NACKed does.
        var configuration = ForwardingConfiguration()
        configuration.repairLoss.minimumPackets = 1_000  // only receiver reports evaluate here
        var router = Router(configuration: configuration)
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 8000), now: now, into: &batch)
        let clean = try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [ReceptionReport(ssrc: 8000)]))])
        router.receiveRTCP(from: subscriber, packet: clean, now: now, into: &batch)  // starts the interval
        var sent: [Sent] = []
        for k in 0..<100 {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: UInt16(k), ts: UInt32(k) * 900,
                                                           payload: VP8.payload(keyframe: k == 0, size: 988)), now: now, into: &batch)
            sent += batch.sentRTP
            now = now.advanced(by: .milliseconds(10))
        }
        router.receiveRTCP(from: subscriber, packet: nack(sent[50..<80].map(\.header.sequenceNumber)), now: now, into: &batch)
        #expect(router.estimate(of: subscriber) == nil)
        router.receiveRTCP(from: subscriber, packet: clean, now: now, into: &batch)
        let estimate = try #require(router.estimate(of: subscriber))
        #expect(estimate < 800_000)
        #expect(router.counters.lossBasedEstimates == 1)
    }

    @Test func aRepairNoNACKConfirmsIsSentAgainTwiceAtMost() throws {
        var (router, sent, now) = try setUp(count: 30)
        var batch = ForwardingBatch()
        let lost = sent[20].header.sequenceNumber
        router.receiveRTCP(from: subscriber, packet: nack([lost]), now: now, into: &batch)
        #expect(batch.sentRTP.filter(\.retransmission).count == 1)
        // No NACK since: after two resend intervals (2 × 100 ms) it goes again, twice, then not.
        var again: [TestInstant] = []
        for _ in 0..<20 {
            now = now.advanced(by: .milliseconds(50))
            batch.reset()
            router.tick(now: now, into: &batch)
            if batch.sentRTP.contains(where: { $0.retransmission && $0.header.sequenceNumber == lost }) { again.append(now) }
        }
        #expect(again.count == 2)
        #expect(again.first.map { TestInstant.zero.advanced(by: .milliseconds(290)).duration(to: $0) >= .milliseconds(200) } == true)
        #expect(router.counters.unconfirmedRepairsResent == 2)

        // A later NACK that no longer lists it confirms it: nothing more is sent.
        let other = sent[25].header.sequenceNumber
        batch.reset()
        router.receiveRTCP(from: subscriber, packet: nack([other]), now: now, into: &batch)
        now = now.advanced(by: .milliseconds(120))
        router.receiveRTCP(from: subscriber, packet: nack([sent[26].header.sequenceNumber]), now: now, into: &batch)
        for _ in 0..<10 {
            now = now.advanced(by: .milliseconds(50))
            batch.reset()
            router.tick(now: now, into: &batch)
            #expect(!batch.sentRTP.contains { $0.header.sequenceNumber == other })
        }
    }

    /// Seeded random NACKs (any sequence numbers, repeated, in bursts), receiver reports and
    /// ticks: the repair bytes sent in any prefix of the run never exceed the bucket's
    /// capacity plus its refill rate times the time elapsed, plus one packet of overdraw.
    @Test(arguments: [UInt64(1), 2, 3])
    func repairsNeverExceedTheBudget(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var configuration = ForwardingConfiguration()
        configuration.repairLoss.minimumPackets = 1_000_000  // keep the estimate, and so the rate, fixed
        var (router, sent, now) = try setUp(count: 200, estimate: 200_000, configuration: configuration)
        var batch = ForwardingBatch()
        // REMB fixes the estimate (receiver reports no longer move it), so the rate is known.
        let remb = try RTCPCompound.serialize([.remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 1, bitrate: 200_000, ssrcs: [8000]))])
        router.receiveRTCP(from: subscriber, packet: remb, now: now, into: &batch)
        let start = now
        let rate = 100_000.0  // 50 % of 200 kb/s
        let capacity = 50_000.0
        var bits = 0.0
        for _ in 0..<2_000 {
            batch.reset()
            switch rng.next() % 4 {
            case 0, 1:
                let count = Int(rng.next() % 40) + 1
                let lost = (0..<count).map { _ in
                    rng.next() % 5 == 0 ? UInt16(truncatingIfNeeded: rng.next()) : sent[Int(rng.next() % UInt64(sent.count))].header.sequenceNumber
                }
                router.receiveRTCP(from: subscriber, packet: nack(lost), now: now, into: &batch)
            case 2:
                router.tick(now: now, into: &batch)
            default:
                let report = ReceptionReport(ssrc: 8000, fractionLost: UInt8(truncatingIfNeeded: rng.next()))
                router.receiveRTCP(from: subscriber, packet: try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [report]))]),
                                   now: now, into: &batch)
            }
            bits += Double(batch.sentRTP.filter(\.retransmission).reduce(0) { $0 + $1.bytes.count * 8 })
            let elapsed = Double(start.duration(to: now).components.attoseconds) / 1e18 + Double(start.duration(to: now).components.seconds)
            #expect(bits <= capacity + rate * elapsed + 1500 * 8, "seed \(seed): \(bits) bits after \(elapsed) s")
            now = now.advanced(by: .milliseconds(Int(rng.next() % 30)))
        }
        #expect(router.counters.retransmissionsSent > 20)
        #expect(router.participants[subscriber]!.retransmission.pending.count <= configuration.retransmission.queueLimit)
    }
}
