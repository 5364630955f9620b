import DemarcTestSupport
import MediaCrypto
import MediaPackets
import NIOCore
import NIOPosix
import OpenSSLWrapper

/// A minimal WebRTC endpoint for testing the media shell without a browser: a full ICE
/// agent's Binding request (controlling, USE-CANDIDATE), a DTLS client and SRTP, over a
/// real UDP socket on loopback. Built from the project's own protocol layers.
final class FakeWebRTCPeer: @unchecked Sendable {
    let channel: any Channel
    let datagrams: AsyncStream<[UInt8]>
    let ufrag = "fake" + String(UInt32.random(in: 1000...9999))
    let password = "fakePasswordForTestsOnly0"
    let certificate: ECDSACertificate
    let dtls: DTLSConnection
    var server: SocketAddress?
    var srtp: SRTPSession?

    static func make() async throws -> FakeWebRTCPeer {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(continuation)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return try FakeWebRTCPeer(channel: channel, datagrams: stream)
    }

    private init(channel: any Channel, datagrams: AsyncStream<[UInt8]>) throws {
        self.channel = channel
        self.datagrams = datagrams
        certificate = try ECDSACertificate(commonName: "fake-peer")
        dtls = try DTLSConnection(context: try DTLSContext(certificate: certificate, srtpProfiles: DTLSSRTP.offeredProfiles), role: .client)
    }

    var fingerprint: String { (try? certificate.fingerprint()) ?? "" }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server!, data: channel.allocator.buffer(bytes: bytes)))
    }

    /// The next datagram `accept` takes (others are skipped), within `limit`.
    func receive<T: Sendable>(_ what: String, limit: Duration = .seconds(10), _ accept: @escaping @Sendable ([UInt8]) -> T?) async throws -> T {
        let stream = datagrams
        return try await within(limit, what) {
            for await datagram in stream {
                if let value = accept(datagram) { return value }
            }
            throw Timeout(what: what)
        }
    }

    /// The next SRTCP compound that authenticates, decoded, for which `accept` says yes.
    func receiveRTCP<T: Sendable>(_ what: String, _ accept: @escaping @Sendable ([RTCPPacket]) -> T?) async throws -> T {
        try await receive(what) { [self] datagram in
            guard PacketClassifier.classify(datagram) == .rtcp, let srtp else { return nil }
            var packet = datagram
            guard (try? srtp.inbound.unprotectRTCP(&packet)) != nil, let packets = try? RTCPCompound.parse(packet) else { return nil }
            return accept(packets)
        }
    }

    /// The next SRTP packet that authenticates, unprotected.
    func receiveRTP(_ what: String) async throws -> [UInt8] {
        try await receive(what) { [self] datagram in
            guard PacketClassifier.classify(datagram) == .rtp, let srtp else { return nil }
            var packet = datagram
            return (try? srtp.inbound.unprotectRTP(&packet)) != nil ? packet : nil
        }
    }

    /// Waits until `count` more RTP datagrams have arrived (not decrypted: for measuring).
    func awaitRTP(count: Int, limit: Duration = .seconds(20)) async throws {
        let stream = datagrams
        try await within(limit, "\(count) RTP datagrams") {
            var seen = 0
            for await datagram in stream where PacketClassifier.classify(datagram) == .rtp {
                seen += 1
                if seen == count { return }
            }
            throw Timeout(what: "\(count) RTP datagrams")
        }
    }

    /// ICE (one Binding request, nominating) then the DTLS handshake as client, then SRTP
    /// keys checked against the SFU's fingerprint from `remote` (its answer or offer).
    func connect(port: Int, remote: SessionDescription) async throws {
        server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let section = remote.media[0]
        let credentials = try requireValue(remote.iceCredentials(for: section), "ICE credentials in the SFU's SDP")
        var request = STUNMessageBuilder(type: .bindingRequest, transactionID: .random())
        try request.appendUsername("\(credentials.ufrag):\(ufrag)")
        try request.appendPriority(0x6E00_1EFF)
        try request.appendICEControlling(UInt64.random(in: 0...UInt64.max))
        try request.appendUseCandidate()
        try request.appendMessageIntegrity(key: Array(credentials.password.utf8))
        request.appendFingerprint()
        try await send(request.bytes)
        let response = try await receive("a STUN Binding response") { datagram in
            PacketClassifier.classify(datagram) == .stun ? (try? STUNMessage.parse(datagram)) : nil
        }
        guard response.type == .bindingSuccess else { throw Timeout(what: "a Binding success (got \(response.type))") }

        try dtls.start()
        for datagram in dtls.takeOutgoingDatagrams() { try await send(datagram) }
        while !dtls.isHandshakeComplete {
            let datagram = try await receive("the DTLS handshake") { PacketClassifier.classify($0) == .dtls ? $0 : nil }
            _ = try dtls.receive(datagram)
            for datagram in dtls.takeOutgoingDatagrams() { try await send(datagram) }
        }
        srtp = try DTLSSRTP.establish(dtls, peerFingerprint: try requireValue(remote.fingerprint(for: section), "a fingerprint"))
    }

    /// An offer for a publisher sending one VP8 video track with signaled SSRCs, and an
    /// Opus track with the audio-level extension when `audioSSRC` is given.
    func publisherOffer(ssrc: UInt32, rtxSSRC: UInt32, audioSSRC: UInt32? = nil, videoDirection: String = "sendonly") -> String {
        var text = """
        v=0\r
        o=- 1 1 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0\(audioSSRC == nil ? "" : " 1")\r
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
        c=IN IP4 0.0.0.0\r
        a=mid:0\r
        a=ice-ufrag:\(ufrag)\r
        a=ice-pwd:\(password)\r
        a=fingerprint:sha-256 \(fingerprint)\r
        a=setup:actpass\r
        a=\(videoDirection)\r
        a=rtcp-mux\r
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
        a=rtpmap:96 VP8/90000\r
        a=rtcp-fb:96 nack\r
        a=rtcp-fb:96 nack pli\r
        a=rtpmap:97 rtx/90000\r
        a=fmtp:97 apt=96\r
        a=msid:alice-stream alice-video\r
        a=ssrc-group:FID \(ssrc) \(rtxSSRC)\r
        a=ssrc:\(ssrc) cname:alice\r
        a=ssrc:\(rtxSSRC) cname:alice\r

        """
        if let audioSSRC {
            text += """
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r
            c=IN IP4 0.0.0.0\r
            a=mid:1\r
            a=ice-ufrag:\(ufrag)\r
            a=ice-pwd:\(password)\r
            a=fingerprint:sha-256 \(fingerprint)\r
            a=setup:actpass\r
            a=sendonly\r
            a=rtcp-mux\r
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
            a=rtpmap:111 opus/48000/2\r
            a=msid:alice-stream alice-audio\r
            a=ssrc:\(audioSSRC) cname:alice\r

            """
        }
        return text
    }

    /// A browser-like answer to the SFU's subscriber offer: recvonly, setup active, our ICE
    /// credentials and certificate.
    func subscriberAnswer(to offer: SessionDescription, fingerprint override: String? = nil) -> String {
        var answer = offer
        answer.attributes.removeAll { $0.name == "ice-lite" || $0.name == "msid-semantic" }
        for index in answer.media.indices {
            answer.media[index].attributes = answer.media[index].attributes.compactMap { attribute in
                switch attribute.name {
                case "setup": SDPAttribute("setup", "active")
                case "ice-ufrag": SDPAttribute("ice-ufrag", ufrag)
                case "ice-pwd": SDPAttribute("ice-pwd", password)
                case "fingerprint": SDPAttribute("fingerprint", "sha-256 \(override ?? fingerprint)")
                case "sendonly": SDPAttribute("recvonly")
                case "ssrc", "ssrc-group", "msid", "candidate", "end-of-candidates": nil
                default: attribute
                }
            }
        }
        return answer.serialized()
    }

    func close() async {
        try? await channel.close()
    }
}

/// `#require` for values outside a test body.
func requireValue<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw Timeout(what: what) }
    return value
}

private final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let continuation: AsyncStream<[UInt8]>.Continuation
    init(_ continuation: AsyncStream<[UInt8]>.Continuation) { self.continuation = continuation }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}
