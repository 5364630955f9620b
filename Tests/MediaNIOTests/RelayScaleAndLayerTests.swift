import DemarcTestSupport
import MediaLoadTest
import MediaPackets
import NIOCore
import NIOPosix
import RelayLinks
import SodiumWrapper
import Synchronization
import Testing
@testable import MediaNIO

/// A simulcast publisher's three layers, paced: rids l, m, h on SSRCs 6000–6002 (mid 0),
/// 100 packets/s each of 100, 400 and 1,000 payload bytes (≈ 110, 350, 830 kbit/s), a VP8
/// keyframe every 20th packet of a layer. The byte before a packet's last two is its layer.
final class SimulcastSender: Sendable {
    static let ssrcs: [UInt32] = [6000, 6001, 6002]
    static let sizes = [100, 400, 1_000]

    static func packet(layer: Int, sequence: UInt16) throws -> [UInt8] {
        let keyframe = sequence % 20 == 0
        let payload = [0x10, keyframe ? 0x00 : 0x01, 0x00, 0x00, 0x9D, 0x01, 0x2A] + Array(repeating: 0xAB, count: sizes[layer])
            + [UInt8(layer), UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence)]
        var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: sequence, timestamp: UInt32(sequence) * 900, ssrc: ssrcs[layer], payload: payload)
        builder.extensions = [(4, Array("0".utf8)), (10, Array(["l", "m", "h"][layer].utf8))]
        builder.marker = true
        return try builder.build()
    }

    /// Sends until cancelled (pacing the generator; no test waits on time).
    static func run(_ peer: SyntheticPeer) async throws {
        let srtp = try #require(peer.srtp)
        var sequence: UInt16 = 0
        while !Task.isCancelled {
            for layer in 0..<3 {
                var packet = try packet(layer: layer, sequence: sequence)
                try srtp.outbound.protectRTP(&packet)
                try await peer.send(packet)
            }
            sequence &+= 1
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

@Suite("Relay links at scale, with remapped SSRCs and layer wishes", .serialized)
struct RelayScaleAndLayerTests {
    /// Participant `i` of a large meeting on the far node: audio plus three video tracks of
    /// three layers, with UUID-long stream and track ids — about 2 KB of JSON, more than one
    /// datagram carries.
    static func farParticipant(_ i: Int) -> RelayParticipantState {
        let codecs = [RelayCodec(payloadType: 111, encodingName: "opus", clockRate: 48_000, channels: 2, formatParameters: "minptime=10;useinbandfec=1",
                                 feedback: ["transport-cc"], rtxPayloadType: nil),
                      RelayCodec(payloadType: 96, encodingName: "VP8", clockRate: 90_000, channels: nil, formatParameters: nil,
                                 feedback: ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"], rtxPayloadType: 97)]
        let tracks = (0..<4).map { t in
            let base = UInt32(100_000 + i * 16 + t * 4)
            return RelayTrackState(id: "T\(i * 4 + t + 1)", kind: t == 0 ? "audio" : "video", mid: "\(t)",
                                   streamID: "3f1c2a7e-6b0d-4c55-9a11-\(String(format: "%012d", i))",
                                   trackID: "9d2e4b10-8c3f-4e21-b7aa-\(String(format: "%012d", i * 4 + t))",
                                   muted: false, codec: codecs[t == 0 ? 0 : 1],
                                   layers: t == 0 ? [RelayLayer(rid: nil, ssrc: base)]
                                                  : [RelayLayer(rid: "q", ssrc: base), RelayLayer(rid: "h", ssrc: base + 1), RelayLayer(rid: "f", ssrc: base + 2)])
        }
        return RelayParticipantState(name: "participant-\(i)", node: "A", identityKey: nil, slot: nil,
                                     extensions: RelayExtensionIDs(mid: 4, rid: 10, repairedRID: 11, audioLevel: 1), tracks: tracks)
    }

    /// A far node brings 60 participants × 4 tracks: every participant's state is larger
    /// than a datagram, crosses in fragments and is put back together — all 240 tracks
    /// appear on B.
    @Test func aLargeMeetingCrossesInFragments() async throws {
        try await withMediaServers(["B"]) { s, ports in
            let far = try await SyntheticPeer.make()
            far.server = try SocketAddress(ipAddress: "127.0.0.1", port: ports[0])
            let key = XChaCha20Poly1305.Key()
            try await s[0].openRelayLink(RelayLinkSpec(linkID: 3, meeting: "m", remoteNode: "A", remoteHost: "127.0.0.1",
                                                       remotePort: try #require(far.channel.localAddress?.port),
                                                       sendingKey: XChaCha20Poly1305.Key(), receivingKey: key))
            var sealer = RelaySealer(linkID: 3, key: key)
            let participants = (0..<60).map(Self.farParticipant)
            try await far.send(try sealer.seal(try RelayControlMessage.roster(participants.map(\.name)).encoded(), kind: .control))
            var fragments = 0
            for (i, state) in participants.enumerated() {
                let bytes = try RelayControlMessage.participant(state).encoded()
                #expect(bytes.count > RelayPacket.maximumPayload)
                for fragment in try RelayControlFragment.split(bytes, id: UInt32(i)) {
                    try await far.send(try sealer.seal(fragment, kind: .controlFragment))
                    fragments += 1
                }
            }
            #expect(fragments >= 120)
            try await within(.seconds(20), "240 tracks of 60 far participants on B") {
                while await s[0].tracks(meeting: "m").count < 240 { await Task.yield() }
            }
            #expect(await s[0].relayLinks().first?.remoteParticipants.count == 60)
            #expect(await s[0].statistics().relayRefused == 0)
            await far.close()
        }
    }

    /// 60 participants with 100-byte names on A: the roster (6 KB) is sent in fragments by
    /// A's engine and all 60 appear on B.
    @Test func aLargeRosterIsSentInFragments() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            var streams: [AsyncStream<MediaEvent>] = []
            for i in 0..<60 {
                streams.append(try await s[0].join(meeting: "m", participant: String(repeating: "x", count: 96) + String(format: "%04d", i)))
            }
            try await within(.seconds(20), "60 participants of A on B") {
                while await s[1].relayLinks().first?.remoteParticipants.count ?? 0 < 60 { await Task.yield() }
            }
            #expect(await s[0].statistics().relayControlFragmented > 0)
            // (B may refuse A's very first datagrams: A's end opened, and spoke, before B's.)
            _ = streams
        }
    }

    /// alice on A and carol on C both publish SSRC 5000; both reach B, whose subscriber gets
    /// two distinct streams, and each publisher gets the keyframe request for its own 5000.
    @Test func theSameSSRCOnTwoNodesStaysTwoStreams() async throws {
        try await withMediaServers(["A", "B", "C"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            try await openLink(2, s[2], ports[2], "C", s[1], ports[1], "B")
            let (alice, _) = try await RelayLinkTests.publisher("alice", on: s[0], port: ports[0])
            let (carol, _) = try await RelayLinkTests.publisher("carol", on: s[2], port: ports[2])
            try await within(.seconds(20), "both tracks on B") {
                while await s[1].tracks(meeting: "m").count < 2 { await Task.yield() }
            }
            let bob = try await SyntheticPeer.make()
            let bobEvents = try await s[1].join(meeting: "m", participant: "bob")
            let offer = try await subscribe(bob, as: "bob", events: bobEvents, server: s[1], port: ports[1])
            #expect(offer.media.count == 2)
            for (peer, name) in [(alice, "alice"), (carol, "carol")] {
                _ = try await peer.receiveRTCP("B's keyframe request at \(name), for her own SSRC") { packets -> Bool? in
                    for case .pictureLossIndication(let pli) in packets where pli.mediaSSRC == 5000 { return true }
                    return nil
                }
            }
            try await RelayLinkTests.send(alice, 0..<20)
            try await RelayLinkTests.send(carol, 1000..<1020)
            // Each stream on its own subscriber SSRC: alice's numbers on one, carol's on another.
            let bySSRC = Mutex<[UInt32: Set<UInt16>]>([:])
            let stream = bob.datagrams
            _ = try await within(.seconds(20), "both publishers' packets at bob") {
                guard let srtp = bob.srtp else { return false }
                for await datagram in stream {
                    guard PacketClassifier.classify(datagram) == .rtp else { continue }
                    var packet = datagram
                    guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, packet.count >= 12,
                          let header = packet.withUnsafeBytes({ try? RTPHeader.parse($0) }) else { continue }
                    let number = UInt16(packet[packet.count - 2]) << 8 | UInt16(packet[packet.count - 1])
                    let done = bySSRC.withLock { map -> Bool in
                        map[header.ssrc, default: []].insert(number)
                        let sets = Array(map.values)
                        return sets.contains(Set(0..<20)) && sets.contains(Set(1000..<1020))
                    }
                    if done { return true }
                }
                throw SyntheticPeerError("bob's stream ended")
            }
            let map = bySSRC.withLock { $0 }
            #expect(map.count == 2, "two subscriber SSRCs, one per publisher")
            #expect(map.values.allSatisfy { $0 == Set(0..<20) || $0 == Set(1000..<1020) }, "no stream mixes the two publishers")
            #expect(await s[1].statistics().relayRTPForwarded == 40)
            for peer in [alice, carol, bob] { await peer.close() }
        }
    }

    /// Three layers published on A, one subscriber on B held to the lowest by its REMB: only
    /// that layer crosses. Its estimate rises: the highest layer starts crossing, with a
    /// keyframe as its first packet over the link, and reaches the subscriber.
    @Test func onlyTheWantedLayersCrossAndANewOneStartsAtAKeyframe() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            let ab = XChaCha20Poly1305.Key(), ba = XChaCha20Poly1305.Key()
            let (proxy, proxyChannel) = try await LossyProxy.start(a: ports[0], b: ports[1], dropEvery: 0, sniffing: RelayOpener(linkID: 1, key: ab))
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B", via: try #require(proxyChannel.localAddress?.port), keys: (ab, ba))
            let alice = try await SyntheticPeer.make()
            let aliceEvents = try await s[0].join(meeting: "m", participant: "alice")
            let answer = try SessionDescription.parse(try await s[0].publish(meeting: "m", participant: "alice", offer: alice.simulcastPublisherOffer(audioSSRC: 7000)))
            try await alice.connect(port: ports[0], remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
            let sender = Task { try await SimulcastSender.run(alice) }
            defer { sender.cancel() }

            let (bob, _, bobSSRC) = try await RelayLinkTests.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            let bobSRTP = try #require(bob.srtp)
            func remb(_ bitsPerSecond: UInt64) async throws {
                var packet = try RTCPCompound.serialize([.remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 99, bitrate: bitsPerSecond, ssrcs: [bobSSRC]))])
                try bobSRTP.outbound.protectRTCP(&packet)
                try await bob.send(packet)
            }
            try await remb(50_000)
            let video = try #require(await s[0].tracks(meeting: "m").first { $0.kind == "video" }?.id)
            try await within(.seconds(20), "B wanting only the lowest layer of alice's video") {
                while await s[0].relayLinks().first?.farWants?[video] != [0] { await Task.yield() }
            }
            // Settled (the subscriber's switch down done): a window of 60 lowest-layer packets
            // with nothing of the other layers crossing.
            let window = Mutex<(before: [Int], after: [Int], crossed: [(ssrc: UInt32, keyframe: Bool)])>(([], [], []))
            try await within(.seconds(20), "60 packets of the lowest layer and nothing else over the link") {
                while true {
                    let before = await s[0].relayLinks().first?.rtpSentByLayer ?? [0, 0, 0]
                    let crossedBefore = proxy.crossed.withLock { $0.count }
                    while await (s[0].relayLinks().first?.rtpSentByLayer[0] ?? 0) < before[0] + 60 { await Task.yield() }
                    let after = await s[0].relayLinks().first?.rtpSentByLayer ?? [0, 0, 0]
                    let crossed = proxy.crossed.withLock { Array($0[crossedBefore...]) }
                    window.withLock { $0 = (before, after, crossed) }
                    if after[1] == before[1], after[2] == before[2] { return }
                }
            }
            let (before, during, crossedLow) = window.withLock { $0 }
            #expect(during[1] == before[1] && during[2] == before[2], "only the lowest layer crosses: \(during) after \(before)")
            #expect(await s[0].relayLinks().first?.rtpWithheld ?? 0 > 0)
            #expect(!crossedLow.isEmpty && crossedLow.allSatisfy { $0.ssrc == SimulcastSender.ssrcs[0] })

            // The estimate rises: the highest layer is wanted, crosses from a keyframe, reaches bob.
            let switchAt = proxy.crossed.withLock { $0.count }
            try await remb(5_000_000)
            let stream = bob.datagrams
            _ = try await within(.seconds(20), "the highest layer at bob") {
                guard let bobSRTP = bob.srtp else { return false }
                for await datagram in stream {
                    guard PacketClassifier.classify(datagram) == .rtp else { continue }
                    var packet = datagram
                    guard (try? bobSRTP.inbound.unprotectRTP(&packet)) != nil, packet.count >= 3 else { continue }
                    if packet[packet.count - 3] == 2 { return true }
                }
                throw SyntheticPeerError("bob's stream ended")
            }
            let after = proxy.crossed.withLock { Array($0[switchAt...]) }
            let firstHigh = try #require(after.first { $0.ssrc == SimulcastSender.ssrcs[2] })
            #expect(firstHigh.keyframe, "a newly wanted layer crosses from a keyframe")
            #expect(await s[0].relayLinks().first?.farWants?[video]?.contains(2) == true)
            sender.cancel()
            try await proxyChannel.close()
            await alice.close()
            await bob.close()
        }
    }

    /// A link losing every 5th datagram A→B: A's loss estimate from B's link NACKs rises, the
    /// link's layer ceiling drops (the highest layer first), B hears the dropped layer is
    /// gone and its subscriber stops wanting it.
    @Test func aLossyLinkDropsItsHighestLayer() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            let (_, proxyChannel) = try await LossyProxy.start(a: ports[0], b: ports[1], dropEvery: 5)
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B", via: try #require(proxyChannel.localAddress?.port))
            let alice = try await SyntheticPeer.make()
            let aliceEvents = try await s[0].join(meeting: "m", participant: "alice")
            let answer = try SessionDescription.parse(try await s[0].publish(meeting: "m", participant: "alice", offer: alice.simulcastPublisherOffer(audioSSRC: 7000)))
            try await alice.connect(port: ports[0], remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
            let sender = Task { try await SimulcastSender.run(alice) }
            defer { sender.cancel() }
            let (bob, _, _) = try await RelayLinkTests.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            try await within(.seconds(30), "A's ceiling on the lossy link below the highest layer") {
                while await (s[0].relayLinks().first?.layerCeiling ?? 2) >= 2 { await Task.yield() }
            }
            let link = try #require(await s[0].relayLinks().first)
            #expect(link.lossEstimate > 0.10)
            #expect(await s[0].statistics().relayLayerCeilingChanges >= 1)
            let video = try #require(await s[0].tracks(meeting: "m").first { $0.kind == "video" }?.id)
            try await within(.seconds(30), "B no longer wanting the dropped layer") {
                while true {
                    if let wants = await s[0].relayLinks().first?.farWants?[video], !wants.contains(2), let top = wants.max(),
                       top <= (await s[0].relayLinks().first?.layerCeiling ?? 0) { return }
                    await Task.yield()
                }
            }
            sender.cancel()
            try await proxyChannel.close()
            await alice.close()
            await bob.close()
        }
    }

    /// A chain A–B–C with nobody on B: C's subscriber's wish crosses B (B asks A for what C
    /// wants), so only the lowest layer leaves A; its estimate rises and the highest layer
    /// reaches it through B.
    @Test func wishesPassAlongAChain() async throws {
        try await withMediaServers(["A", "B", "C"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            try await openLink(2, s[1], ports[1], "B", s[2], ports[2], "C")
            let alice = try await SyntheticPeer.make()
            let aliceEvents = try await s[0].join(meeting: "m", participant: "alice")
            let answer = try SessionDescription.parse(try await s[0].publish(meeting: "m", participant: "alice", offer: alice.simulcastPublisherOffer(audioSSRC: 7000)))
            try await alice.connect(port: ports[0], remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
            let sender = Task { try await SimulcastSender.run(alice) }
            defer { sender.cancel() }
            let (dave, _, daveSSRC) = try await RelayLinkTests.subscriber("dave", on: s[2], port: ports[2], sees: "alice", from: "A")
            func remb(_ bitsPerSecond: UInt64) async throws {
                let srtp = try #require(dave.srtp)
                var packet = try RTCPCompound.serialize([.remb(ReceiverEstimatedMaximumBitrate(senderSSRC: 99, bitrate: bitsPerSecond, ssrcs: [daveSSRC]))])
                try srtp.outbound.protectRTCP(&packet)
                try await dave.send(packet)
            }
            try await remb(50_000)
            let video = try #require(await s[0].tracks(meeting: "m").first { $0.kind == "video" }?.id)
            try await within(.seconds(20), "A asked by B for only the layer C wants") {
                while true {
                    let before = await s[0].relayLinks().first?.rtpSentByLayer ?? [0, 0, 0]
                    while await (s[0].relayLinks().first?.rtpSentByLayer[0] ?? 0) < before[0] + 40 { await Task.yield() }
                    let after = await s[0].relayLinks().first?.rtpSentByLayer ?? [0, 0, 0]
                    if after[1] == before[1], after[2] == before[2], await s[0].relayLinks().first?.farWants?[video] == [0] { return }
                }
            }
            try await remb(5_000_000)
            let stream = dave.datagrams
            _ = try await within(.seconds(20), "the highest layer at dave, through B") {
                guard let srtp = dave.srtp else { return false }
                for await datagram in stream {
                    guard PacketClassifier.classify(datagram) == .rtp else { continue }
                    var packet = datagram
                    guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, packet.count >= 3 else { continue }
                    if packet[packet.count - 3] == 2 { return true }
                }
                throw SyntheticPeerError("dave's stream ended")
            }
            #expect(await s[0].relayLinks().first?.farWants?[video]?.contains(2) == true)
            sender.cancel()
            await alice.close()
            await dave.close()
        }
    }
}
