import NIOCore

/// Forwards every received datagram, as bytes and source address, to `onDatagram`.
/// Single purpose: no parsing here (STYLE.md §8).
final class GossipDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let onDatagram: @Sendable ([UInt8], SocketAddress) -> Void

    init(onDatagram: @escaping @Sendable ([UInt8], SocketAddress) -> Void) { self.onDatagram = onDatagram }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        onDatagram(Array(envelope.data.readableBytesView), envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket error (ICMP unreachable and the like) concerns one datagram, not the channel.
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension GossipDatagramHandler: Sendable {}

/// Splits a TCP stream into frames of `u32 big-endian length || bytes`, refusing frames over `maximumSize`.
struct GossipFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maximumSize: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maximumSize else { throw GossipTransportError.frameTooLarge(Int(length), limit: maximumSize) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

enum GossipFrame {
    static func encode(_ bytes: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 4 + bytes.count)
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }
}

/// Server side of push-pull: hands the one request frame to `onRequest`, writes the
/// response frame it returns (if any) and closes the connection.
final class PushPullServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let onRequest: @Sendable ([UInt8]) async -> [UInt8]?
    private var answered = false

    init(onRequest: @escaping @Sendable ([UInt8]) async -> [UInt8]?) { self.onRequest = onRequest }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        let request = Array(unwrapInboundIn(data).readableBytesView)
        let channel = context.channel
        let onRequest = onRequest
        Task {
            if let response = await onRequest(request) {
                channel.writeAndFlush(GossipFrame.encode(response, allocator: channel.allocator), promise: nil)
            }
            channel.close(promise: nil)
        }
    }

    /// A bad frame (too large, or the peer reset): this connection is over; the error goes on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension PushPullServerHandler: Sendable {}

/// Client side of push-pull: completes `response` with the first frame received.
final class PushPullClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let response: EventLoopPromise<[UInt8]>

    init(response: EventLoopPromise<[UInt8]>) { self.response = response }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        response.succeed(Array(unwrapInboundIn(data).readableBytesView))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        response.fail(GossipTransportError.connectionClosed)
        context.fireChannelInactive()
    }

    /// Also reached when the connection never became active (refused): the promise
    /// must always be completed. Completing it twice is a no-op.
    func handlerRemoved(context: ChannelHandlerContext) {
        response.fail(GossipTransportError.connectionClosed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        response.fail(error)
        context.close(promise: nil)
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension PushPullClientHandler: Sendable {}

public enum GossipTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case frameTooLarge(Int, limit: Int)
    case connectionClosed
    case timedOut
    case notStarted
    case unresolvableAddress(String)

    public var description: String {
        switch self {
        case let .frameTooLarge(n, limit): "push-pull frame of \(n) bytes exceeds the \(limit)-byte limit"
        case .connectionClosed: "push-pull connection closed before a response arrived"
        case .timedOut: "push-pull timed out"
        case .notStarted: "the gossip node is not started"
        case let .unresolvableAddress(a): "cannot resolve gossip address \(a)"
        }
    }
}
