/// A host and port as written in plans and state files (`10.77.1.1:40001`).
public struct NetEndpoint: Codable, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One delaying UDP relay: clients send to `listen`; each datagram reaches `target`
/// after `forwardDelayMilliseconds`, and what `target` answers reaches the client after
/// `returnDelayMilliseconds`. The relay keeps one upstream socket per client, so the
/// target sees a distinct source per client and its replies find their way back.
public struct RelayRoute: Codable, Hashable, Sendable {
    /// Says what the route is for in logs and counters, e.g. `fra-1->iad-1 gossip`.
    public var name: String
    public var listen: NetEndpoint
    public var target: NetEndpoint
    public var forwardDelayMilliseconds: Double
    public var returnDelayMilliseconds: Double
    /// Percentage (0...100) of datagrams dropped at random in each direction.
    public var lossPercent: Int
    /// Datagrams waiting per direction before new ones are dropped.
    public var queueCapacity: Int

    public init(name: String, listen: NetEndpoint, target: NetEndpoint, forwardDelayMilliseconds: Double,
                returnDelayMilliseconds: Double, lossPercent: Int = 0, queueCapacity: Int = 4_096) {
        self.name = name
        self.listen = listen
        self.target = target
        self.forwardDelayMilliseconds = forwardDelayMilliseconds
        self.returnDelayMilliseconds = returnDelayMilliseconds
        self.lossPercent = lossPercent
        self.queueCapacity = queueCapacity
    }
}

/// What a relay has done, per direction (`forward`: client → target).
public struct RelayCounters: Hashable, Sendable, Codable {
    public var forward: DelayLineCounters
    public var `return`: DelayLineCounters
    /// Datagrams dropped because the relay already served its maximum number of clients.
    public var droppedTooManyClients: Int
    /// Datagrams the kernel refused to send (target unreachable and the like).
    public var sendErrors: Int
}
