public import NIOCore
import NIOPosix
import Synchronization

/// A minimal HTTP/1.1 GET (`Connection: close`, read to end of stream) for asking a
/// node whether it is up (`/healthz`) and whom it sees (`/v1/cluster`) without an HTTP
/// client dependency. Not a general client: no redirects, no TLS, no chunked bodies
/// beyond returning them raw.
public enum HTTPProbe {
    public struct Response: Sendable {
        public var status: Int
        public var body: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case malformedResponse(String)
        public var description: String {
            switch self { case let .malformedResponse(head): "not an HTTP response: \(head.prefix(80))" }
        }
    }

    /// GET on NIO's shared event loop group.
    public static func get(host: String, port: Int, path: String, headers: [String: String] = [:],
                           timeoutMilliseconds: Int64 = 2_000) async throws -> Response {
        try await get(host: host, port: port, path: path, headers: headers, timeout: .milliseconds(timeoutMilliseconds),
                      group: MultiThreadedEventLoopGroup.singleton)
    }

    public static func get(host: String, port: Int, path: String, headers: [String: String] = [:],
                           timeout: TimeAmount, group: any EventLoopGroup) async throws -> Response {
        let collector = ResponseCollector()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(ResponseReader(collector)) } }
            .connect(host: host, port: port).get()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        try await channel.closeFuture.get()
        deadline.cancel()
        let text = String(decoding: collector.bytes.withLock { $0 }, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let statusLine = parts[0].split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]) else { throw Failure.malformedResponse(statusLine) }
        return Response(status: status, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }
}

final class ResponseCollector: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

final class ResponseReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let collector: ResponseCollector
    init(_ collector: ResponseCollector) { self.collector = collector }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        collector.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension ResponseReader: Sendable {}
