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
              via proxy: Int? = nil) async throws {
    let ab = XChaCha20Poly1305.Key(), ba = XChaCha20Poly1305.Key()
    try await a.openRelayLink(RelayLinkSpec(linkID: id, meeting: "m", remoteNode: bName, remoteHost: "127.0.0.1", remotePort: proxy ?? bPort,
                                            sendingKey: ab, receivingKey: ba))
    try await b.openRelayLink(RelayLinkSpec(linkID: id, meeting: "m", remoteNode: aName, remoteHost: "127.0.0.1", remotePort: proxy ?? aPort,
                                            sendingKey: ba, receivingKey: ab))
}

/// A UDP relay between two nodes that drops every `dropEvery`-th datagram from `lossyFrom`.
/// Sequence numbers a subscriber has received so far, shared across reads.
final class Received: Sendable {
    let set = Mutex(Set<UInt16>())
}

final class LossyProxy: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let a: SocketAddress, b: SocketAddress
    let dropEvery: Int
    var count = 1   // the generator's state
    let dropped = Mutex(0)

    init(a: SocketAddress, b: SocketAddress, dropEvery: Int) {
        self.a = a
        self.b = b
        self.dropEvery = dropEvery
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let fromA = envelope.remoteAddress.port == a.port
        if fromA {
            // Seeded pseudo-random loss (1 in dropEvery on average). Not every n-th datagram:
            // a fixed period can hit the same packet's retransmission every time, until the
            // NACK generator's retry limit gives it up.
            count = count &* 6364136223846793005 &+ 1442695040888963407
            if (count >> 33) % dropEvery == 0 {
                dropped.withLock { $0 += 1 }
                return
            }
        }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: fromA ? b : a, data: envelope.data)), promise: nil)
    }

    static func start(a: Int, b: Int, dropEvery: Int) async throws -> (LossyProxy, any Channel) {
        let proxy = LossyProxy(a: try SocketAddress(ipAddress: "127.0.0.1", port: a), b: try SocketAddress(ipAddress: "127.0.0.1", port: b),
                               dropEvery: dropEvery)
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

    /// The publisher sequence numbers `peer` receives until it has all of `wanted`.
    /// Reads `peer`'s RTP, adding each packet's sequence number (its last two bytes) to `got`,
    /// until `got` holds all of `wanted`.
    static func collect(_ peer: SyntheticPeer, into got: Received, until wanted: Set<UInt16>, _ what: String) async throws {
        let stream = peer.datagrams
        guard peer.srtp != nil else { throw SyntheticPeerError("no SRTP for \(what)") }
        defer {
            let missing = wanted.subtracting(got.set.withLock { $0 })
            if !missing.isEmpty { print("collect(\(what)): still missing \(missing.sorted())") }
        }
        _ = try await within(.seconds(20), what) {
            guard let srtp = peer.srtp else { return false }
            if wanted.isSubset(of: got.set.withLock({ $0 })) { return true }
            for await datagram in stream {
                guard PacketClassifier.classify(datagram) == .rtp else { continue }
                var packet = datagram
                guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, packet.count >= 2 else { continue }
                let sequence = UInt16(packet[packet.count - 2]) << 8 | UInt16(packet[packet.count - 1])
                if got.set.withLock({ $0.insert(sequence); return wanted.isSubset(of: $0) }) { return true }
            }
            throw SyntheticPeerError(what)
        }
    }

    static func receiveAll(_ peer: SyntheticPeer, _ wanted: Set<UInt16>, _ what: String) async throws {
        let stream = peer.datagrams
        guard peer.srtp != nil else { throw SyntheticPeerError("no SRTP for \(what)") }
        _ = try await within(.seconds(20), what) {
            guard let srtp = peer.srtp else { return false }
            var missing = wanted
            if missing.isEmpty { return true }
            for await datagram in stream {
                guard PacketClassifier.classify(datagram) == .rtp else { continue }
                var packet = datagram
                guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, packet.count >= 2 else { continue }
                missing.remove(UInt16(packet[packet.count - 2]) << 8 | UInt16(packet[packet.count - 1]))
                if missing.isEmpty { return true }
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
        -> (SyntheticPeer, AsyncStream<MediaEvent>) {
        let peer = try await SyntheticPeer.make()
        let events = try await server.join(meeting: "m", participant: name)
        _ = try await nextEvent(events, "\(publisher) from node \(node) at \(name)") {
            $0 == .participantJoined(MediaParticipantInfo(name: publisher, node: node)) ? true : nil
        }
        try await subscribe(peer, as: name, events: events, server: server, port: port)
        return (peer, events)
    }

    /// A publisher on A, two subscribers on B: both get every packet, the track crosses the
    /// link once, B's keyframe request reaches the publisher, and closing the link ends it.
    @Test func tracksCrossALinkOnceAndReachEverySubscriber() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B")
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let (bob, bobEvents) = try await Self.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            let (carol, _) = try await Self.subscriber("carol", on: s[1], port: ports[1], sees: "alice", from: "A")

            let pli = try await alice.receiveRTCP("B's keyframe request at the publisher on A") { packets -> PictureLossIndication? in
                for case .pictureLossIndication(let pli) in packets { return pli }
                return nil
            }
            #expect(pli.mediaSSRC == 5000)

            try await Self.send(alice, 0..<50)
            try await Self.receiveAll(bob, Set(0..<50), "alice's 50 packets at bob")
            try await Self.receiveAll(carol, Set(0..<50), "alice's 50 packets at carol")
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
            let (dave, _) = try await Self.subscriber("dave", on: s[2], port: ports[2], sees: "alice", from: "A")
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

    /// One datagram A→B in ten is dropped: B NACKs over the link, A answers from its link
    /// cache, and the subscriber on B still gets every packet.
    @Test func lossOnTheLinkIsRepairedByNACK() async throws {
        try await withMediaServers(["A", "B"]) { s, ports in
            let (proxy, proxyChannel) = try await LossyProxy.start(a: ports[0], b: ports[1], dropEvery: 10)
            let proxyPort = try #require(proxyChannel.localAddress?.port)
            try await openLink(1, s[0], ports[0], "A", s[1], ports[1], "B", via: proxyPort)
            let (alice, _) = try await Self.publisher("alice", on: s[0], port: ports[0])
            let (bob, _) = try await Self.subscriber("bob", on: s[1], port: ports[1], sees: "alice", from: "A")
            try await Self.send(alice, 0..<10)   // bob's stream starts at the first that arrives
            try await Self.receiveAll(bob, [], "warm-up")
            _ = try await bob.receiveRTP("a first packet")
            // Paced like a real stream, in chunks of 20: a burst of 100 would put a NACKed
            // packet's retransmission more than 64 packets behind the subscriber's newest,
            // outside its SRTP replay window (RFC 3711 §3.3.2). Each chunk must arrive whole
            // but for its last packet, whose loss only the next chunk reveals.
            let got = Received()
            for start in stride(from: UInt16(10), to: 110, by: 20) {
                try await Self.send(alice, start..<(start + 20))
                try await Self.collect(bob, into: got, until: Set(10..<(start + 19)), "packets up to \(start + 18) despite 10 % loss")
            }
            try await Self.send(alice, 110..<115)
            try await Self.collect(bob, into: got, until: Set(10..<110), "every packet despite 10 % loss")
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
        for message in [Self.sample, .roster(["alice", "bob"]), .roster([]), .mediaKey(from: "a", to: "b", envelope: [1, 2, 3])] {
            let bytes = try message.encoded()
            #expect(bytes.count <= RelayPacket.maximumPayload)
            #expect(try RelayControlMessage.decode(bytes) == message)
        }
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
        let good = try Self.sample.encoded()
        for i in 0..<3_000 {
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
