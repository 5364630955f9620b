import Testing
import MediaForwarding
import MediaPackets

/// Simulcast under a bandwidth cap, as the forwarding core sees it: the subscriber's
/// receiver reports show loss, the loss-based estimate falls, the subscription moves down a
/// layer at a time (at keyframes); when the loss stops the estimate grows and it moves back up.
@Suite struct LossBasedLayerTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    func receiverReport(lost: Double, ssrc: UInt32 = 4242) -> [UInt8] {
        let block = ReceptionReport(ssrc: ssrc, fractionLost: UInt8(min(255, lost * 256)))
        return try! RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 9, reports: [block]))])
    }

    @Test func lossInReceiverReportsMovesTheSubscriberDownAndBackUp() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        var source = SimulcastPublisher()
        try router.join(publisher, extensionMap: Ext.map)
        try router.join(subscriber)
        try router.publish(PublishedTrackDescription(
            id: TrackID(10), mid: "0", kind: .video,
            payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8)],
            layers: source.rids.map { SimulcastLayerDescription(rid: $0) }), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)

        var switches: [Int] = []
        var layerAt: [Int: UInt8] = [:]  // second → layer of the last packet delivered in it
        var step = 0
        /// `seconds` of media (keyframes on every layer every 500 ms) with one receiver
        /// report per second showing `loss`.
        func run(seconds: Int, loss: Double) {
            for _ in 0..<(seconds * 100) {
                batch.reset()
                source.step(step, keyframes: step % 50 == 0 ? [0, 1, 2] : []) { packet in
                    router.receiveRTP(from: publisher, packet: packet, now: now, into: &batch)
                }
                if step % 10 == 0 { router.tick(now: now, into: &batch) }
                if step % 100 == 99 { router.receiveRTCP(from: subscriber, packet: receiverReport(lost: loss), now: now, into: &batch) }
                for case .layerSwitched(_, _, let layer) in batch.directives { switches.append(layer) }
                if let last = batch.sentRTP.last { layerAt[step / 100] = last.payload.last! }
                step += 1
                now = now.advanced(by: .milliseconds(10))
            }
        }

        // A clean downlink: no estimate, the top layer, and clean reports change nothing.
        run(seconds: 3, loss: 0)
        #expect(router.estimate(of: subscriber) == nil)
        #expect(layerAt[2] == 2)
        #expect(switches == [2])

        // The downlink is capped: 30 % loss reported. Down to the middle, then the lowest layer.
        run(seconds: 4, loss: 0.30)
        #expect(router.estimate(of: subscriber).map { $0 < 500_000 } == true)
        #expect(switches == [2, 1, 0])
        #expect(layerAt[6] == 0)
        #expect(router.counters.lossBasedEstimates >= 2)
        #expect(router.counters.layerSwitches == 3)

        // The cap is lifted: the estimate grows 8 % a second and the layers come back.
        run(seconds: 40, loss: 0)
        #expect(switches.suffix(2) == [1, 2])
        #expect(layerAt[46] == 2)
        #expect(router.subscriptions(of: subscriber).first?.currentLayer == 2)
    }

    @Test func reportsAboutOtherStreamsAndSubscribersThatSendREMBAreIgnored() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)
        // A block about an SSRC the subscriber does not receive: no estimate.
        router.receiveRTCP(from: subscriber, packet: receiverReport(lost: 0.5, ssrc: 5000), now: now, into: &batch)
        #expect(router.estimate(of: subscriber) == nil)
        // REMB wins over loss from then on.
        let remb = try RTCPCompound.serialize([.remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 9, bitrate: 2_000_000, ssrcs: [4242]))])
        router.receiveRTCP(from: subscriber, packet: remb, now: now, into: &batch)
        #expect(router.estimate(of: subscriber) == 2_000_000)
        router.receiveRTCP(from: subscriber, packet: receiverReport(lost: 0.5), now: now, into: &batch)
        #expect(router.estimate(of: subscriber) == 2_000_000)
        #expect(router.counters.lossBasedEstimates == 0)
    }
}
