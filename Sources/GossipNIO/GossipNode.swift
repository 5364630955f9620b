public import Gossip
public import ControlPlaneWire
public import NIOCore
import NIOPosix
public import Logging
import Foundation

/// The gossip shell: owns one `SWIMInstance` and one `PacketSecurity`, binds a
/// UDP socket (probes, acks, gossip) and a TCP listener (push-pull) on the same
/// port, and performs the instance's directives. Nothing clever lives here
/// (STYLE.md §2): every decision is the instance's.
public actor GossipNode {
    public private(set) var instance: SWIMInstance
    public private(set) var security: PacketSecurity
    /// Datagrams and frames dropped because sealing/opening failed (also in `security.counters`).
    public private(set) var transportErrors = 0
    private let group: any EventLoopGroup
    private let logger: Logger
    private let origin = ContinuousClock.now
    private var udp: (any Channel)?
    private var tcp: (any Channel)?
    private var timer: Task<Void, Never>?
    private var armedAt: GossipInstant?
    private var inbound: AsyncStream<([UInt8], SocketAddress)>.Continuation?
    private var inboundTask: Task<Void, Never>?
    private var resolved: [GossipEndpoint: SocketAddress] = [:]
    private var onChange: (@Sendable (MembershipChange) -> Void)?

    public static let pushPullTimeout: TimeAmount = .seconds(5)

    public init(instance: SWIMInstance, keyring: Keyring, group: any EventLoopGroup, logger: Logger = Logger(label: "demarc.gossip")) {
        self.instance = instance
        self.group = group
        self.logger = logger
        let epoch = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        security = PacketSecurity(keyring: keyring, localNodeID: instance.localNodeID, epoch: epoch)
    }

    /// Called for every membership change, on the actor.
    public func onMembershipChange(_ body: @escaping @Sendable (MembershipChange) -> Void) { onChange = body }

    // MARK: Lifecycle

    /// Binds UDP and TCP on `host:port` (port 0 picks one; the UDP port is then reused for TCP)
    /// and joins through the seeds. Returns the bound port.
    @discardableResult
    public func start(host: String, port: Int) async throws -> Int {
        let (stream, continuation) = AsyncStream.makeStream(of: ([UInt8], SocketAddress).self, bufferingPolicy: .bufferingNewest(4_096))
        inbound = continuation
        let vector = 16
        let udp = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: vector)
            // With vector reads the buffer is split across messages (PLATFORM-NOTES): 2 KiB each.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vector * 2_048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GossipDatagramHandler { bytes, address in
                        continuation.yield((bytes, address))
                    })
                }
            }
            .bind(host: host, port: port).get()
        let boundPort = udp.localAddress?.port ?? port
        // The listener holds the node until `stop()` closes it.
        let node = self
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(GossipFrameDecoder(maximumSize: PacketEnvelope.maximumFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(PushPullServerHandler { request in
                        await node.handlePushPullRequest(request)
                    })
                }
            }
            .bind(host: host, port: boundPort).get()
        self.udp = udp
        self.tcp = server
        inboundTask = Task { [weak self] in
            for await (bytes, address) in stream { await self?.handleDatagram(bytes, from: address) }
        }
        perform(instance.start(now: now()))
        logger.info("gossip listening", metadata: ["node": "\(instance.localNodeID)", "port": "\(boundPort)"])
        return boundPort
    }

    /// Announces a graceful leave and waits (at most `timeout`) for it to be disseminated.
    public func leave(timeout: Duration = .seconds(2)) async {
        perform(instance.leave(now: now()))
        let deadline = ContinuousClock.now + timeout
        while instance.pendingBroadcasts > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: instance.settings.dissemination.gossipInterval)
        }
    }

    /// Closes both sockets and stops the timer. Idempotent.
    public func stop() async {
        timer?.cancel()
        timer = nil
        inbound?.finish()
        inboundTask?.cancel()
        if let udp { try? await udp.close() }
        if let tcp { try? await tcp.close() }
        udp = nil
        tcp = nil
    }

    // MARK: Operations

    /// Rotates keys: install, make primary, remove — see `Keyring`.
    public func updateKeyring(_ change: (inout Keyring) throws -> Void) rethrows {
        try change(&security.keyring)
    }

    public func updateLocalState(_ change: (inout NodeStateMessage) -> Void) throws(GossipError) {
        perform(try instance.updateLocalState(now: now(), change))
    }

    public func clusterView(builder: inout ClusterViewBuilder, nowUnix: Int64) -> ClusterView {
        builder.build(from: instance, nowUnix: nowUnix)
    }

    // MARK: Events

    func now() -> GossipInstant {
        let d = ContinuousClock.now - origin
        let (s, a) = d.components
        return GossipInstant(nanoseconds: s * 1_000_000_000 + a / 1_000_000_000)
    }

    private var unixMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func handleDatagram(_ bytes: [UInt8], from address: SocketAddress) {
        guard let host = address.ipAddress, let port = address.port else { return }
        let packet: GossipPacketMessage
        do { packet = try security.open(bytes, nowUnixMilliseconds: unixMilliseconds) } catch {
            logger.debug("dropped gossip datagram", metadata: ["from": "\(address)", "reason": "\(error)"])
            return
        }
        perform(instance.receive(packet, from: GossipEndpoint(host: host, port: UInt16(clamping: port)), now: now()))
    }

    private func handlePushPullRequest(_ bytes: [UInt8]) -> [UInt8]? {
        let packet: GossipPacketMessage
        do { packet = try security.open(bytes, nowUnixMilliseconds: unixMilliseconds) } catch {
            logger.debug("dropped push-pull request", metadata: ["reason": "\(error)"])
            return nil
        }
        let (response, directives) = instance.receivePushPullRequest(packet, now: now())
        perform(directives)
        do { return try security.seal(response, nowUnixMilliseconds: unixMilliseconds, maximumSize: PacketEnvelope.maximumFrameSize) } catch {
            transportErrors += 1
            return nil
        }
    }

    private func tick() {
        armedAt = nil
        perform(instance.tick(now: now()))
    }

    // MARK: Directives

    private func perform(_ directives: [GossipDirective]) {
        for directive in directives {
            switch directive {
            case let .send(packet, endpoint):
                sendDatagram(packet, to: endpoint)
            case let .pushPull(packet, endpoint):
                startPushPull(packet, to: endpoint)
            case let .membershipChanged(change):
                logger.info("membership changed", metadata: [
                    "member": "\(change.nodeID)", "from": "\(change.previousStatus?.rawValue ?? "unknown")",
                    "to": "\(change.status?.rawValue ?? "reaped")", "incarnation": "\(change.incarnation)",
                ])
                onChange?(change)
            case .memberStateUpdated:
                break
            }
        }
        rearm()
    }

    private func rearm() {
        let next = instance.nextWakeup
        if let armedAt, armedAt <= next { return }
        timer?.cancel()
        armedAt = next
        let delay = max(0, next.nanoseconds - now().nanoseconds)
        timer = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.tick()
        }
    }

    private func address(_ endpoint: GossipEndpoint) -> SocketAddress? {
        if let a = resolved[endpoint] { return a }
        let a = (try? SocketAddress(ipAddress: endpoint.host, port: Int(endpoint.port)))
            ?? (try? SocketAddress.makeAddressResolvingHost(endpoint.host, port: Int(endpoint.port)))
        if resolved.count > 10_000 { resolved.removeAll() }
        resolved[endpoint] = a
        return a
    }

    private func sendDatagram(_ packet: GossipPacketMessage, to endpoint: GossipEndpoint) {
        guard let udp, let remote = address(endpoint) else { return }
        do {
            let bytes = try security.seal(packet, nowUnixMilliseconds: unixMilliseconds,
                                          maximumSize: instance.settings.dissemination.maximumPacketSize)
            var buffer = udp.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            udp.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        } catch {
            transportErrors += 1
            logger.error("gossip packet not sent", metadata: ["to": "\(endpoint)", "reason": "\(error)"])
        }
    }

    private func startPushPull(_ packet: GossipPacketMessage, to endpoint: GossipEndpoint) {
        guard let remote = address(endpoint) else { instance.pushPullFailed(to: endpoint, now: now()); return }
        let request: [UInt8]
        do { request = try security.seal(packet, nowUnixMilliseconds: unixMilliseconds, maximumSize: PacketEnvelope.maximumFrameSize) } catch {
            transportErrors += 1
            return
        }
        let group = group
        Task { [weak self] in
            do {
                let response = try await Self.exchange(request, with: remote, group: group)
                await self?.pushPullCompleted(response, from: endpoint)
            } catch {
                await self?.pushPullFailed(endpoint, error: error)
            }
        }
    }

    private func pushPullCompleted(_ bytes: [UInt8], from endpoint: GossipEndpoint) {
        do {
            let packet = try security.open(bytes, nowUnixMilliseconds: unixMilliseconds)
            perform(instance.receivePushPullResponse(packet, now: now()))
        } catch {
            logger.debug("dropped push-pull response", metadata: ["from": "\(endpoint)", "reason": "\(error)"])
        }
    }

    private func pushPullFailed(_ endpoint: GossipEndpoint, error: any Error) {
        logger.debug("push-pull failed", metadata: ["peer": "\(endpoint)", "reason": "\(error)"])
        instance.pushPullFailed(to: endpoint, now: now())
    }

    /// One TCP push-pull: connect, send the request frame, read one response frame.
    static func exchange(_ request: [UInt8], with remote: SocketAddress, group: any EventLoopGroup) async throws -> [UInt8] {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let connecting = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(GossipFrameDecoder(maximumSize: PacketEnvelope.maximumFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(PushPullClientHandler(response: promise))
                }
            }
            .connect(to: remote)
        let channel: any Channel
        do { channel = try await connecting.get() } catch {
            promise.fail(error)
            throw error
        }
        let timeout = loop.scheduleTask(in: pushPullTimeout) {
            promise.fail(GossipTransportError.timedOut)
            channel.close(promise: nil)
        }
        channel.writeAndFlush(GossipFrame.encode(request, allocator: channel.allocator), promise: nil)
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }
}
