public import ServiceLifecycle

/// Runs a `GossipNode` as a `Service` in the node's `ServiceGroup`: starts it,
/// and on graceful shutdown announces a leave before closing the sockets.
public struct GossipService: Service {
    public let node: GossipNode
    public let host: String
    public let port: Int

    public init(node: GossipNode, host: String, port: Int) {
        self.node = node
        self.host = host
        self.port = port
    }

    public func run() async throws {
        try await node.start(host: host, port: port)
        try? await gracefulShutdown()
        await node.leave()
        await node.stop()
    }
}
