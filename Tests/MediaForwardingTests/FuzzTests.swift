import DemarcTestSupport
import Testing
import MediaForwarding
import MediaPackets

@Suite struct FuzzTests {
    /// Random, mutated and truncated RTP and RTCP from every participant (including SSRCs it
    /// does not own), interleaved with control events, never crash the router; every packet
    /// it sends parses, goes to a subscriber, and never back to the track's publisher.
    @Test(arguments: [1 as UInt64, 2, 3])
    func randomAndMutatedPacketsNeverCrash(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var router = Router()
        var batch = ForwardingBatch(packetCapacity: 4)  // small, so it has to grow
        var now = TestInstant.zero
        let people = (1...4).map { ParticipantID(UInt32($0)) }
        for p in people { try router.join(p, extensionMap: Ext.map) }
        func publishTracks(of p: ParticipantID) {
            if p == people[0] {
                try? router.publish(PublishedTrackDescription(
                    id: TrackID(1), mid: "0", kind: .video,
                    payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8, rtxPayloadType: 97),
                                   PayloadTypeDescription(payloadType: 102, codec: .h264)],
                    layers: ["q", "h", "f"].map { SimulcastLayerDescription(rid: $0) }), by: p)
                try? router.publish(audioTrack(2, mid: "1", ssrc: 700), by: p)
            } else if p == people[1] {
                try? router.publish(videoTrack(3, mid: "0", ssrc: 800, rtxSSRC: 801), by: p)
            }
        }
        for p in people { publishTracks(of: p) }
        var nextSSRC: UInt32 = 10_000
        func subscribeEveryone() {
            for p in people {
                for track in [1, 2, 3] as [UInt32] {
                    nextSSRC += 2
                    try? router.subscribe(p, to: TrackID(track), SubscriptionDescription(
                        ssrc: nextSSRC, rtx: Bool.random(using: &rng) ? .init(ssrc: nextSSRC + 1, payloadTypes: [96: 97]) : nil,
                        initialSequenceOffset: .random(in: 0...UInt16.max, using: &rng)), now: now, into: &batch)
                }
            }
        }
        subscribeEveryone()
        var seq: UInt16 = 0
        var recent: [[UInt8]] = []
        let ssrcs: [UInt32] = [700, 800, 801, 111, 222, 333, 10_002, 0, .random(in: 0...UInt32.max, using: &rng)]
        let streams: [(owner: ParticipantID, ssrc: UInt32, mid: String, rid: String, pt: UInt8)] = [
            (people[0], 111, "0", "q", 96), (people[0], 222, "0", "h", 102), (people[0], 333, "0", "f", 96),
            (people[0], 334, "0", "x", 96), (people[0], 700, "1", "", 111), (people[1], 800, "0", "", 96),
        ]
        var sentRecently: [(to: ParticipantID, ssrc: UInt32, seq: UInt16)] = []

        for _ in 0..<6000 {
            batch.reset()
            let from = people.randomElement(using: &rng)!
            now = now.advanced(by: .microseconds(Int64.random(in: 0...40_000, using: &rng)))
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<40:  // plausible RTP, mostly from the stream's owner
                seq &+= 1
                let stream = streams.randomElement(using: &rng)!
                let sender = Int.random(in: 0..<5, using: &rng) == 0 ? from : stream.owner
                let packet = rtp(ssrc: Bool.random(using: &rng) ? stream.ssrc : ssrcs.randomElement(using: &rng)!, seq: seq,
                                 ts: UInt32(seq) * 3000, pt: Int.random(in: 0..<5, using: &rng) == 0 ? 0 : stream.pt,
                                 payload: VP8.payload(keyframe: Int.random(in: 0..<4, using: &rng) == 0, size: Int.random(in: 0...1400, using: &rng)),
                                 extensions: [(Ext.mid, Array(stream.mid.utf8)), (Ext.rid, Array(stream.rid.utf8)),
                                              (Ext.audioLevel, [UInt8.random(in: 0...255, using: &rng)])])
                recent.append(packet)
                router.receiveRTP(from: sender, packet: packet, now: now, into: &batch)
            case 40..<60:  // mutated or truncated copy of a recent packet
                guard var packet = recent.randomElement(using: &rng) else { continue }
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !packet.isEmpty {
                    packet[Int.random(in: 0..<packet.count, using: &rng)] = .random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { packet = Array(packet.prefix(Int.random(in: 0...packet.count, using: &rng))) }
                router.receiveRTP(from: from, packet: packet, now: now, into: &batch)
            case 60..<65:  // noise
                let noise = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                router.receiveRTP(from: from, packet: noise, now: now, into: &batch)
                router.receiveRTCP(from: from, packet: noise, now: now, into: &batch)
            case 65..<85:  // feedback, sometimes mutated
                var target = (to: from, ssrc: nextSSRC - UInt32.random(in: 0...30, using: &rng), seq: UInt16.random(in: 0...UInt16.max, using: &rng))
                if Int.random(in: 0..<4, using: &rng) != 0, let known = sentRecently.randomElement(using: &rng) { target = known }
                let media = target.ssrc
                let packets: [RTCPPacket] = [
                    .nack(GenericNACK(senderSSRC: 1, mediaSSRC: media, pairs: [.init(packetID: target.seq, bitmask: .random(in: 0...UInt16.max, using: &rng))])),
                    .nack(GenericNACK(senderSSRC: 1, mediaSSRC: media, lost: [target.seq])),
                    .pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: media)),
                    .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: media, sequenceNumber: 1)])),
                    .remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 1, bitrate: .random(in: 0...10_000_000, using: &rng), ssrcs: [media])),
                ]
                var bytes = try RTCPCompound.serialize([packets.randomElement(using: &rng)!])
                if Int.random(in: 0..<4, using: &rng) == 0 { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 0xFF }
                router.receiveRTCP(from: target.to, packet: bytes, now: now, into: &batch)
            case 85..<95:
                router.bandwidthEstimate(from, bitsPerSecond: .random(in: -1000...20_000_000, using: &rng), now: now, into: &batch)
                router.tick(now: now, into: &batch)
            default:  // churn
                router.leave(from, into: &batch)
                try? router.join(from, extensionMap: Ext.map)
                publishTracks(of: from)
                subscribeEveryone()
            }
            for directive in batch.directives {
                guard case .sendRTP(let to, let range, _) = directive else { continue }
                #expect(range.upperBound <= batch.bytes.count)
                let bytes = batch.packet(range)
                let header = try? RTPHeader.parse(bytes)
                #expect(header != nil)
                // Sent on a subscription's SSRC (never a publisher's), to a current subscriber.
                #expect(header.map { $0.ssrc > 10_000 } == true)
                #expect(!router.subscriptions(of: to).isEmpty)
                if let header, sentRecently.count < 500 { sentRecently.append((to, header.ssrc, header.sequenceNumber)) }
            }
        }
        // The run reached the forwarding and retransmission paths, not only the parsers.
        #expect(router.counters.packetsForwarded > 100)
        #expect(router.counters.retransmissionsSent > 0)
        print("fuzz seed \(seed): \(router.counters)")
    }
}
