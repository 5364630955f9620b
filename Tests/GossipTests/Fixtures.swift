import ControlPlaneWire
@testable import Gossip

enum Fixtures {
    static func state(_ id: String, port: UInt32 = 7946, load: UInt32 = 0) -> NodeStateMessage {
        NodeStateMessage(nodeID: id, address: "10.0.0.\(abs(id.hashValue) % 200 + 1)-\(id)", port: port, region: "eu-de-fra",
                         jurisdiction: "DE", certificate: nil, status: .alive, incarnation: 0, load: load, capacity: 100,
                         softwareVersion: "0.1.0", coordinate: nil)
    }

    static func endpoint(_ s: NodeStateMessage) -> GossipEndpoint { GossipEndpoint(host: s.address, port: UInt16(s.port)) }

    /// An instance "a" that already knows members b, c, d... (no dissemination pending).
    static func instance(_ id: String = "a", others: [String], settings: GossipSettings = GossipSettings(),
                         seeds: [GossipEndpoint] = [], seed: UInt64 = 1) throws -> SWIMInstance {
        var i = try SWIMInstance(localState: state(id), seeds: seeds, settings: settings, randomSeed: seed, now: .zero)
        i.seedMembership(others.map { state($0) }, now: .zero)
        return i
    }
}

extension GossipInstant {
    static func ms(_ v: Int64) -> GossipInstant { GossipInstant(nanoseconds: v * 1_000_000) }
    static func seconds(_ v: Int64) -> GossipInstant { GossipInstant(nanoseconds: v * 1_000_000_000) }
}

extension [GossipDirective] {
    var sends: [(GossipPacketMessage, GossipEndpoint)] {
        compactMap { if case let .send(p, e) = $0 { (p, e) } else { nil } }
    }
    var changes: [MembershipChange] {
        compactMap { if case let .membershipChanged(c) = $0 { c } else { nil } }
    }
    var pushPulls: [(GossipPacketMessage, GossipEndpoint)] {
        compactMap { if case let .pushPull(p, e) = $0 { (p, e) } else { nil } }
    }
}
