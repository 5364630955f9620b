public import NIOCore
import NIOPosix

/// The NIO shell around two `DelayLine`s: binds `route.listen`, and for every client
/// that sends to it an upstream socket towards `route.target`. Every piece of state is
/// confined to one event loop (`eventLoop`); the public methods hop onto it.
///
/// Used by `demarc cluster relay` (a topology's latency between nodes in network
/// namespaces) and by tests that need a slow or lossy link on 127.0.0.1.
public final class UDPRelay: @unchecked Sendable {
    public let route: RelayRoute
    public let eventLoop: any EventLoop
    /// Clients served at most; datagrams from more are dropped and counted.
    public static let maximumClients = 256

    private enum Upstream {
        case binding(waiting: [ByteBuffer])
        case ready(any Channel)
    }

    private struct Packet { var client: SocketAddress; var data: ByteBuffer }

    // Event-loop confined.
    private var forward: DelayLine<Packet, AnyRandom>
    private var back: DelayLine<Packet, AnyRandom>
    private var forwardTimer: Scheduled<Void>?
    private var backTimer: Scheduled<Void>?
    private var listener: (any Channel)?
    private var upstreams: [SocketAddress: Upstream] = [:]
    private var target: SocketAddress?
    private var droppedTooManyClients = 0
    private var sendErrors = 0
    private var closed = false

    /// - Parameter random: decides loss; pass a seeded generator for reproducible tests.
    public init(route: RelayRoute, eventLoop: any EventLoop, random: some RandomNumberGenerator & Sendable) {
        self.route = route
        self.eventLoop = eventLoop
        let shared = AnyRandom(random)
        forward = DelayLine(delayNanoseconds: Self.nanoseconds(route.forwardDelayMilliseconds), lossPercent: route.lossPercent,
                            capacity: route.queueCapacity, random: shared)
        back = DelayLine(delayNanoseconds: Self.nanoseconds(route.returnDelayMilliseconds), lossPercent: route.lossPercent,
                         capacity: route.queueCapacity, random: shared)
    }

    static func nanoseconds(_ milliseconds: Double) -> Int64 { Int64((max(0, milliseconds) * 1_000_000).rounded()) }

    /// Binds the listening socket; returns the port it is bound to (useful with port 0).
    public func start() async throws -> Int {
        let target = try SocketAddress.makeAddressResolvingHost(route.target.host, port: route.target.port)
        try await eventLoop.submit { [self] in self.target = target }.get()
        let channel = try await bootstrap { [self] envelope in self.fromClient(envelope) }
            .bind(host: route.listen.host, port: route.listen.port).get()
        try await eventLoop.submit { [self] in self.listener = channel }.get()
        guard let port = channel.localAddress?.port else { throw NetLabError.relayNotBound(route.name) }
        return port
    }

    /// Closes every socket and drops whatever is still queued. Idempotent.
    public func stop() async {
        let channels: [any Channel] = (try? await eventLoop.submit { [self] () -> [any Channel] in
            self.closed = true
            self.forwardTimer?.cancel()
            self.backTimer?.cancel()
            var all: [any Channel] = self.listener.map { [$0] } ?? []
            for case let .ready(c) in self.upstreams.values { all.append(c) }
            self.listener = nil
            self.upstreams = [:]
            return all
        }.get()) ?? []
        for c in channels { try? await c.close() }
    }

    public func counters() async throws -> RelayCounters {
        try await eventLoop.submit { [self] in
            RelayCounters(forward: self.forward.counters, return: self.back.counters,
                          droppedTooManyClients: self.droppedTooManyClients, sendErrors: self.sendErrors)
        }.get()
    }

    // MARK: Event loop

    private func bootstrap(_ onRead: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) -> DatagramBootstrap {
        DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // The default 208 KiB drops bursts (PLATFORM-NOTES); 4 MiB is this kernel's maximum.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramReader(onRead)) }
            }
    }

    private var now: Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    private func fromClient(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard !closed else { return }
        let client = envelope.remoteAddress
        if upstreams[client] == nil {
            guard upstreams.count < Self.maximumClients else { droppedTooManyClients += 1; return }
            upstreams[client] = .binding(waiting: [])
            let host = route.listen.host
            bootstrap { [self] reply in self.fromTarget(reply, client: client) }
                .bind(host: host, port: 0)
                .whenComplete { [self] result in self.upstreamBound(result, client: client) }
        }
        if case .queued = forward.arrive(Packet(client: client, data: envelope.data), now: now) { armForward() }
    }

    private func fromTarget(_ envelope: AddressedEnvelope<ByteBuffer>, client: SocketAddress) {
        guard !closed else { return }
        if case .queued = back.arrive(Packet(client: client, data: envelope.data), now: now) { armBack() }
    }

    private func upstreamBound(_ result: Result<any Channel, any Error>, client: SocketAddress) {
        guard case let .binding(waiting) = upstreams[client] else { return }
        switch result {
        case let .success(channel):
            if closed { channel.close(promise: nil); return }
            upstreams[client] = .ready(channel)
            for data in waiting { send(data, on: channel) }
        case .failure:
            sendErrors += waiting.count
            upstreams[client] = nil
        }
    }

    private func armForward() {
        guard forwardTimer == nil, let at = forward.nextRelease else { return }
        forwardTimer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, at)))) { [self] in
            self.forwardTimer = nil
            for packet in self.forward.release(now: self.now) {
                switch self.upstreams[packet.client] {
                case let .ready(channel): self.send(packet.data, on: channel)
                case let .binding(waiting): self.upstreams[packet.client] = .binding(waiting: waiting + [packet.data])
                case nil: self.sendErrors += 1
                }
            }
            self.armForward()
        }
    }

    private func armBack() {
        guard backTimer == nil, let at = back.nextRelease else { return }
        backTimer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, at)))) { [self] in
            self.backTimer = nil
            for packet in self.back.release(now: self.now) {
                guard let listener = self.listener else { continue }
                listener.writeAndFlush(AddressedEnvelope(remoteAddress: packet.client, data: packet.data)).whenFailure { [self] _ in
                    self.sendErrors += 1
                }
            }
            self.armBack()
        }
    }

    private func send(_ data: ByteBuffer, on channel: any Channel) {
        guard let target else { sendErrors += 1; return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: data)).whenFailure { [self] _ in self.sendErrors += 1 }
    }
}

/// Hands every datagram to a closure. Errors go on down the pipeline (a datagram
/// channel stays open after one, e.g. an ICMP port unreachable).
final class DatagramReader: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onRead: @Sendable (AddressedEnvelope<ByteBuffer>) -> Void

    init(_ onRead: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) { self.onRead = onRead }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onRead(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension DatagramReader: Sendable {}

/// One generator shared by both directions of a relay (a class, so both draw from the
/// same sequence); used only on the relay's event loop.
final class AnyRandom: RandomNumberGenerator, @unchecked Sendable {
    private var base: any RandomNumberGenerator
    init(_ base: some RandomNumberGenerator) { self.base = base }
    func next() -> UInt64 { base.next() }
}
