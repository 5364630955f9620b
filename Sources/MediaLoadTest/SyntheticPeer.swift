public import MediaCrypto
public import MediaPackets
public import NIOCore
import NIOPosix
import MediaCore
public import OpenSSLWrapper

/// Why a synthetic peer gave up.
public struct SyntheticPeerError: Error, CustomStringConvertible {
    public var what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "synthetic peer: \(what)" }
}

/// Awaits `body`, failing after `limit` (a deadline, not a sleep): how the load test and
/// the media tests wait for something to happen.
public func within<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw SyntheticPeerError("timed out waiting for \(what)") }
        return value
    }
}

/// A minimal WebRTC endpoint for load tests and for testing the media shell without a
/// browser: a full ICE agent's Binding request (controlling, USE-CANDIDATE), a DTLS client
/// and SRTP, over a real UDP socket. Built from the project's own protocol layers.
/// Used by one task at a time (its SRTP contexts are not thread-safe).
public final class SyntheticPeer: @unchecked Sendable {
    public let channel: any Channel
    public let datagrams: AsyncStream<[UInt8]>
    public let ufrag: String
    public let password: String
    public let certificate: ECDSACertificate
    public let dtls: DTLSConnection
    public var server: SocketAddress?
    public var srtp: SRTPSession?

    public static func make(host: String = "127.0.0.1") async throws -> SyntheticPeer {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(continuation)) }
            }
            .bind(host: host, port: 0).get()
        return try SyntheticPeer(channel: channel, datagrams: stream, continuation: continuation)
    }

    private let continuation: AsyncStream<[UInt8]>.Continuation

    private init(channel: any Channel, datagrams: AsyncStream<[UInt8]>, continuation: AsyncStream<[UInt8]>.Continuation) throws {
        self.channel = channel
        self.datagrams = datagrams
        self.continuation = continuation
        let credentials = ICECredentials.random()
        ufrag = credentials.ufrag
        password = credentials.password
        certificate = try ECDSACertificate(commonName: "synthetic-peer")
        dtls = try DTLSConnection(context: try DTLSContext(certificate: certificate, srtpProfiles: DTLSSRTP.offeredProfiles), role: .client)
    }

    public var fingerprint: String { (try? certificate.fingerprint()) ?? "" }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server!, data: channel.allocator.buffer(bytes: bytes)))
    }

    /// The next datagram `accept` takes (others are skipped), within `limit`.
    public func receive<T: Sendable>(_ what: String, limit: Duration = .seconds(10), _ accept: @escaping @Sendable ([UInt8]) -> T?) async throws -> T {
        let stream = datagrams
        return try await within(limit, what) {
            for await datagram in stream {
                if let value = accept(datagram) { return value }
            }
            throw SyntheticPeerError(what)
        }
    }

    /// The next SRTCP compound that authenticates, decoded, for which `accept` says yes.
    public func receiveRTCP<T: Sendable>(_ what: String, _ accept: @escaping @Sendable ([RTCPPacket]) -> T?) async throws -> T {
        try await receive(what) { [self] datagram in
            guard PacketClassifier.classify(datagram) == .rtcp, let srtp else { return nil }
            var packet = datagram
            guard (try? srtp.inbound.unprotectRTCP(&packet)) != nil, let packets = try? RTCPCompound.parse(packet) else { return nil }
            return accept(packets)
        }
    }

    /// The next SRTP packet that authenticates, unprotected.
    public func receiveRTP(_ what: String) async throws -> [UInt8] {
        try await receive(what) { [self] datagram in
            guard PacketClassifier.classify(datagram) == .rtp, let srtp else { return nil }
            var packet = datagram
            return (try? srtp.inbound.unprotectRTP(&packet)) != nil ? packet : nil
        }
    }

    /// ICE (one Binding request, nominating) then the DTLS handshake as client, then SRTP
    /// keys checked against the SFU's fingerprint from `remote` (its answer or offer).
    public func connect(port: Int, remote: SessionDescription, host: String = "127.0.0.1") async throws {
        server = try SocketAddress(ipAddress: host, port: port)
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
        guard response.type == .bindingSuccess else { throw SyntheticPeerError("a Binding success (got \(response.type))") }

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
    public func publisherOffer(ssrc: UInt32, rtxSSRC: UInt32, audioSSRC: UInt32? = nil, videoDirection: String = "sendonly") -> String {
        // Every section names the one bundled transport (RFC 8843 §7.1).
        let transport = "a=ice-ufrag:\(ufrag)\r\na=ice-pwd:\(password)\r\na=fingerprint:sha-256 \(fingerprint)\r\na=setup:actpass\r\na=rtcp-mux\r\n"
        var text = """
        v=0\r
        o=- 1 1 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0\(audioSSRC == nil ? "" : " 1")\r
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
        c=IN IP4 0.0.0.0\r
        a=mid:0\r
        \(transport)a=\(videoDirection)\r
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
            \(transport)a=sendonly\r
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
            a=rtpmap:111 opus/48000/2\r
            a=msid:alice-stream alice-audio\r
            a=ssrc:\(audioSSRC) cname:alice\r

            """
        }
        return text
    }

    /// An offer like Chromium's for simulcast (RFC 8853): one VP8 section sending rids `l`,
    /// `m`, `h` (lowest first) announced by the mid and rid header extensions rather than
    /// `a=ssrc` lines, plus an Opus section with a signaled SSRC.
    public func simulcastPublisherOffer(audioSSRC: UInt32) -> String {
        let transport = "a=ice-ufrag:\(ufrag)\r\na=ice-pwd:\(password)\r\na=fingerprint:sha-256 \(fingerprint)\r\na=setup:actpass\r\na=rtcp-mux\r\n"
        return """
        v=0\r
        o=- 1 1 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0 1\r
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
        c=IN IP4 0.0.0.0\r
        a=mid:0\r
        \(transport)a=sendonly\r
        a=extmap:\(SentStream.midExtensionID) urn:ietf:params:rtp-hdrext:sdes:mid\r
        a=extmap:\(SentStream.ridExtensionID) urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r
        a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r
        a=rtpmap:96 VP8/90000\r
        a=rtcp-fb:96 nack\r
        a=rtcp-fb:96 nack pli\r
        a=rtpmap:97 rtx/90000\r
        a=fmtp:97 apt=96\r
        a=msid:alice-stream alice-video\r
        a=rid:l send\r
        a=rid:m send\r
        a=rid:h send\r
        a=simulcast:send l;m;h\r
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r
        c=IN IP4 0.0.0.0\r
        a=mid:1\r
        \(transport)a=sendonly\r
        a=extmap:\(SentStream.midExtensionID) urn:ietf:params:rtp-hdrext:sdes:mid\r
        a=rtpmap:111 opus/48000/2\r
        a=msid:alice-stream alice-audio\r
        a=ssrc:\(audioSSRC) cname:alice\r

        """
    }

    /// A browser-like answer to the SFU's subscriber offer: recvonly, setup active, our ICE
    /// credentials and certificate.
    public func subscriberAnswer(to offer: SessionDescription, fingerprint override: String? = nil) -> String {
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

    /// Ends ``datagrams`` (what is already queued is still delivered).
    public func stopReceiving() { continuation.finish() }

    public func close() async {
        try? await channel.close()
    }
}

/// The value, or an error naming what was missing.
func requireValue<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw SyntheticPeerError(what) }
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
