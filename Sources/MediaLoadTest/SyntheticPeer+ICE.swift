import MediaCore
import MediaCrypto
public import MediaPackets
import NIOCore
import OpenSSLWrapper

/// Connecting a synthetic peer to a full-ICE server (Janus): both sides check, we answer
/// its checks for as long as the peer lives, and DTLS runs in the role the SDP negotiated.
extension SyntheticPeer {
    /// Full ICE toward `remote`'s candidates (plus `extraCandidates`, e.g. trickled), then the
    /// DTLS handshake in the role `remote`'s `a=setup` leaves us (`active` there: we are the
    /// DTLS server; `actpass`/`passive`: we are the client, RFC 8842 §5.2), then SRTP keys
    /// checked against `remote`'s fingerprint. Fails after `limit`.
    ///
    /// The ICE agent and the DTLS connection live in a channel handler on the peer's event
    /// loop (``FullICEHandler``), so Binding requests keep being answered during the run.
    public func connectFullICE(remote: SessionDescription, extraCandidates: [TransportAddress] = [], limit: Duration = .seconds(10)) async throws {
        let section = try requireValue(remote.media.first, "a media section in the server's SDP")
        let credentials = try requireValue(remote.iceCredentials(for: section), "ICE credentials in the server's SDP")
        let fingerprint = try requireValue(remote.fingerprint(for: section), "a fingerprint in the server's SDP")
        let candidates = remote.udpIPv4Candidates + extraCandidates.filter { !remote.udpIPv4Candidates.contains($0) }
        guard !candidates.isEmpty else { throw SyntheticPeerError("no UDP IPv4 candidate in the server's SDP") }
        let role: DTLSConnection.Role = (section.setup ?? remote.attribute("setup")) == "active" ? .server : .client
        let connection = try DTLSConnection(context: try DTLSContext(certificate: certificate, srtpProfiles: DTLSSRTP.offeredProfiles), role: role)
        let agent = ControllingICEAgent<ContinuousClock.Instant>(
            local: ICECredentials(ufrag: ufrag, password: password),
            remote: ICECredentials(ufrag: credentials.ufrag, password: credentials.password),
            candidates: candidates, tieBreaker: UInt64.random(in: 0...UInt64.max))
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Void.self)
        let handler = FullICEHandler(peer: self, agent: agent, dtls: connection, fingerprint: fingerprint, connected: promise)
        try await channel.pipeline.addHandler(handler, position: .first).get()
        let timeout = loop.scheduleTask(in: .nanoseconds(Int64(limit.components.seconds) * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000)) {
            promise.fail(SyntheticPeerError("timed out connecting to the server (\(handler.progress))"))
        }
        loop.execute { handler.start() }
        defer { timeout.cancel() }
        try await promise.futureResult.get()
    }

    /// ``subscriberAnswer(to:fingerprint:)`` for a server that also writes the transport at
    /// session level (Janus puts `a=fingerprint` there, and reads it from there first): the
    /// session-level ICE credentials, fingerprint and setup are ours too.
    public func fullICESubscriberAnswer(to offer: SessionDescription) throws -> String {
        var answer = try SessionDescription.parse(subscriberAnswer(to: offer))
        answer.attributes = answer.attributes.compactMap { attribute in
            switch attribute.name {
            case "setup": SDPAttribute("setup", "active")
            case "ice-ufrag": SDPAttribute("ice-ufrag", ufrag)
            case "ice-pwd": SDPAttribute("ice-pwd", password)
            case "fingerprint": SDPAttribute("fingerprint", "sha-256 \(fingerprint)")
            case "candidate", "end-of-candidates", "ice-options": nil
            default: attribute
            }
        }
        return answer.serialized()
    }

    /// This peer's socket as an `a=candidate` value, advertising `host` (the address the
    /// server can reach us at: our socket may be bound to 0.0.0.0).
    public func hostCandidate(host: String) -> String {
        "1 1 udp 2130706431 \(host) \(channel.localAddress?.port ?? 9) typ host"
    }
}

extension TransportAddress {
    init?(_ address: SocketAddress) {
        guard case .v4 = address, let ip = address.ipAddress, let port = address.port else { return nil }
        let octets = ip.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        self.init(address: octets, port: UInt16(port))
    }

    var socketAddress: SocketAddress? {
        guard isIPv4 else { return nil }
        return try? SocketAddress(ipAddress: address.map(String.init).joined(separator: "."), port: Int(port))
    }
}

/// The shell of a synthetic peer's full-ICE agent and DTLS connection: STUN and DTLS
/// datagrams stop here (answered or consumed on the event loop), RTP and RTCP go on to the
/// peer's collector. Ticks the agent and the DTLS retransmission timer every 20 ms.
final class FullICEHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias InboundOut = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Weak: the peer owns the channel that owns this handler.
    private weak var peer: SyntheticPeer?
    private var agent: ControllingICEAgent<ContinuousClock.Instant>
    private let dtls: DTLSConnection
    private let fingerprint: SDPFingerprint
    private let connected: EventLoopPromise<Void>
    private var context: ChannelHandlerContext?
    private var timer: RepeatedTask?
    private var selected: TransportAddress?
    private var finished = false
    private var heardFromServer = false
    private var initialFlight: [[UInt8]] = []
    private var initialFlightResends = 0
    private let clock = ContinuousClock()

    /// For error messages: how far ICE and DTLS got. Read on the event loop.
    var progress: String {
        "ICE " + (selected.map { "connected to \($0)" } ?? "checking as \(agent.role)") + ", DTLS \(dtls.role) \(dtls.state)"
    }

    init(peer: SyntheticPeer, agent: ControllingICEAgent<ContinuousClock.Instant>, dtls: DTLSConnection, fingerprint: SDPFingerprint,
         connected: EventLoopPromise<Void>) {
        self.peer = peer
        self.agent = agent
        self.dtls = dtls
        self.fingerprint = fingerprint
        self.connected = connected
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    /// On the event loop: the first checks, and the tick timer.
    func start() {
        perform(agent.start(now: clock.now))
        timer = context?.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { [weak self] _ in
            self?.tick()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let kind = envelope.data.readableBytesView.first.map { PacketClassifier.classify([$0]) } ?? .unknown
        switch kind {
        case .stun:
            guard let source = TransportAddress(envelope.remoteAddress) else { return }
            perform(agent.receive(Array(envelope.data.readableBytesView), from: source, now: clock.now))
        case .dtls:
            guard let source = TransportAddress(envelope.remoteAddress) else { return }
            receiveDTLS(Array(envelope.data.readableBytesView), from: source)
        default:
            context.fireChannelRead(data)
        }
    }

    private func tick() {
        perform(agent.tick(now: clock.now))
        guard !dtls.isHandshakeComplete, !finished else { return }
        // The server may drop a ClientHello that arrives before its own ICE agent selected the
        // pair (Janus creates its DTLS context only then); resend it until it answers rather
        // than wait for OpenSSL's first 1 s retransmission.
        if let selected, !heardFromServer, !initialFlight.isEmpty, initialFlightResends < 50 {
            initialFlightResends += 1
            for datagram in initialFlight { write(datagram, to: selected) }
        }
        if dtls.retransmissionTimeout == .zero {
            do { try dtls.handleTimeout() } catch { fail(error) }
            flushDTLS(to: selected)
        }
    }

    private func perform(_ directives: [FullICEDirective]) {
        for directive in directives {
            switch directive {
            case .send(let bytes, let address):
                write(bytes, to: address)
            case .connected(let address):
                selected = address
                peer?.server = address.socketAddress
                if dtls.role == .client, !finished {
                    do { try dtls.start() } catch { fail(error) }
                    initialFlight = dtls.takeOutgoingDatagrams()
                    for datagram in initialFlight { write(datagram, to: address) }
                }
            case .roleSwitchedToControlled:
                break
            case .failed:
                fail(SyntheticPeerError("no answer to ICE checks from any of the server's candidates"))
            }
        }
    }

    private func receiveDTLS(_ datagram: [UInt8], from source: TransportAddress) {
        heardFromServer = true
        do {
            _ = try dtls.receive(datagram)
        } catch {
            fail(error)
            return
        }
        flushDTLS(to: selected ?? source)
        guard dtls.isHandshakeComplete, !finished else { return }
        guard let peer else { return }
        do {
            peer.srtp = try DTLSSRTP.establish(dtls, peerFingerprint: fingerprint)
            if peer.server == nil { peer.server = (selected ?? source).socketAddress }
            finished = true
            connected.succeed(())
        } catch {
            fail(error)
        }
    }

    private func flushDTLS(to address: TransportAddress?) {
        let datagrams = dtls.takeOutgoingDatagrams()
        guard let address else { return }
        for datagram in datagrams { write(datagram, to: address) }
    }

    private func write(_ bytes: [UInt8], to address: TransportAddress) {
        guard let context, let remote = address.socketAddress else { return }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: bytes))),
                              promise: nil)
    }

    private func fail(_ error: any Error) {
        guard !finished else { return }
        finished = true
        connected.fail(error)
    }
}
