import Testing
import MediaForwarding
import MediaPackets

/// A browser-like simulcast publisher: three layers announced by rid only, SSRCs learned
/// from the mid/rid header extensions. Layer k's payload bytes are all k, so a subscriber's
/// packets show which layer they came from.
struct SimulcastPublisher {
    let rids = ["q", "h", "f"]
    let ssrcs: [UInt32] = [111, 222, 333]
    var seq: [UInt16] = [100, 30_000, 65_000]
    var ts: [UInt32] = [0, 50_000, 4_000_000_000]
    /// Packets per 10 ms step and payload size: about 100 kb/s, 500 kb/s and 1.7 Mb/s.
    let perStep = [(every: 5, count: 1, size: 600), (every: 1, count: 1, size: 600), (every: 1, count: 2, size: 1000)]

    mutating func packet(layer: Int, keyframe: Bool) -> [UInt8] {
        defer { seq[layer] &+= 1 }
        return rtp(ssrc: ssrcs[layer], seq: seq[layer], ts: ts[layer],
                   payload: VP8.payload(keyframe: keyframe, size: perStep[layer].size, fill: UInt8(layer)),
                   extensions: [(Ext.mid, Array("0".utf8)), (Ext.rid, Array(rids[layer].utf8))])
    }

    /// One 10 ms step of all layers; `keyframe` layers start with a keyframe.
    mutating func step(_ k: Int, keyframes: Set<Int> = [], send: ([UInt8]) -> Void) {
        for layer in 0..<3 where k % perStep[layer].every == 0 {
            for n in 0..<perStep[layer].count {
                send(packet(layer: layer, keyframe: n == 0 && keyframes.contains(layer)))
            }
            ts[layer] &+= 900
        }
    }
}

@Suite struct SimulcastTests {
    let publisher = ParticipantID(1)
    let subscriber = ParticipantID(2)

    @Test func switchWaitsForTheTargetKeyframeAndKeepsNumberingContinuous() throws {
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
        router.bandwidthEstimate(subscriber, bitsPerSecond: 200_000, now: now, into: &batch)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)

        var delivered: [Sent] = []
        var plis: [UInt32] = []
        var switches: [Int] = []
        func run(steps: Int, keyframesAtStart: Set<Int> = []) {
            for k in 0..<steps {
                batch.reset()
                source.step(k, keyframes: k == 0 ? keyframesAtStart : []) { packet in
                    router.receiveRTP(from: publisher, packet: packet, now: now, into: &batch)
                }
                collect()
                now = now.advanced(by: .milliseconds(10))
            }
        }
        func collect() {
            delivered += batch.sentRTP
            for (to, packet) in batch.sentRTCP {
                #expect(to == publisher)
                if case .pictureLossIndication(let pli) = packet { plis.append(pli.mediaSSRC) }
            }
            for case .layerSwitched(_, _, let layer) in batch.directives { switches.append(layer) }
        }

        // Warm-up: all layers start with a keyframe; the subscriber starts on the lowest,
        // and the keyframe asked for before layer q's SSRC was known goes out once learned.
        run(steps: 100, keyframesAtStart: [0, 1, 2])
        #expect(router.ssrc(of: TrackID(10), layer: 2) == 333)
        #expect(plis == [111])
        #expect(!delivered.isEmpty)
        #expect(delivered.allSatisfy { $0.payload.last == 0 && $0.header.ssrc == 4242 })

        // More bandwidth: the target becomes the top layer and a PLI asks for its keyframe…
        plis = []
        batch.reset()
        router.bandwidthEstimate(subscriber, bitsPerSecond: 5_000_000, now: now, into: &batch)
        collect()
        #expect(plis == [333])
        #expect(router.subscriptions(of: subscriber).first?.targetLayer == 2)
        // …but until it arrives the subscriber stays on layer 0; no layer-2 delta frame leaks.
        let before = delivered.count
        run(steps: 20)
        #expect(delivered[before...].allSatisfy { $0.payload.last == 0 })
        #expect(router.subscriptions(of: subscriber).first?.currentLayer == 0)

        // The keyframe arrives: switch, with the next sequence number and a later timestamp.
        run(steps: 10, keyframesAtStart: [2])
        let firstHigh = delivered.firstIndex { $0.payload.last == 2 }!
        let last = delivered[firstHigh - 1]
        #expect(last.payload.last == 0)
        let after = Array(delivered[firstHigh...])
        #expect(after.allSatisfy { $0.payload.last == 2 })
        #expect(after.first?.header.sequenceNumber == last.header.sequenceNumber &+ 1)
        #expect(after.first!.header.timestamp &- last.header.timestamp > 0)
        #expect(after.first!.header.timestamp &- last.header.timestamp < 90_000)
        for (a, b) in zip(after, after.dropFirst()) { #expect(b.header.sequenceNumber == a.header.sequenceNumber &+ 1) }
        #expect(switches == [0, 2])

        // Less bandwidth: down to the middle layer, again only at its keyframe.
        plis = []
        batch.reset()
        router.bandwidthEstimate(subscriber, bitsPerSecond: 1_000_000, now: now, into: &batch)
        collect()
        #expect(plis == [222])
        let lastHigh = delivered.last!
        run(steps: 5)
        #expect(delivered.last!.payload.last == 2)
        run(steps: 5, keyframesAtStart: [1])
        let middle = Array(delivered[(delivered.firstIndex { $0.payload.last == 1 })!...])
        #expect(middle.allSatisfy { $0.payload.last == 1 })
        #expect(switches == [0, 2, 1])
        #expect(middle.first!.header.sequenceNumber == delivered[delivered.firstIndex { $0.payload.last == 1 }! - 1].header.sequenceNumber &+ 1)
        #expect(lastHigh.header.ssrc == middle.first!.header.ssrc)
    }

    @Test func keyframeRequestsAreRepeatedWhileWaitingButThrottled() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)
        #expect(batch.sentRTCP.count == 1)
        var total = 0
        for _ in 0..<20 {  // 2 s of ticks every 100 ms, no keyframe arriving
            now = now.advanced(by: .milliseconds(100))
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 5000, seq: 1, ts: 0, payload: VP8.payload(keyframe: false)), now: now, into: &batch)
            router.tick(now: now, into: &batch)
            total += batch.sentRTCP.count
            #expect(batch.sentRTP.isEmpty)
        }
        // One per 500 ms interval.
        #expect(total == 4)
    }

    @Test func aLayerThePublisherStopsIsLeftForTheNextOneDown() throws {
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
        var layers: [UInt8] = []
        // No estimate: the top layer. Then the publisher's own congestion control drops it.
        for k in 0..<400 {
            batch.reset()
            source.step(k, keyframes: k == 0 ? [0, 1, 2] : (k == 350 ? [1] : [])) { packet in
                let isTop = packet.last == 2
                if k < 100 || !isTop { router.receiveRTP(from: publisher, packet: packet, now: now, into: &batch) }
            }
            if k % 10 == 0 { router.tick(now: now, into: &batch) }
            layers += batch.sentRTP.map { $0.payload.last! }
            now = now.advanced(by: .milliseconds(10))
        }
        #expect(layers.first == 2)
        #expect(layers.last == 1)
        // No layer-1 packet before its keyframe at step 350, after the top layer went quiet.
        #expect(layers.filter { $0 == 1 }.count == 50)
        #expect(router.subscriptions(of: subscriber).first?.currentLayer == 1)
    }

    @Test func h264SwitchesOnlyAtAnIDR() throws {
        var router = Router()
        var batch = ForwardingBatch()
        let now = TestInstant.zero
        try router.join(publisher)
        try router.join(subscriber)
        try router.publish(PublishedTrackDescription(
            id: TrackID(10), mid: "0", kind: .video,
            payloadTypes: [PayloadTypeDescription(payloadType: 102, codec: .h264)],
            layers: [SimulcastLayerDescription(ssrc: 77)]), by: publisher)
        try router.subscribe(subscriber, to: TrackID(10), SubscriptionDescription(ssrc: 4242), now: now, into: &batch)
        let nonIDR: [UInt8] = [0x41, 0x9A, 0x00]          // NAL type 1
        let fuStartIDR: [UInt8] = [0x7C, 0x85, 0x88]      // FU-A, S bit, type 5
        let stapSPS: [UInt8] = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE]  // STAP-A: SPS, PPS
        var forwarded: [Int] = []
        for (k, payload) in [nonIDR, nonIDR, stapSPS, fuStartIDR, nonIDR].enumerated() {
            batch.reset()
            router.receiveRTP(from: publisher, packet: rtp(ssrc: 77, seq: UInt16(k), ts: 0, pt: 102, payload: payload), now: now, into: &batch)
            if !batch.sentRTP.isEmpty { forwarded.append(k) }
        }
        #expect(forwarded == [2, 3, 4])
    }
}
