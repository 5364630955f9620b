import Testing
import MediaForwarding
import MediaPackets

/// The per-layer index of subscriptions (`Track.receivers`): a packet reaches exactly the
/// subscriptions currently on its layer, in subscription order, and the index follows
/// subscribes, unsubscribes, target changes and keyframe switches.
@Suite struct LayerIndexTests {
    let publisher = ParticipantID(1)
    let low = ParticipantID(2), top = ParticipantID(3), middle = ParticipantID(4), alsoTop = ParticipantID(5)

    func recipients(_ router: inout Router, _ packet: [UInt8], now: TestInstant) -> [ParticipantID] {
        var batch = ForwardingBatch()
        router.receiveRTP(from: publisher, packet: packet, now: now, into: &batch)
        return batch.sentRTP.map(\.to)
    }

    @Test func packetsReachOnlyTheirLayersSubscribersInOrder() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        var source = SimulcastPublisher()
        try router.join(publisher, extensionMap: Ext.map)
        for subscriber in [low, top, middle, alsoTop] { try router.join(subscriber) }
        try router.publish(PublishedTrackDescription(
            id: TrackID(10), mid: "0", kind: .video,
            payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8)],
            layers: source.rids.map { SimulcastLayerDescription(rid: $0) }), by: publisher)
        router.bandwidthEstimate(low, bitsPerSecond: 200_000, now: now, into: &batch)
        router.bandwidthEstimate(middle, bitsPerSecond: 1_000_000, now: now, into: &batch)
        for (index, subscriber) in [low, top, middle, alsoTop].enumerated() {
            try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4000 + UInt32(index)), now: now, into: &batch)
        }
        // Before any keyframe nobody receives anything.
        #expect(recipients(&router, source.packet(layer: 2, keyframe: false), now: now).isEmpty)

        // Keyframes of every layer: each subscriber starts on its target (middle's estimate
        // only picks layer 1 once the meters have measured, so it starts on layer 0).
        #expect(recipients(&router, source.packet(layer: 0, keyframe: true), now: now) == [low, middle])
        #expect(recipients(&router, source.packet(layer: 1, keyframe: true), now: now).isEmpty)
        #expect(recipients(&router, source.packet(layer: 2, keyframe: true), now: now) == [top, alsoTop])
        for k in 1..<100 {
            batch.reset()
            source.step(k) { router.receiveRTP(from: publisher, packet: $0, now: now, into: &batch) }
            now = now.advanced(by: .milliseconds(10))
        }
        batch.reset()
        router.tick(now: now, into: &batch)
        #expect(router.subscriptions(of: middle).first?.targetLayer == 1)
        #expect(router.subscriptions(of: middle).first?.currentLayer == 0)
        // Waiting for layer 1's keyframe: its delta frames still go to nobody.
        #expect(recipients(&router, source.packet(layer: 1, keyframe: false), now: now).isEmpty)
        #expect(recipients(&router, source.packet(layer: 0, keyframe: false), now: now) == [low, middle])
        #expect(recipients(&router, source.packet(layer: 1, keyframe: true), now: now) == [middle])
        #expect(recipients(&router, source.packet(layer: 0, keyframe: false), now: now) == [low])
        #expect(recipients(&router, source.packet(layer: 1, keyframe: false), now: now) == [middle])
        #expect(recipients(&router, source.packet(layer: 2, keyframe: false), now: now) == [top, alsoTop])

        // Removing a subscription from the middle of the list re-indexes the others.
        try router.unsubscribe(middle, from: TrackID(10))
        #expect(recipients(&router, source.packet(layer: 1, keyframe: true), now: now).isEmpty)
        #expect(recipients(&router, source.packet(layer: 2, keyframe: false), now: now) == [top, alsoTop])
        try router.unsubscribe(top, from: TrackID(10))
        #expect(recipients(&router, source.packet(layer: 2, keyframe: false), now: now) == [alsoTop])
        #expect(recipients(&router, source.packet(layer: 0, keyframe: false), now: now) == [low])
        var leaving = ForwardingBatch()
        router.leave(alsoTop, into: &leaving)
        #expect(recipients(&router, source.packet(layer: 2, keyframe: true), now: now).isEmpty)
        #expect(recipients(&router, source.packet(layer: 0, keyframe: false), now: now) == [low])
        #expect(router.counters.packetsForwarded > 0)
    }
}
