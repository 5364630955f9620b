import Testing
import NIOCore
import NIOEmbedded
import NIOConcurrencyHelpers
@testable import GossipNIO

/// Each gossip channel handler alone in an `EmbeddedChannel` (STYLE.md §8): what it
/// passes on, what it writes, and that errors are forwarded, never swallowed.
@Suite struct GossipChannelHandlerTests {
    struct Probe: Error, Equatable {}

    func frame(_ bytes: [UInt8]) -> ByteBuffer { GossipFrame.encode(bytes, allocator: ByteBufferAllocator()) }

    @Test func datagramHandlerHandsOnBytesAndSourceAndForwardsErrors() throws {
        let received = NIOLockedValueBox<[([UInt8], SocketAddress)]>([])
        let channel = EmbeddedChannel(handler: GossipDatagramHandler { bytes, address in received.withLockedValue { $0.append((bytes, address)) } })
        let source = try SocketAddress(ipAddress: "10.0.0.7", port: 7946)
        var buffer = channel.allocator.buffer(capacity: 3)
        buffer.writeBytes([1, 2, 3])
        try channel.writeInbound(AddressedEnvelope(remoteAddress: source, data: buffer))
        let got = received.withLockedValue { $0 }
        #expect(got.count == 1 && got.first?.0 == [1, 2, 3] && got.first?.1 == source)
        channel.pipeline.fireErrorCaught(Probe())
        #expect(throws: Probe.self) { try channel.throwIfErrorCaught() }
        #expect(try channel.finish().isClean)
    }

    @Test func frameDecoderReassemblesSplitFramesAndSplitsCoalescedOnes() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(GossipFrameDecoder(maximumSize: 64)))
        // One frame delivered a byte at a time.
        for byte in frame([9, 8, 7, 6]).readableBytesView {
            var one = channel.allocator.buffer(capacity: 1)
            one.writeInteger(byte)
            try channel.writeInbound(one)
        }
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [9, 8, 7, 6])
        // Two frames (one empty) in one read.
        var two = frame([1])
        var second = frame([])
        two.writeBuffer(&second)
        try channel.writeInbound(two)
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [1])
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [])
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try channel.finish()
    }

    @Test func frameDecoderRefusesAnOversizeLengthBeforeBufferingIt() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(GossipFrameDecoder(maximumSize: 64)))
        var header = channel.allocator.buffer(capacity: 4)
        header.writeInteger(UInt32(65))
        #expect(throws: GossipTransportError.frameTooLarge(65, limit: 64)) { try channel.writeInbound(header) }
        _ = try? channel.finish()
    }

    @Test func serverHandlerAnswersOneRequestThenCloses() async throws {
        let requests = NIOLockedValueBox<[[UInt8]]>([])
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(PushPullServerHandler { request in
                requests.withLockedValue { $0.append(request) }
                return request.reversed()
            })
        }
        try await channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 1))
        var request = channel.allocator.buffer(capacity: 3)
        request.writeBytes([1, 2, 3])
        try await channel.writeInbound(request)
        // A second frame on the same connection is ignored: one request per connection.
        try await channel.writeInbound(request)
        let response = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(response.readableBytesView) == Array(frame([3, 2, 1]).readableBytesView))
        try await channel.closeFuture.get()
        #expect(requests.withLockedValue { $0 } == [[1, 2, 3]])
    }

    @Test func serverHandlerClosesWithoutAnswerWhenTheRequestIsRefused() async throws {
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(PushPullServerHandler { _ in nil })
        }
        try await channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 1))
        var request = channel.allocator.buffer(capacity: 1)
        request.writeBytes([0])
        try await channel.writeInbound(request)
        try await channel.closeFuture.get()
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func serverHandlerClosesAndForwardsAnError() throws {
        let channel = EmbeddedChannel(handler: PushPullServerHandler { _ in nil })
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 1)).wait()
        channel.pipeline.fireErrorCaught(GossipTransportError.frameTooLarge(99, limit: 1))
        #expect(throws: GossipTransportError.frameTooLarge(99, limit: 1)) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }

    /// A connected channel with a client handler and the promise it completes.
    func connectedClient() throws -> (EmbeddedChannel, EventLoopPromise<[UInt8]>) {
        let channel = EmbeddedChannel()
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        try channel.pipeline.syncOperations.addHandler(PushPullClientHandler(response: promise))
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 1)).wait()
        return (channel, promise)
    }

    @Test func clientHandlerCompletesWithTheFirstFrameAndCloses() throws {
        let (channel, promise) = try connectedClient()
        var response = channel.allocator.buffer(capacity: 2)
        response.writeBytes([4, 5])
        try channel.writeInbound(response)
        #expect(try promise.futureResult.wait() == [4, 5])
        #expect(!channel.isActive)
    }

    @Test func clientHandlerFailsWhenTheConnectionClosesFirst() throws {
        let (channel, promise) = try connectedClient()
        try channel.close().wait()
        #expect(throws: GossipTransportError.connectionClosed) { try promise.futureResult.wait() }
    }

    @Test func clientHandlerFailsAndForwardsAnError() throws {
        let (channel, promise) = try connectedClient()
        channel.pipeline.fireErrorCaught(Probe())
        #expect(throws: Probe.self) { try promise.futureResult.wait() }
        #expect(throws: Probe.self) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }
}
