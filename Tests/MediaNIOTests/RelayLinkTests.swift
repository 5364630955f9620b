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

/// A clock offset tests move forward (the servers read `ContinuousClock.now + offset`).
final class ClockOffset: Sendable {
    let value = Mutex<Duration>(.zero)
    func advance(_ d: Duration) { value.withLock { $0 += d } }
    var now: ContinuousClock.Instant { ContinuousClock.now + value.withLock { $0 } }
}

/// Runs one media server per node name on loopback for the duration of `body`.
func withMediaServers(_ names: [String], clocks: [ClockOffset]? = nil,
                      _ body: @escaping @Sendable ([MediaServer], [Int]) async throws -> Void) async throws {
    var servers: [MediaServer] = []
    for (index, name) in names.enumerated() {
        var configuration = MediaServerConfiguration()
        configuration.nodeName = name
        let clock = clocks?[index]
        servers.append(try MediaServer(configuration: configuration, now: { clock?.now ?? ContinuousClock.now }))
    }
    let all = servers
    try await withThrowingTaskGroup(of: Void.self) { group in
        for server in all { group.addTask { try await server.run() } }
        var ports: [Int] = []
        for server in all { ports.append(try await server.boundPort()) }
        do {
            try await body(all, ports)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

/// Opens link `id` of meeting "m" between two servers, each end with its direction keys.
/// `via` replaces both ends' view of the other's address (a proxy in the middle).
func openLink(_ id: UInt64, _ a: MediaServer, _ aPort: Int, _ aName: String, _ b: MediaServer, _ bPort: Int, _ bName: String,
              via proxy: Int? = nil, keys: (ab: XChaCha20Poly1305.Key, ba: XChaCha20Poly1305.Key)? = nil) async throws {
    let ab = keys?.ab ?? XChaCha20Poly1305.Key(), ba = keys?.ba ?? XChaCha20Poly1305.Key()
    try await a.openRelayLink(RelayLinkSpec(linkID: id, meeting: "m", remoteNode: bName, remoteHost: "127.0.0.1", remotePort: proxy ?? bPort,
                                            sendingKey: ab, receivingKey: ba))
    try await b.openRelayLink(RelayLinkSpec(linkID: id, meeting: "m", remoteNode: aName, remoteHost: "127.0.0.1", remotePort: proxy ?? aPort,
                                            sendingKey: ba, receivingKey: ab))
}

/// A UDP relay between two nodes that drops every `dropEvery`-th datagram from A (0: none).
/// Given the A→B key, it also opens what A sends and records each RTP packet's SSRC and
/// whether it starts a VP8 keyframe (`crossed`), in order.
final class LossyProxy: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let a: SocketAddress, b: SocketAddress
    let dropEvery: Int
    var count = 0
    let dropped = Mutex(0)
    var opener: RelayOpener?
    let crossed = Mutex<[(ssrc: UInt32, keyframe: Bool)]>([])

    init(a: SocketAddress, b: SocketAddress, dropEvery: Int, sniffing: RelayOpener? = nil) {
        self.a = a
        self.b = b
        self.dropEvery = dropEvery
        opener = sniffing
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let fromA = envelope.remoteAddress.port == a.port
        if fromA {
            count += 1
            if dropEvery > 0, count % dropEvery == 0 {
                dropped.withLock { $0 += 1 }
                return
            }
            if opener != nil, let opened = try? opener!.open(Array(envelope.data.readableBytesView)), opened.kind == .rtp,
               let header = opened.packet.withUnsafeBytes({ try? RTPHeader.parse($0) }) {
                let keyframe = (try? KeyframeDetector.isVP8Keyframe(Array(opened.packet[header.payloadRange]))) ?? false
                crossed.withLock { $0.append((header.ssrc, keyframe)) }
            }
        }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: fromA ? b : a, data: envelope.data)), promise: nil)
    }

    static func start(a: Int, b: Int, dropEvery: Int, sniffing: RelayOpener? = nil) async throws -> (LossyProxy, any Channel) {
        let proxy = LossyProxy(a: try SocketAddress(ipAddress: "127.0.0.1", port: a), b: try SocketAddress(ipAddress: "127.0.0.1", port: b),
                               dropEvery: dropEvery, sniffing: sniffing)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(proxy) } }
            .bind(host: "127.0.0.1", port: 0).get()
        return (proxy, channel)
    }
}

@Suite("Relay links between media servers", .serialized)
struct RelayLinkTests {
    /// A VP8 keyframe whose last two bytes carry the publisher's sequence number.
    static func keyframe(_ sequence: UInt16) -> [UInt8] {
        [0x10, 0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A] + Array(repeating: 0xAB, count: 100) + [UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence)]
    }

    static func send(_ peer: SyntheticPeer, _ sequences: Range<UInt16>) async throws {
        let srtp = try #require(peer.srtp)
        for sequence in sequences {
            var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: sequence, timestamp: UInt32(sequence) * 3000, ssrc: 5000,
                                           payload: keyframe(sequence))
            builder.marker = true
            var packet = try builder.build()
            try srtp.outbound.protectRTP(&packet)
            try await peer.send(packet)
        }
    }

    /// The publisher sequence numbers a subscriber has received so far (across calls).
    final class Seen: Sendable {
        let numbers = Mutex<Set<UInt16>>([])
    }

    /// Reads `peer`'s media until it has received all of `wanted` (noted in `seen`).
    static func receiveAll(_ peer: SyntheticPeer, _ wanted: Set<UInt16>, _ what: String, seen: Seen = Seen()) async throws {
        let stream = peer.datagrams
        guard peer.srtp != nil else { throw SyntheticPeerError("no SRTP for \(what)") }
        _ = try await within(.seconds(20), what) {
            guard let srtp = peer.srtp else { return false }
            if wanted.isSubset(of: seen.numbers.withLock({ $0 })) { return true }
            for await datagram in stream {
                guard PacketClassifier.classify(datagram) == .rtp else { continue }
                var packet = datagram
                guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, packet.count >= 2 else { continue }
                let number = UInt16(packet[packet.count - 2]) << 8 | UInt16(packet[packet.count - 1])
                if seen.numbers.withLock({ $0.insert(number); return wanted.isSubset(of: $0) }) { return true }
            }
            throw SyntheticPeerError(what)
        }
    }

    /// `name` joins on `server` and publishes one VP8 track (SSRC 5000), connected.
    static func publisher(_ name: String, on server: MediaServer, port: Int) async throws -> (SyntheticPeer, AsyncStream<MediaEvent>) {
        let peer = try await SyntheticPeer.make()
        let events = try await server.join(meeting: "m", participant: name)
        let answer = try SessionDescription.parse(try await server.publish(meeting: "m", participant: name,
                                                                          offer: peer.publisherOffer(ssrc: 5000, rtxSSRC: 5001)))
        try await peer.connect(port: port, remote: answer)
        _ = try await nextEvent(events, "\(name)'s publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
        return (peer, events)
    }

    /// `name` joins on `server`, sees `publisher` from `node` and its track, and subscribes.
    static func subscriber(_ name: String, on server: MediaServer, port: Int, sees publisher: String, from node: String) async throws
        -> (SyntheticPeer, AsyncStream<MediaEvent>, UInt32) {
        let peer = try await SyntheticPeer.make()
        let events = try await server.join(meeting: "m", participant: name)
        _ = try await nextEvent(events, "\(publisher) from node \(node) at \(name)") {
            $0 == .participantJoined(MediaParticipantInfo(name: publisher, node: node)) ? true : nil
        }
        let offer = try await subscribe(peer, as: name, events: events, server: server, port: port)
        return (peer, events, offer.media.first?.ssrcGroups.first?.ssrcs.first ?? 0)
    }

    /// A publisher on A, two subscribers on B: both get every packet, the track crosses the
    /// link once, B's keyframe request reaches the publisher, and closing the link ends it.
    @Test func tracksCrossALinkOnceAndReachEverySubscriber() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let (bob, bobEvents, bobSSRC) = try await Self.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            let (carol, _, _) = try await Self.subscriber("carol", on: s[1], port: ports[1], sees: "alice", from: "A")

            let pli = try await alice.receiveRTCP("B's keyframe request at the publisher on A") { packets -> PictureLossIndication? in
                for case .pictureLossIndication(let pli) in packets { return pli }
                return nil
            }
            #expect(pli.mediaSSRC == 5000)

            try await Self.send(alice, 0..<50)
            try await Self.receiveAll(bob, Set(0..<50), "alice's 50 packets at bob")
            try await Self.receiveAll(carol, Set(0..<50), "alice's 50 packets at carol")
            // bob's own PLI (SRTCP on his subscriber connection) reaches alice too: B's core
            // defers it past its throttle interval, then it crosses the link.
            let offered = try #require(await s[1].tracks(meeting: "m").first)
            #expect(offered.participant == "alice")
            let bobSRTP = try #require(bob.srtp)
            var request = try RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: 99, mediaSSRC: bobSSRC))])
            try bobSRTP.outbound.protectRTCP(&request)
            try await bob.send(request)
            _ = try await alice.receiveRTCP("bob's PLI at the publisher on A") { packets -> Bool? in
                for case .pictureLossIndication(let pli) in packets where pli.mediaSSRC == 5000 { return true }
                return nil
            }
            let link = try #require(await s[0].relayLinks().first)
            #expect(link.rtpSent == 50, "each packet crosses the link once, not once per subscriber")
            #expect(await s[1].statistics().relayRTPForwarded == 50)
            #expect(await s[1].statistics().rtpForwarded >= 100)
            #expect(await s[1].relayLinks().first?.authenticated == true)
            #expect(await s[1].relayLinks().first?.remoteParticipants == ["alice"])

            await s[1].closeRelayLink(1)
            _ = try await nextEvent(bobEvents, "alice's track ending at bob") { event -> Bool? in
                if case .trackUnpublished(_, "alice") = event { return true }
                return nil
            }
            _ = try await nextEvent(bobEvents, "alice leaving at bob") { $0 == .participantLeft("alice") ? true : nil }
            #expect(await s[1].tracks(meeting: "m").isEmpty)
            for peer in [alice, bob, carol] { await peer.close() }
        }
    }

    /// A chain A–B–C: C's subscriber receives A's publisher through B, which has no
    /// participant of its own, and C's keyframe request travels back to A.
    @Test func aChainOfTwoLinksDelivers() async throws {
        try await withMediaServers(["A", "B", "C"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            try await openLink(2, s[1], ports[1], "B", s[2], ports[2], "C")
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let (dave, _, _) = try await Self.subscriber("dave", on: s[2], port: ports[2], sees: "alice", from: "A")
            _ = try await alice.receiveRTCP("C's keyframe request at A") { packets -> Bool? in
                for case .pictureLossIndication(let pli) in packets where pli.mediaSSRC == 5000 { return true }
                return nil
            }
            try await Self.send(alice, 0..<20)
            try await Self.receiveAll(dave, Set(0..<20), "alice's packets at dave")
            #expect(await s[1].statistics().relayRTPForwarded == 20)
            #expect(await s[2].statistics().relayRTPForwarded == 20)
            // Split horizon: B sends alice back to neither A nor loops her.
            #expect(await s[0].statistics().relayRTPForwarded == 0)
            await alice.close()
            await dave.close()
        }
    }

    /// Every 10th datagram A→B is dropped: B NACKs over the link, A answers from its link
    /// cache, and the subscriber on B still gets every packet.
    @Test func lossOnTheLinkIsRepairedByNACK() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            let (proxy, proxyChannel) = try await LossyProxy.start(a: ports[0], b: ports[1], dropEvery: 10)
            let proxyPort = try #require(proxyChannel.localAddress?.port)
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B", via: proxyPort)
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let (bob, _, _) = try await Self.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            let seen = Seen()
            try await Self.send(alice, 0..<10)   // bob's stream starts at the first that arrives
            _ = try await bob.receiveRTP("a first packet")
            // In bursts of 10, each awaited: a repaired packet arrives a NACK round late, and
            // the synthetic subscriber's SRTP replay window is RFC 3711's minimum of 64
            // packets (a browser's is wider), so a long unpaced burst would outrun it. A
            // burst's last packet is awaited with the next burst (only a later packet shows
            // it missing); a final burst closes the range.
            for start in stride(from: UInt16(10), through: 110, by: 10) {
                try await Self.send(alice, start..<(start + 10))
                try await Self.receiveAll(bob, Set(10..<(start + 9)), "packets 10-\(start + 8) despite 10 % loss", seen: seen)
            }
            #expect(proxy.dropped.withLock { $0 } >= 10)
            #expect(await s[0].statistics().relayRTPRetransmitted > 0)
            try await proxyChannel.close()
            await alice.close()
            await bob.close()
        }
    }

    /// Unknown link ids, forged and replayed datagrams are counted and dropped, never
    /// processed; an authentic datagram from another address (a NAT, a delaying relay) is
    /// accepted: the link's key, not its address, identifies the far node.
    @Test func forgedUnknownAndReplayedDatagramsAreRefused() async throws {
        try await withMediaServers(["B"]) { s, ports in
            let far = try await SyntheticPeer.make()
            let stranger = try await SyntheticPeer.make()
            far.server = try SocketAddress(ipAddress: "127.0.0.1", port: ports[0])
            stranger.server = far.server
            let farPort = try #require(far.channel.localAddress?.port)
            let key = XChaCha20Poly1305.Key()
            try await s[0].openRelayLink(RelayLinkSpec(linkID: 7, meeting: "m", remoteNode: "A", remoteHost: "127.0.0.1", remotePort: farPort,
                                                       sendingKey: XChaCha20Poly1305.Key(), receivingKey: key))
            var sealer = RelaySealer(linkID: 7, key: key)
            let roster = try RelayControlMessage.roster([]).encoded()
            let good = try sealer.seal(roster, kind: .control)
            try await far.send(good)
            try await within(.seconds(10), "the good datagram") { while await s[0].statistics().relayDatagramsReceived < 1 { await Task.yield() } }
            try await far.send(good)                                   // replay
            var forged = try sealer.seal(roster, kind: .control)
            forged[forged.count - 1] ^= 1
            try await far.send(forged)                                 // fails authentication
            var other = RelaySealer(linkID: 8, key: key)
            try await far.send(try other.seal(roster, kind: .control)) // unknown link
            try await stranger.send(try sealer.seal(roster, kind: .control))  // another address, authentic
            try await within(.seconds(10), "three refusals and the second good datagram") {
                while true {
                    let now = await s[0].statistics()
                    if now.relayRefused >= 3 && now.relayDatagramsReceived >= 2 { break }
                    await Task.yield()
                }
            }
            let statistics = await s[0].statistics()
            #expect(statistics.relayDatagramsReceived == 2)
            #expect(statistics.relayRefused == 3)
            #expect(await s[0].relayLinks().first?.authenticated == true)
            await #expect(throws: MediaSessionError.self) {
                try await s[0].openRelayLink(RelayLinkSpec(linkID: 7, meeting: "m", remoteNode: "A", remoteHost: "127.0.0.1", remotePort: farPort,
                                                           sendingKey: key, receivingKey: key))
            }
            await far.close()
            await stranger.close()
        }
    }

    /// A link silent for longer than `relayLinkTimeout` loses its participants: A closes its
    /// end (it says nothing), B's injected clock jumps 6 s, and alice leaves B's meeting.
    @Test func aSilentLinkRemovesWhatItBrought() async throws {
        let clocks = [ClockOffset(), ClockOffset()]
        try await withMediaServers(["A", "B"], clocks: clocks) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let bobEvents = try await s[1].join(meeting: "m", participant: "bob")
            _ = try await nextEvent(bobEvents, "alice at bob") { $0 == .participantJoined(MediaParticipantInfo(name: "alice", node: "A")) ? true : nil }
            await s[0].closeRelayLink(1)
            clocks[1].advance(.seconds(6))
            _ = try await nextEvent(bobEvents, "alice's track ending with the silent link") { event -> Bool? in
                if case .trackUnpublished(_, "alice") = event { return true }
                return nil
            }
            _ = try await nextEvent(bobEvents, "alice leaving with the silent link") { $0 == .participantLeft("alice") ? true : nil }
            #expect(await s[1].relayLinks().first?.remoteParticipants == [])
            await alice.close()
        }
    }
}

@Suite("Relay control codec")
struct RelayControlCodecTests {
    static let sample = RelayControlMessage.participant(RelayParticipantState(
        name: "alice", node: "eu-de-fra-1", identityKey: nil, slot: 7,
        extensions: RelayExtensionIDs(mid: 4, rid: 10, repairedRID: 11, audioLevel: 1),
        tracks: [RelayTrackState(id: "T1", kind: "video", mid: "0", streamID: "s", trackID: "t", muted: false,
                                 codec: RelayCodec(payloadType: 96, encodingName: "VP8", clockRate: 90_000, channels: nil, formatParameters: nil,
                                                   feedback: ["nack", "nack pli"], rtxPayloadType: 97),
                                 layers: [RelayLayer(rid: "q", ssrc: 1), RelayLayer(rid: "h", ssrc: nil), RelayLayer(rid: "f", ssrc: 3)])]))

    @Test func messagesRoundTrip() throws {
        for message in [Self.sample, .roster(["alice", "bob"]), .roster([]), .mediaKey(from: "a", to: "b", envelope: [1, 2, 3]),
                        Self.wants, .layerWants([]), Self.rates] {
            let bytes = try message.encoded()
            #expect(bytes.count <= RelayPacket.maximumPayload)
            #expect(try RelayControlMessage.decode(bytes) == message)
        }
    }

    static let wants = RelayControlMessage.layerWants([RelayLayerWant(id: "T1", layers: [0, 2]), RelayLayerWant(id: "T2", layers: [0])])
    static let rates = RelayControlMessage.layerRates([RelayLayerRate(id: "T1", bitrates: [100_000, 0, 900_000], carried: [true, false, false])])

    @Test func layerMessagesOutOfRangeAreRefused() throws {
        #expect(throws: RelayControlError.self) { try RelayControlMessage.layerWants([RelayLayerWant(id: "T1", layers: [3])]).encoded() }
        #expect(throws: RelayControlError.self) { try RelayControlMessage.layerWants([RelayLayerWant(id: "", layers: [0])]).encoded() }
        #expect(throws: RelayControlError.self) { try RelayControlMessage.layerRates([RelayLayerRate(id: "T1", bitrates: [1], carried: [])]).encoded() }
        #expect(throws: RelayControlError.self) { try RelayControlMessage.layerRates([RelayLayerRate(id: "T1", bitrates: [-1], carried: [true])]).encoded() }
        #expect(throws: RelayControlError.self) {
            try RelayControlMessage.layerRates([RelayLayerRate(id: "T1", bitrates: [1, 2, 3, 4], carried: [true, true, true, true])]).encoded()
        }
        #expect(throws: RelayControlError.missing("wants")) { try RelayControlMessage.decode(Array(#"{"type":"layerWants"}"#.utf8)) }
        #expect(throws: RelayControlError.missing("rates")) { try RelayControlMessage.decode(Array(#"{"type":"layerRates"}"#.utf8)) }
    }

    @Test func invalidFieldsAreRefused() throws {
        #expect(throws: RelayControlError.self) { try RelayControlMessage.roster([""]).encoded() }
        #expect(throws: RelayControlError.self) { try RelayControlMessage.mediaKey(from: "a", to: "b", envelope: Array(repeating: 0, count: 513)).encoded() }
        #expect(throws: RelayControlError.invalid(field: "type", "unknown message type")) { try RelayControlMessage.decode(Array(#"{"type":"x"}"#.utf8)) }
        #expect(throws: RelayControlError.missing("names")) { try RelayControlMessage.decode(Array(#"{"type":"roster"}"#.utf8)) }
        let noLayers = Array(String(decoding: try Self.sample.encoded(), as: UTF8.self)
            .replacingOccurrences(of: #"{"rid":"q","ssrc":1},"#, with: "")
            .replacingOccurrences(of: #"{"rid":"h"},"#, with: "")
            .replacingOccurrences(of: #",{"rid":"f","ssrc":3}"#, with: "")
            .replacingOccurrences(of: #"{"rid":"f","ssrc":3}"#, with: "").utf8)
        #expect(throws: RelayControlError.self) { try RelayControlMessage.decode(noLayers) }
    }

    /// Random bytes, and mutations of a valid message, are refused with a typed error or
    /// decode to a message that passes validation — never a crash.
    @Test func fuzzedInputIsRefusedOrValid() throws {
        var rng = SeededGenerator(seed: 77)
        let goods = [try Self.sample.encoded(), try Self.wants.encoded(), try Self.rates.encoded()]
        for i in 0..<4_500 {
            let good = goods[(i / 3) % goods.count]
            let input = i % 3 == 0 ? Mutations.randomBytes(&rng, maxLength: 400) : Mutations.mutate(good, &rng)
            do {
                let message = try RelayControlMessage.decode(input)
                try message.validate()
            } catch {
                // typed: RelayControlError is the only error decode throws
                _ = error as RelayControlError
            }
        }
    }
}
