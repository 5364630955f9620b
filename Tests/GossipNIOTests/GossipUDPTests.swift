import Testing
import NIOCore
import NIOPosix
import ControlPlaneWire
import SodiumWrapper
import Gossip
@testable import GossipNIO

/// Real UDP and TCP on 127.0.0.1: several members, one killed, a key rotation during traffic.
@Suite(.serialized) struct GossipUDPTests {
    @Test func membersOnLoopbackDetectAKilledMemberAndSurviveKeyRotation() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var settings = Loopback.fastSettings
        settings.antiEntropy.pushPullInterval = .seconds(2)
        let count = 4
        let ports = try await Loopback.freePorts(count, group: group)
        let seed = GossipEndpoint(host: "127.0.0.1", port: UInt16(ports[0]))
        var nodes: [GossipNode] = []
        for i in 0..<count {
            let state = NodeStateMessage(nodeID: "udp-\(i)", address: "127.0.0.1", port: UInt32(ports[i]), region: "eu-de-fra",
                                         jurisdiction: "DE", certificate: nil, status: .alive, incarnation: 0, load: 0,
                                         capacity: 10, softwareVersion: "test", coordinate: nil)
            let instance = try SWIMInstance(localState: state, seeds: i == 0 ? [] : [seed], settings: settings,
                                            randomSeed: UInt64(i + 1), now: .zero)
            let node = GossipNode(instance: instance, keyring: Keyring(primary: .init(id: "k1", key: Loopback.key(1))), group: group)
            try await node.start(host: "127.0.0.1", port: ports[i])
            nodes.append(node)
        }

        func aliveCount(_ node: GossipNode) async -> Int {
            await node.instance.members.values.filter { $0.status == .alive }.count
        }
        var joined = await Loopback.eventually(within: .seconds(10)) {
            for n in nodes where await aliveCount(n) != count - 1 { return false }
            return true
        }
        #expect(joined, "members did not all find each other")

        // Key rotation during traffic: install everywhere, switch primaries one by one, remove the old key.
        for n in nodes { await n.updateKeyring { $0.install(.init(id: "k2", key: Loopback.key(2))) } }
        for n in nodes { try await n.updateKeyring { try $0.usePrimary(id: "k2") } }
        // Remove the old key only once everyone seals with the new one and packets sealed
        // before the switch have drained (a few exchanges later), as docs/gossip.md says.
        var opened: [Int] = []
        for n in nodes { opened.append(await n.security.counters.opened) }
        let drained = await Loopback.eventually(within: .seconds(5)) {
            for (n, o) in zip(nodes, opened) where await n.security.counters.opened < o + 10 { return false }
            return true
        }
        #expect(drained)
        let before = await nodes[1].security.counters.opened
        for n in nodes { try await n.updateKeyring { try $0.remove(id: "k1") } }
        let flowing = await Loopback.eventually(within: .seconds(5)) { await nodes[1].security.counters.opened > before + 10 }
        #expect(flowing)
        for n in nodes {
            #expect(await n.security.counters.droppedAuthentication == 0)
            #expect(await n.instance.counters.membersDeclaredDead == 0)
        }

        // A datagram under a wrong key is dropped and counted, and nothing else happens.
        let stranger = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        var rogue = PacketSecurity(keyring: Keyring(primary: .init(id: "x", key: Loopback.key(9))), localNodeID: "rogue", epoch: 1)
        let bytes = try rogue.seal(GossipPacketMessage(kind: .gossip, senderNodeID: "rogue"),
                                   nowUnixMilliseconds: 0, maximumSize: 1_400)
        var buffer = stranger.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await stranger.writeAndFlush(AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: "127.0.0.1", port: ports[2]), data: buffer))
        let counted = await Loopback.eventually(within: .seconds(3)) { await nodes[2].security.counters.droppedAuthentication == 1 }
        #expect(counted)
        try await stranger.close()

        // Kill member 3: stop its channels without leaving.
        await nodes[3].stop()
        let detected = await Loopback.eventually(within: .seconds(10)) {
            for n in nodes.prefix(3) where await n.instance.members["udp-3"]?.status != .dead { return false }
            return true
        }
        #expect(detected, "the killed member was not declared dead by every survivor")
        for n in nodes.prefix(3) {
            #expect(await n.instance.members.values.filter { $0.status == .dead && $0.nodeID != "udp-3" }.isEmpty)
        }

        // Graceful leave is seen as "left", not "dead".
        await nodes[2].leave(timeout: .seconds(1))
        await nodes[2].stop()
        joined = await Loopback.eventually(within: .seconds(5)) { await nodes[0].instance.members["udp-2"]?.status == .left }
        #expect(joined)
        for n in nodes.prefix(2) { await n.stop() }
        try await group.shutdownGracefully()
    }
}
