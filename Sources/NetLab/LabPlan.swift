/// A cluster's lab network, planned without doing anything: a hub namespace that
/// routes between one namespace per node, the addresses and routes, the delaying
/// relays that give node pairs their latency, and the nftables ruleset (relay
/// redirects, partitions, loss) — all in one table in the hub, so teardown is
/// `nft delete table` plus deleting the namespaces.
///
/// Layout, node `i` counting from 1 (at most 250 nodes):
///
///     namespace  <prefix>-hub        n<i>  10.77.<i>.1/24   (routes, relays, nft table)
///                    │ veth
///     namespace  <prefix>-<node id>  eth0  10.77.<i>.2/24   default via 10.77.<i>.1
///
/// The addresses exist only inside these namespaces, so two labs never collide.
public struct LabPlan: Codable, Hashable, Sendable {
    public struct Node: Codable, Hashable, Sendable {
        public var id: String
        public var index: Int
        public var namespace: String
        /// The hub side of this node's veth (`n<i>`), its address is the node's gateway.
        public var hubInterface: String
        public var hubAddress: String
        public var address: String
    }

    /// A UDP port every node listens on, which relays delay between nodes.
    public struct DelayedPort: Codable, Hashable, Sendable {
        /// `gossip` or `media`.
        public var name: String
        /// The port, per node id.
        public var ports: [String: Int]
        public init(name: String, ports: [String: Int]) {
            self.name = name
            self.ports = ports
        }
    }

    /// One ordered pair's relay and the redirect that sends the pair's traffic into it.
    public struct Relay: Codable, Hashable, Sendable {
        public var from: String
        public var to: String
        public var route: RelayRoute
        /// The destination the sender uses (the peer's real address and port).
        public var original: NetEndpoint
    }

    public var prefix: String
    public var hubNamespace: String
    /// The nft table (family inet) in the hub namespace.
    public var table: String
    public var nodes: [Node]
    public var relays: [Relay]

    public static let maximumNodes = 250
    /// Relay listening ports are taken from here upwards on the hub addresses.
    public static let firstRelayPort = 20_000

    /// - Parameters:
    ///   - prefix: names the lab (`demarc-3fa2`); a-z, 0-9, '-', at most 20 characters.
    ///   - rtt: round-trip time in milliseconds between two nodes (by id); 0 or nil: no relay.
    public static func make(prefix: String, nodeIDs: [String], delayedPorts: [DelayedPort],
                            rtt: (String, String) -> Double?) throws(NetLabError) -> LabPlan {
        guard isName(prefix), prefix.count <= 20 else { throw .invalidName(prefix) }
        guard nodeIDs.count <= maximumNodes else { throw .invalidName("\(nodeIDs.count) nodes (at most \(maximumNodes))") }
        var nodes: [Node] = []
        for (k, id) in nodeIDs.enumerated() {
            guard isName(id.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")) else { throw .invalidName(id) }
            let i = k + 1
            nodes.append(Node(id: id, index: i, namespace: "\(prefix)-\(id)", hubInterface: "n\(i)",
                              hubAddress: "10.77.\(i).1", address: "10.77.\(i).2"))
        }
        var relays: [Relay] = []
        var port = firstRelayPort
        for a in nodes {
            for b in nodes where b.id != a.id {
                guard let ms = rtt(a.id, b.id), ms > 0 else { continue }
                for kind in delayedPorts {
                    guard let targetPort = kind.ports[b.id] else { continue }
                    let route = RelayRoute(name: "\(a.id)->\(b.id) \(kind.name)", listen: NetEndpoint(host: a.hubAddress, port: port),
                                           target: NetEndpoint(host: b.address, port: targetPort),
                                           forwardDelayMilliseconds: ms / 2, returnDelayMilliseconds: ms / 2)
                    relays.append(Relay(from: a.id, to: b.id, route: route, original: NetEndpoint(host: b.address, port: targetPort)))
                    port += 1
                }
            }
        }
        return LabPlan(prefix: prefix, hubNamespace: "\(prefix)-hub", table: prefix.replacingOccurrences(of: "-", with: "_"),
                       nodes: nodes, relays: relays)
    }

    public func node(_ id: String) -> Node? { nodes.first { $0.id == id } }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}

/// Failures injected into a lab: partitions between sets of nodes and random loss on
/// a node's egress. Kept in the cluster's state so `cluster heal` and `cluster loss`
/// can rewrite the whole ruleset at once.
public struct LabFaults: Codable, Hashable, Sendable {
    public struct Partition: Codable, Hashable, Sendable {
        public var side: [String]
        public var from: [String]
        public init(side: [String], from: [String]) {
            self.side = side
            self.from = from
        }
    }

    public var partitions: [Partition] = []
    /// Percent of the node's outgoing packets dropped, per node id.
    public var lossPercent: [String: Int] = [:]

    public init(partitions: [Partition] = [], lossPercent: [String: Int] = [:]) {
        self.partitions = partitions
        self.lossPercent = lossPercent
    }
}

extension LabPlan {
    /// The nft script that (re)creates the lab's table atomically: the relay redirects
    /// (nat prerouting, priority dstnat) and the faults (filter prerouting, priority -150,
    /// so partitions see the original destination before a redirect rewrites it).
    ///
    /// Partitions drop every packet whose source is on one side and destination on the
    /// other, in both directions, whatever the protocol. Loss drops N % of the packets a
    /// node sends (`numgen random mod 100 < N`), including those a relay carries.
    public func nftScript(faults: LabFaults) -> String {
        var faultRules: [String] = []
        for p in faults.partitions {
            let a = p.side.compactMap { node($0)?.address }, b = p.from.compactMap { node($0)?.address }
            guard !a.isEmpty, !b.isEmpty else { continue }
            faultRules.append("ip saddr \(Self.set(a)) ip daddr \(Self.set(b)) counter drop")
            faultRules.append("ip saddr \(Self.set(b)) ip daddr \(Self.set(a)) counter drop")
        }
        for n in nodes {
            if let pct = faults.lossPercent[n.id], pct > 0 {
                faultRules.append("iifname \"\(n.hubInterface)\" numgen random mod 100 < \(min(pct, 100)) counter drop")
            }
        }
        let redirects = relays.map { r in
            "iifname \"\(node(r.from)!.hubInterface)\" ip daddr \(r.original.host) udp dport \(r.original.port) dnat ip to \(r.route.listen.host):\(r.route.listen.port)"
        }
        func chain(_ name: String, _ hook: String, _ rules: [String]) -> String {
            "  chain \(name) {\n    \(hook)\n" + rules.map { "    \($0)\n" }.joined() + "  }\n"
        }
        return "table inet \(table) {}\ndelete table inet \(table)\ntable inet \(table) {\n"
            + chain("faults", "type filter hook prerouting priority -150; policy accept;", faultRules)
            + chain("relays", "type nat hook prerouting priority dstnat; policy accept;", redirects)
            + "}\n"
    }

    static func set(_ addresses: [String]) -> String { addresses.count == 1 ? addresses[0] : "{ " + addresses.joined(separator: ", ") + " }" }
}
