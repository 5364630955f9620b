import Testing
import NIOCore
import NIOPosix
import Logging
import ServiceLifecycle
import ControlPlaneWire
import SodiumWrapper
import Gossip
@testable import GossipNIO

/// `GossipService` in a `ServiceGroup` over real UDP/TCP on 127.0.0.1: it starts, joins
/// through a seed, and on graceful shutdown leaves, so the others see it as left (not dead).
@Suite(.serialized) struct GossipServiceTests {
    func node(_ i: Int, port: Int, seeds: [GossipEndpoint], settings: GossipSettings, group: any EventLoopGroup) throws -> GossipNode {
        let state = NodeStateMessage(nodeID: "svc-\(i)", address: "127.0.0.1", port: UInt32(port), region: "eu-de-fra",
                                     jurisdiction: "DE", certificate: nil, status: .alive, incarnation: 0, load: 0,
                                     capacity: 10, softwareVersion: "test", coordinate: nil)
        let instance = try SWIMInstance(localState: state, seeds: seeds, settings: settings, randomSeed: UInt64(i + 10), now: .zero)
        return GossipNode(instance: instance, keyring: Keyring(primary: .init(id: "k", key: Loopback.key(3))), group: group)
    }

    @Test func serviceJoinsAndLeavesGracefullyOnShutdown() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let settings = Loopback.fastSettings
        let ports = try await Loopback.freePorts(3, group: group)
        let seed = GossipEndpoint(host: "127.0.0.1", port: UInt16(ports[0]))
        let peers = [try node(0, port: ports[0], seeds: [], settings: settings, group: group),
                     try node(1, port: ports[1], seeds: [seed], settings: settings, group: group)]
        for (n, p) in zip(peers, ports) { try await n.start(host: "127.0.0.1", port: p) }

        let member = try node(2, port: ports[2], seeds: [seed], settings: settings, group: group)
        let services = ServiceGroup(configuration: .init(services: [GossipService(node: member, host: "127.0.0.1", port: ports[2])],
                                                         logger: Logger(label: "test.gossip-service")))
        let running = Task { try await services.run() }

        let joined = await Loopback.eventually(within: .seconds(10)) {
            for p in peers where await p.instance.members["svc-2"]?.status != .alive { return false }
            return await member.instance.liveMemberCount == 2
        }
        #expect(joined, "the service did not join")

        await services.triggerGracefulShutdown()
        try await running.value
        let left = await Loopback.eventually(within: .seconds(5)) {
            for p in peers where await p.instance.members["svc-2"]?.status != .left { return false }
            return true
        }
        #expect(left, "the others did not see the service leave")
        for p in peers { #expect(await p.instance.counters.membersDeclaredDead == 0) }
        // Its sockets are closed: the port can be bound again.
        let rebound = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: ports[2]).get()
        try await rebound.close()
        for p in peers { await p.stop() }
        try await group.shutdownGracefully()
    }
}
