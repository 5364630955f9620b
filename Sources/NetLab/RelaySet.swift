public import NIOCore
import NIOPosix

/// Every relay of a lab in one process, on one event loop group: what
/// `demarc cluster relay` runs inside the hub namespace.
public final class RelaySet: Sendable {
    public let relays: [UDPRelay]

    /// - Parameter random: the loss generator for relay `i` (seed it for reproducible loss).
    public init(routes: [RelayRoute], group: any EventLoopGroup, random: (Int) -> any RandomNumberGenerator & Sendable) {
        relays = routes.enumerated().map { i, route in
            UDPRelay(route: route, eventLoop: group.next(), random: random(i))
        }
    }

    /// On NIO's shared event loop group (one process running a lab's relays).
    public convenience init(routes: [RelayRoute], random: (Int) -> any RandomNumberGenerator & Sendable) {
        self.init(routes: routes, group: MultiThreadedEventLoopGroup.singleton, random: random)
    }

    /// Binds every relay; on a failure closes those already bound and rethrows.
    public func start() async throws {
        for (i, relay) in relays.enumerated() {
            do { _ = try await relay.start() } catch {
                for r in relays[...i] { await r.stop() }
                throw error
            }
        }
    }

    public func stop() async {
        for r in relays { await r.stop() }
    }
}
