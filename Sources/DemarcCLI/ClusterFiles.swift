import AccessTokens
import Foundation
import Gossip
import NetLab
import NodeTrust
import Placement
import Residency
import SodiumWrapper

/// Writes everything a local cluster's nodes need into the state directory:
///
///     operator.key(.pub)   signs the node certificates (every node trusts the .pub)
///     tokens.key(.pub)     the cluster token key (every node verifies access tokens with it)
///     gossip.keyring       one random gossip key, the same for every node
///     operator.token       an operator access token (role operator), for creating tenants
///     nodes/<id>/          node.key(.pub), node.cert (pinned to the node's region and
///                          jurisdiction), node.yaml, demarc.sqlite, stdout.log, stderr.log
struct ClusterFiles {
    struct Endpoints {
        var gossip: NetEndpoint
        var http: NetEndpoint
        var media: Int?
    }

    let directory: String
    let topology: Topology
    /// Absolute; every node reads its regions and latencies from it (`trust.regions`).
    let topologyPath: String
    let catalogPath: String

    func path(_ parts: String...) -> String { parts.reduce(directory) { ($0 as NSString).appendingPathComponent($1) } }

    /// Generates keys, certificates, the token and every node.yaml; returns the nodes as
    /// they will appear in the cluster state (no processes yet).
    func write(endpoints: [NodeID: Endpoints], tokenLifetimeSeconds: Int64, namespaces: [String: String]) throws -> (nodes: [ClusterState.Node], token: String) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let operatorKey = Ed25519.PrivateKey()
        try writeKeyPair(operatorKey, to: path("operator.key"), force: false)
        let tokenKey = Ed25519.PrivateKey()
        try writeKeyPair(tokenKey, to: path("tokens.key"), force: false)
        guard fm.createFile(atPath: path("gossip.keyring"), contents: Data(KeyringFile.generate(id: "cluster-1").utf8),
                            attributes: [.posixPermissions: 0o600]) else { throw ClusterError("cannot write \(path("gossip.keyring"))") }

        let now = Int64(Date().timeIntervalSince1970)
        let claims = AccessClaims(iss: "demarc", sub: "operator@\(topology.name.isEmpty ? "local" : topology.name)", aud: "demarc",
                                  tenant: nil, meeting: nil, role: .operator, grants: [], iat: now, nbf: now, exp: now + tokenLifetimeSeconds)
        let token = try AccessTokenIssuer(key: tokenKey).issue(claims)
        guard fm.createFile(atPath: path("operator.token"), contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ClusterError("cannot write \(path("operator.token"))")
        }

        let seedsFrom = topology.nodes.prefix(3).map(\.id)
        var out: [ClusterState.Node] = []
        for node in topology.nodes {
            guard let ep = endpoints[node.id] else { continue }
            let dir = path("nodes", node.id.rawValue)
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let nodeKey = Ed25519.PrivateKey()
            let keyPath = path("nodes", node.id.rawValue, "node.key")
            try writeKeyPair(nodeKey, to: keyPath, force: false)
            let cert = try NodeCertificate.issue(
                nodeID: node.id.rawValue, nodePublicKey: nodeKey.publicKey, region: node.region.rawValue,
                jurisdiction: node.jurisdiction.rawValue, notBeforeUnix: now - 60, notAfterUnix: now + 90 * 86_400,
                serial: UInt64.random(in: 1...UInt64(Int64.max)), signer: operatorKey)
            let certPath = path("nodes", node.id.rawValue, "node.cert")
            try Data(cert.pem.utf8).write(to: URL(fileURLWithPath: certPath))
            let seeds = seedsFrom.filter { $0 != node.id }.compactMap { endpoints[$0]?.gossip.description }
            let configPath = path("nodes", node.id.rawValue, "node.yaml")
            let yaml = nodeYAML(node: node, endpoints: ep, seeds: seeds, keyPath: keyPath, certPath: certPath,
                                storePath: path("nodes", node.id.rawValue, "demarc.sqlite"))
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
            out.append(ClusterState.Node(id: node.id.rawValue, region: node.region.rawValue, jurisdiction: node.jurisdiction.rawValue,
                                         gossip: ep.gossip, http: ep.http, mediaPort: ep.media, config: configPath,
                                         namespace: namespaces[node.id.rawValue], process: nil))
        }
        return (out, token)
    }

    func nodeYAML(node: ClusterNode, endpoints: Endpoints, seeds: [String], keyPath: String, certPath: String, storePath: String) -> String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let media = endpoints.media.map { "media:\n  bind: \(q(NetEndpoint(host: endpoints.gossip.host, port: $0).description))\n" } ?? ""
        return """
        # Written by `demarc cluster up` for cluster '\(topology.name)' (\(directory)).
        # `demarc cluster down` stops the node and removes this directory.
        node:
          id: \(node.id.rawValue)
          region: \(node.region.rawValue)
          key: \(q(keyPath))
          certificate: \(q(certPath))
          capacity: \(max(1, node.capacity))
        trust:
          operator_keys: [\(q(path("operator.key.pub")))]
          jurisdictions: \(q(catalogPath))
          regions: \(q(topologyPath))
        gossip:
          bind: \(q(endpoints.gossip.description))
          advertise: \(q(endpoints.gossip.description))
          seeds: [\(seeds.map(q).joined(separator: ", "))]
          keyring: \(q(path("gossip.keyring")))
          push_pull_interval: 10s
        http:
          bind: \(q(endpoints.http.description))
        \(media)store:
          kind: sqlite
          path: \(q(storePath))
        tokens:
          issuer_key: \(q(path("tokens.key")))
        logging:
          level: info

        """
    }
}
