import Testing
@testable import MediaForwarding
import MediaPackets

/// A two-layer publisher with frames: layer 0 one 600-byte packet per 50 ms frame (~96 kb/s),
/// layer 1 three 600-byte packets per 30 ms frame (~480 kb/s), the marker bit on each
/// frame's last packet. Payload bytes are the layer number.
struct FramedPublisher {
    let ssrcs: [UInt32] = [111, 222]
    var seq: [UInt16] = [1_000, 50_000]
    var ts: [UInt32] = [0, 7_000]
    /// The 10 ms step count.
    var step = 0
    /// Layers whose next frame is a keyframe.
    var keyframes: Set<Int> = []

    var track: PublishedTrackDescription {
        PublishedTrackDescription(id: TrackID(10), mid: "0", kind: .video,
                                  payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8)],
                                  layers: ssrcs.map { SimulcastLayerDescription(ssrc: $0) })
    }

    /// One 10 ms step: layer 0 starts a frame every 5 steps, layer 1 sends one packet of its
    /// current frame each step. Returns (layer, packet, marker) in send order.
    mutating func next() -> [(layer: Int, packet: [UInt8], marker: Bool)] {
        var out: [(layer: Int, packet: [UInt8], marker: Bool)] = []
        if step % 5 == 0 {
            let key = keyframes.remove(0) != nil
            out.append((0, rtp(ssrc: 111, seq: seq[0], ts: ts[0], payload: VP8.payload(keyframe: key, size: 588, fill: 0), marker: true), true))
            seq[0] &+= 1
            ts[0] &+= 4_500
        }
        let position = step % 3
        let key = position == 0 && keyframes.remove(1) != nil
        out.append((1, rtp(ssrc: 222, seq: seq[1], ts: ts[1],
                           payload: VP8.payload(keyframe: key, start: position == 0, size: 588, fill: 1), marker: position == 2), position == 2))
        seq[1] &+= 1
        if position == 2 { ts[1] &+= 2_700 }
        step += 1
        return out
    }
}

@Suite struct CongestedSwitchTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    struct Run {
        var router: Router
        var source = FramedPublisher()
        var now = TestInstant.zero
        var batch = ForwardingBatch()
        var delivered: [Sent] = []
        var plis: [UInt32] = []

        /// `steps` × 10 ms of media, a tick every 50 ms.
        mutating func run(steps: Int) {
            for _ in 0..<steps {
                batch.reset()
                for packet in source.next() {
                    router.receiveRTP(from: ParticipantID(1), packet: packet.packet, now: now, into: &batch)
                }
                if source.step % 5 == 0 { router.tick(now: now, into: &batch) }
                collect()
                now = now.advanced(by: .milliseconds(10))
            }
        }

        mutating func rtcp(_ packets: [RTCPPacket]) {
            batch.reset()
            router.receiveRTCP(from: ParticipantID(2), packet: try! RTCPCompound.serialize(packets), now: now, into: &batch)
            collect()
        }

        mutating func collect() {
            delivered += batch.sentRTP
            for (_, packet) in batch.sentRTCP {
                if case .pictureLossIndication(let pli) = packet { plis.append(pli.mediaSSRC) }
            }
        }

        var currentLayer: Int? { router.subscriptions(of: ParticipantID(2)).first?.currentLayer }
    }

    /// Subscribed with no estimate: forwarding the top layer after 1 s.
    func start(_ configuration: ForwardingConfiguration = ForwardingConfiguration()) throws -> Run {
        var run = Run(router: Router(configuration: configuration))
        try run.router.join(publisher)
        try run.router.join(subscriber)
        try run.router.publish(run.source.track, by: publisher)
        try run.router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: run.now, into: &run.batch)
        run.source.keyframes = [0, 1]
        run.run(steps: 100)
        #expect(run.currentLayer == 1)
        return run
    }

    func lossReport(_ loss: Double) -> RTCPPacket {
        .receiverReport(ReceiverReport(ssrc: 9, reports: [ReceptionReport(ssrc: 4242, fractionLost: UInt8(loss * 256))]))
    }

    @Test func aCongestedSwitchDownPausesTheLayerBeingLeftAtItsFrameEnd() throws {
        var run = try start()
        run.run(steps: 1)  // mid-frame of layer 1
        run.plis = []
        let before = run.delivered.count
        run.rtcp([lossReport(0.4)])  // 480 kb/s × 0.8 = 384 kb/s: layer 1 no longer fits
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 0)
        // The keyframe request waits 300 ms, for the bottleneck to drain of the paused layer.
        #expect(run.plis.isEmpty)
        run.run(steps: 25)
        #expect(run.plis.isEmpty)
        run.run(steps: 9)  // the tick at 330 ms
        #expect(run.plis == [111])
        let whileWaiting = Array(run.delivered[before...])
        // The frame in progress is finished (up to its marker), then nothing of layer 1.
        #expect(!whileWaiting.isEmpty && whileWaiting.allSatisfy { $0.payload.last == 1 })
        #expect(whileWaiting.last?.header.marker == true)
        #expect(whileWaiting.count <= 2)
        #expect(run.router.counters.packetsHeldForSwitch >= 25)
        // The target keyframe: the switch, numbering continuous across the pause.
        run.source.keyframes = [0]
        run.run(steps: 5)
        #expect(run.currentLayer == 0)
        let after = Array(run.delivered[(before + whileWaiting.count)...])
        #expect(!after.isEmpty && after.allSatisfy { $0.payload.last == 0 })
        #expect(after.first?.header.sequenceNumber == whileWaiting.last!.header.sequenceNumber &+ 1)
    }

    @Test func thePauseEndsIfTheTargetKeyframeNeverComes() throws {
        var run = try start()
        run.rtcp([lossReport(0.4)])
        let before = run.delivered.count
        run.run(steps: 90)
        #expect(run.delivered.count - before <= 3)
        // After a second (`maximumPause`) the current layer flows again; the PLIs go on.
        run.plis = []
        run.run(steps: 50)
        #expect(run.delivered.count - before >= 30)
        #expect(run.plis.contains(111))
        #expect(run.currentLayer == 1)
    }

    @Test func aSwitchDownWithoutCongestionKeepsTheLayerFlowing() throws {
        var run = try start()
        let before = run.delivered.count
        run.router.bandwidthEstimate(subscriber, bitsPerSecond: 200_000, now: run.now, into: &run.batch)
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 0)
        run.run(steps: 30)
        #expect(run.delivered.count - before == 30)
        #expect(run.router.counters.packetsHeldForSwitch == 0)
    }

    @Test func repairsOfTheLayerBeingLeftAreDroppedWhileTheSwitchIsPending() throws {
        for policy in [LeftLayerRepairs.dropped, .sent] {
            var configuration = ForwardingConfiguration()
            configuration.layerSwitch.leftLayerRepairs = policy
            var run = try start(configuration)
            let lost = run.delivered.suffix(5).map(\.header.sequenceNumber)
            run.rtcp([lossReport(0.4)])
            run.run(steps: 10)
            let before = run.delivered.count
            run.rtcp([.nack(GenericNACK(senderSSRC: 9, mediaSSRC: 4242, lost: lost))])
            let repairs = run.delivered[before...].filter(\.retransmission)
            if policy == .dropped {
                #expect(repairs.isEmpty)
                #expect(run.router.counters.repairsDroppedForSwitch == 5)
            } else {
                #expect(repairs.count == 5)
                #expect(run.router.counters.repairsDroppedForSwitch == 0)
            }
        }
    }

    @Test func aTargetKeyframeLostOnTheWayIsAskedForAgain() throws {
        var run = try start()
        run.rtcp([lossReport(0.4)])
        run.run(steps: 20)
        run.source.keyframes = [0]
        run.run(steps: 5)
        #expect(run.currentLayer == 0)
        let keyframe = try #require(run.delivered.first { $0.payload.last == 0 })
        // NACKed once: repaired. NACKed again after its repair had time to arrive: lost in the
        // bottleneck too, so the publisher is asked for a new keyframe of the layer.
        let nack = RTCPPacket.nack(GenericNACK(senderSSRC: 9, mediaSSRC: 4242, lost: [keyframe.header.sequenceNumber]))
        var before = run.delivered.count
        run.rtcp([nack])
        #expect(run.delivered[before...].filter(\.retransmission).count == 1)
        #expect(run.router.counters.keyframeRerequests == 0)
        run.run(steps: 15)
        run.plis = []
        before = run.delivered.count
        run.rtcp([nack])
        #expect(run.router.counters.keyframeRerequests == 1)
        #expect(run.delivered[before...].filter(\.retransmission).count == 1)
        run.run(steps: 60)  // the request is sent now or once the requester's interval allows
        #expect(run.plis.contains(111))
        // A later packet's NACK is not the keyframe's.
        let later = try #require(run.delivered.last { $0.payload.last == 0 && !$0.retransmission })
        run.rtcp([.nack(GenericNACK(senderSSRC: 9, mediaSSRC: 4242, lost: [later.header.sequenceNumber]))])
        #expect(run.router.counters.keyframeRerequests == 1)
    }

    @Test func noSwitchUpWhileCongestedAndOnlyWithHeadroomAfter() throws {
        var run = try start()
        run.rtcp([lossReport(0.4)])
        run.run(steps: 35)
        run.source.keyframes = [0]
        run.run(steps: 5)
        #expect(run.currentLayer == 0)
        // A generous estimate within 3 s of the loss: the target stays down.
        run.router.bandwidthEstimate(subscriber, bitsPerSecond: 5_000_000, now: run.now, into: &run.batch)
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 0)
        run.router.bandwidthEstimate(subscriber, bitsPerSecond: 300_000, now: run.now, into: &run.batch)
        run.run(steps: 300)  // 3 s without loss reports
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 0)
        #expect(run.router.estimate(of: subscriber) == 300_000)
        // Layer 1 measures 432–480 kb/s: 480 kb/s fits it but not with 15 % headroom; 600 kb/s does.
        run.router.bandwidthEstimate(subscriber, bitsPerSecond: 480_000, now: run.now, into: &run.batch)
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 0)
        run.router.bandwidthEstimate(subscriber, bitsPerSecond: 600_000, now: run.now, into: &run.batch)
        #expect(run.router.subscriptions(of: subscriber).first?.targetLayer == 1)
    }
}
