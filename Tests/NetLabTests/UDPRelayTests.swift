import DemarcTestSupport
import NetLab
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The relay on 127.0.0.1: an echo server behind it, a client in front. Asserts lower
/// bounds on arrival times (a loaded machine may be slow, never early).
@Suite(.serialized) struct UDPRelayTests {
    /// A UDP socket on 127.0.0.1 that records what it receives (and optionally echoes it).
    final class Endpoint: Sendable {
        let channel: any Channel

        init(group: any EventLoopGroup, echo: Bool) async throws {
            let recorder = Recorder(echo: echo)
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(RecorderHandler(recorder)) } }
                .bind(host: "127.0.0.1", port: 0).get()
            self.recorder = recorder
        }

        let recorder: Recorder
        var port: Int { channel.localAddress!.port! }
        var log: [(bytes: [UInt8], at: UInt64)] { recorder.log.withLock { $0 } }

        func send(_ bytes: [UInt8], to port: Int) async throws {
            let to = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: ByteBuffer(bytes: bytes))).get()
        }
    }

    final class Recorder: Sendable {
        let echo: Bool
        let log = Mutex<[(bytes: [UInt8], at: UInt64)]>([])
        init(echo: Bool) { self.echo = echo }
    }

    final class RecorderHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let recorder: Recorder
        init(_ recorder: Recorder) { self.recorder = recorder }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let now = NIODeadline.now().uptimeNanoseconds
            recorder.log.withLock { $0.append((Array(envelope.data.readableBytesView), now)) }
            if recorder.echo { context.writeAndFlush(wrapOutboundOut(envelope), promise: nil) }
        }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func waitUntil(_ seconds: Double, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while await !condition() {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    @Test func datagramsArriveNoEarlierThanTheirDelayInTheOrderSent() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Endpoint(group: group, echo: true)
        let client = try await Endpoint(group: group, echo: false)
        let route = RelayRoute(name: "test", listen: .init(host: "127.0.0.1", port: 0), target: .init(host: "127.0.0.1", port: server.port),
                               forwardDelayMilliseconds: 40, returnDelayMilliseconds: 25)
        let relay = UDPRelay(route: route, eventLoop: group.next(), random: SeededGenerator(seed: 7))
        let port = try await relay.start()

        var sentAt: [UInt64] = []
        for i in 0..<20 {
            sentAt.append(NIODeadline.now().uptimeNanoseconds)
            try await client.send([UInt8(i)], to: port)
        }
        #expect(try await Self.waitUntil(10) { client.log.count == 20 }, "only \(client.log.count) of 20 echoes came back")

        let atServer = server.log, atClient = client.log
        #expect(atServer.map(\.bytes) == (0..<20).map { [UInt8($0)] }, "forward order")
        #expect(atClient.map(\.bytes) == (0..<20).map { [UInt8($0)] }, "return order")
        for i in 0..<20 {
            let oneWay = Double(atServer[i].at - sentAt[i]) / 1e6, roundTrip = Double(atClient[i].at - sentAt[i]) / 1e6
            #expect(oneWay >= 40, "datagram \(i) reached the target after \(oneWay) ms, before its 40 ms delay")
            #expect(roundTrip >= 65, "datagram \(i) came back after \(roundTrip) ms, before 40 + 25 ms")
        }
        let c = try await relay.counters()
        #expect(c.forward.received == 20 && c.forward.forwarded == 20 && c.return.forwarded == 20)
        #expect(c.forward.droppedByLoss == 0 && c.sendErrors == 0)

        await relay.stop()
        try await server.channel.close()
        try await client.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func lossIsCountedAndEveryForwardedDatagramArrives() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Endpoint(group: group, echo: false)
        let client = try await Endpoint(group: group, echo: false)
        let route = RelayRoute(name: "lossy", listen: .init(host: "127.0.0.1", port: 0), target: .init(host: "127.0.0.1", port: server.port),
                               forwardDelayMilliseconds: 1, returnDelayMilliseconds: 1, lossPercent: 30)
        let relay = UDPRelay(route: route, eventLoop: group.next(), random: SeededGenerator(seed: 11))
        let port = try await relay.start()
        let total = 400
        // In batches the relay has taken in before the next, so the kernel drops nothing
        // on a loaded machine and every drop counted is the relay's.
        for batch in stride(from: 0, to: total, by: 20) {
            for i in batch..<(batch + 20) { try await client.send([UInt8(i & 0xFF), UInt8(i >> 8)], to: port) }
            let taken = try await Self.waitUntil(10) { ((try? await relay.counters().forward.received) ?? 0) == batch + 20 }
            #expect(taken, "the relay did not receive datagrams \(batch)..<\(batch + 20)")
        }

        var counters = try await relay.counters()
        let settled = try await Self.waitUntil(10) {
            guard let c = try? await relay.counters() else { return false }
            counters = c
            // Every datagram decided (a received one may still sit in the 1 ms delay queue) and every forwarded one arrived.
            return c.forward.received == total && c.forward.droppedByLoss + c.forward.forwarded == total && server.log.count == c.forward.forwarded
        }
        #expect(settled, "received \(counters.forward.received), forwarded \(counters.forward.forwarded), arrived \(server.log.count)")
        #expect(counters.forward.droppedByLoss + counters.forward.forwarded == total)
        #expect((80...160).contains(counters.forward.droppedByLoss), "\(counters.forward.droppedByLoss) of \(total) lost at 30 %")
        let order = server.log.map { Int($0.bytes[0]) | Int($0.bytes[1]) << 8 }
        #expect(order == order.sorted(), "loss must not reorder")

        await relay.stop()
        try await server.channel.close()
        try await client.channel.close()
        try await group.shutdownGracefully()
    }
}
