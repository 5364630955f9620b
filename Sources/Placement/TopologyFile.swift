public import Residency
import Yams

/// A cluster described in a file (Topologies/*.yaml): regions, nodes, the
/// inter-region latency matrix. Used by `demarc placement explain`, by
/// `demarc cluster up`, and by tests. Format: docs/policy-reference.md#topologies.
public struct Topology: Sendable {
    public var name: String
    public var description: String
    public var regions: [Region]
    public var nodes: [ClusterNode]
    public var latency: LatencyMatrix
    /// Per node: optional local ports for `cluster up` (nil: assigned automatically).
    public var ports: [NodeID: NodePorts]

    public struct NodePorts: Hashable, Sendable {
        public var gossip: Int?
        public var http: Int?
        public var media: Int?
    }

    public func clusterView() throws(PlacementError) -> ClusterView {
        try ClusterView(nodes: nodes, regions: regions, latency: latency)
    }

    /// Parses and checks a topology against the jurisdiction catalog, reporting every problem.
    /// A region catalog (`Topologies/regions.yaml`, what a running node reads) is the same
    /// format without nodes: pass `requireNodes: false`.
    public static func parse(_ text: String, file: String, catalog: JurisdictionCatalog, requireNodes: Bool = true) throws(ConfigError) -> Topology {
        var r = YAMLReader(file: file)
        guard let root = r.parse(text),
              let top = r.mapping(root, "", allowed: ["name", "description", "regions", "nodes", "latency"]) else {
            throw ConfigError(problems: r.problems)
        }
        var t = Topology(name: "", description: "", regions: [], nodes: [], latency: .init(), ports: [:])
        var latencyNode: Node?
        var nodesNode: Node?
        for (key, _, value) in top {
            switch key {
            case "name": t.name = r.string(value, "name") ?? ""
            case "description": t.description = r.string(value, "description") ?? ""
            case "latency": latencyNode = value
            case "nodes": nodesNode = value
            default:
                for (id, keyNode, body) in r.mapping(value, "regions") ?? [] {
                    let path = "regions.\(id)"
                    guard let fields = r.mapping(body, path, allowed: ["jurisdiction", "at", "city", "provider"]) else { continue }
                    var jurisdiction: CountryCode?, at: GeoPoint?, city = "", provider = ""
                    for (k, _, v) in fields {
                        switch k {
                        case "jurisdiction":
                            guard let s = r.string(v, "\(path).jurisdiction") else { continue }
                            if let c = CountryCode(s), catalog.isKnown(c) { jurisdiction = c } else {
                                r.error(v, "\(path).jurisdiction", "'\(s.prefix(20))' is not an assigned ISO 3166-1 alpha-2 code",
                                        fix: catalog.suggestion(for: s).map { "did you mean '\($0)'?" } ?? "a region is in exactly one country: use its two-letter code")
                            }
                        case "at": at = readPoint(&r, v, "\(path).at")
                        case "city": city = r.string(v, "\(path).city") ?? ""
                        default: provider = r.string(v, "\(path).provider") ?? ""
                        }
                    }
                    if jurisdiction == nil, !fields.contains(where: { $0.key == "jurisdiction" }) {
                        r.error(keyNode, path, "region has no jurisdiction", fix: "add `jurisdiction: DE` (its ISO code)")
                    }
                    if at == nil, !fields.contains(where: { $0.key == "at" }) {
                        r.error(keyNode, path, "region has no location", fix: "add `at: [latitude, longitude]`")
                    }
                    if let jurisdiction, let at {
                        t.regions.append(Region(id: RegionID(id), jurisdiction: jurisdiction, location: at, name: city, provider: provider))
                    }
                }
            }
        }
        let regionByID = Dictionary(t.regions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        if let nodesNode, let items = r.sequence(nodesNode, "nodes") {
            var seen = Set<NodeID>()
            for (i, item) in items.enumerated() {
                let path = "nodes[\(i)]"
                guard let fields = r.mapping(item, path, allowed: ["id", "region", "jurisdiction", "capacity", "load", "status", "certificate", "ports"]) else { continue }
                var id: String?, region: RegionID?, jurisdiction: CountryCode?, capacity = 100, load = 0
                var health = NodeHealth.alive, cert = CertificateState.valid, ports = NodePorts()
                for (k, _, v) in fields {
                    switch k {
                    case "id": id = r.string(v, "\(path).id")
                    case "region":
                        guard let s = r.string(v, "\(path).region") else { continue }
                        if regionByID[RegionID(s)] != nil { region = RegionID(s) } else {
                            r.error(v, "\(path).region", "region '\(s.prefix(40))' is not defined under `regions:`",
                                    fix: closest(to: s, in: regionByID.keys.map(\.rawValue), maxDistance: 3).map { "did you mean '\($0)'?" } ?? "define it under `regions:`")
                        }
                    case "jurisdiction":
                        if let s = r.string(v, "\(path).jurisdiction") {
                            if let c = CountryCode(s), catalog.isKnown(c) { jurisdiction = c } else {
                                r.error(v, "\(path).jurisdiction", "'\(s.prefix(20))' is not an assigned ISO 3166-1 alpha-2 code")
                            }
                        }
                    case "capacity": capacity = r.integer(v, "\(path).capacity", range: 0...1_000_000) ?? capacity
                    case "load": load = r.integer(v, "\(path).load", range: 0...1_000_000) ?? load
                    case "status":
                        if let s = r.string(v, "\(path).status") {
                            if let h = NodeHealth(rawValue: s) { health = h } else {
                                r.error(v, "\(path).status", "'\(s.prefix(20))' is not a node status",
                                        fix: "use one of: \(NodeHealth.allCases.map(\.rawValue).joined(separator: ", "))")
                            }
                        }
                    case "certificate":
                        if let s = r.string(v, "\(path).certificate") { cert = s == "valid" ? .valid : .invalid(reason: s) }
                    default:
                        for (pk, _, pv) in r.mapping(v, "\(path).ports", allowed: ["gossip", "http", "media"]) ?? [] {
                            let port = r.integer(pv, "\(path).ports.\(pk)", range: 1...65535)
                            switch pk { case "gossip": ports.gossip = port; case "http": ports.http = port; default: ports.media = port }
                        }
                    }
                }
                guard let id else { r.error(item, "\(path).id", "node has no id"); continue }
                guard let region, let reg = regionByID[region] else {
                    if !fields.contains(where: { $0.key == "region" }) { r.error(item, "\(path).region", "node has no region") }
                    continue
                }
                let nodeID = NodeID(id)
                if !seen.insert(nodeID).inserted { r.error(item, "\(path).id", "node id '\(id)' is used twice"); continue }
                t.nodes.append(ClusterNode(id: nodeID, region: region, jurisdiction: jurisdiction ?? reg.jurisdiction, health: health,
                                           certificate: cert, load: load, capacity: capacity))
                t.ports[nodeID] = ports
            }
        } else if nodesNode == nil, requireNodes {
            r.error(root, "nodes", "no nodes", fix: "add a `nodes:` list")
        }
        if let latencyNode {
            for (a, aNode, row) in r.mapping(latencyNode, "latency") ?? [] {
                guard regionByID[RegionID(a)] != nil else {
                    r.error(aNode, "latency.\(a)", "region '\(a)' is not defined under `regions:`")
                    continue
                }
                for (b, bNode, v) in r.mapping(row, "latency.\(a)") ?? [] {
                    guard regionByID[RegionID(b)] != nil else {
                        r.error(bNode, "latency.\(a).\(b)", "region '\(b)' is not defined under `regions:`")
                        continue
                    }
                    if let ms = r.number(v, "latency.\(a).\(b)", range: 0...10_000) {
                        let pair = LatencyMatrix.RegionPair(RegionID(a), RegionID(b))
                        if let existing = t.latency.entries[pair], existing != ms {
                            r.error(v, "latency.\(a).\(b)", "conflicts with \(existing) ms given for \(b) → \(a)", fix: "latency is symmetric: give it once")
                        }
                        t.latency.entries[pair] = ms
                    }
                }
            }
        }
        if r.problems.contains(where: { $0.severity == .error }) { throw ConfigError(problems: r.problems) }
        return t
    }
}

/// Participants described in a file, for `demarc placement explain`.
public enum ParticipantsFile {
    public static func parse(_ text: String, file: String, catalog: JurisdictionCatalog) throws(ConfigError) -> [Participant] {
        var r = YAMLReader(file: file)
        guard let root = r.parse(text), let top = r.mapping(root, "", allowed: ["participants"]) else { throw ConfigError(problems: r.problems) }
        var out: [Participant] = []
        for (_, _, value) in top {
            for (i, item) in (r.sequence(value, "participants") ?? []).enumerated() {
                let path = "participants[\(i)]"
                guard let fields = r.mapping(item, path, allowed: ["id", "country", "at", "rtt"]) else { continue }
                var id: String?, location = ParticipantLocation()
                for (k, _, v) in fields {
                    switch k {
                    case "id": id = r.string(v, "\(path).id")
                    case "country":
                        if let s = r.string(v, "\(path).country") {
                            if let c = CountryCode(s), catalog.isKnown(c) { location.country = c } else {
                                r.error(v, "\(path).country", "'\(s.prefix(20))' is not an assigned ISO 3166-1 alpha-2 code",
                                        fix: catalog.suggestion(for: s).map { "did you mean '\($0)'?" } ?? "")
                            }
                        }
                    case "at": location.point = readPoint(&r, v, "\(path).at")
                    default:
                        for (target, _, ms) in r.mapping(v, "\(path).rtt") ?? [] {
                            if let x = r.number(ms, "\(path).rtt.\(target)", range: 0...10_000) { location.measuredRTT[target] = x }
                        }
                    }
                }
                guard let id, !id.isEmpty else { r.error(item, "\(path).id", "participant has no id"); continue }
                out.append(Participant(id: id, location: location))
            }
        }
        if r.problems.contains(where: { $0.severity == .error }) { throw ConfigError(problems: r.problems) }
        return out
    }
}
