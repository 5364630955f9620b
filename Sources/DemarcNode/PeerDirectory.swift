import Gossip
import NodeTrust
import SodiumWrapper
import ControlPlaneWire

/// A cluster member this node may call: its certified identity and where it listens.
struct Peer: Sendable, Equatable {
    var nodeID: String
    var publicKey: Ed25519.PublicKey
    var region: String
    var jurisdiction: String
    var host: String
    var apiPort: Int
    var mediaPort: Int
    var status: MemberStatus
    var draining: Bool

    var apiBase: String { Self.httpBase(host: host, port: apiPort) }

    /// `http://host:port`, with an IPv6 literal in brackets.
    static func httpBase(host: String, port: Int) -> String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
    var isUsable: Bool { status == .alive && !draining && apiPort > 0 }
}

/// The members whose operator-signed certificates verify, with their keys, built from the
/// gossip instance. Members without a valid certificate are never peers: they cannot call
/// internal routes and are never called (DESIGN.md invariant 6).
struct PeerDirectory {
    let trustedOperators: [Ed25519.PublicKey]
    private var cache: [[UInt8]: VerifiedNodeIdentity?] = [:]
    private(set) var peers: [String: Peer] = [:]

    init(trustedOperators: [Ed25519.PublicKey]) { self.trustedOperators = trustedOperators }

    mutating func rebuild(from instance: SWIMInstance, nowUnix: Int64) {
        var next: [String: Peer] = [:]
        for m in instance.members.values {
            guard let identity = verified(m.state, nowUnix: nowUnix) else { continue }
            next[m.nodeID] = Peer(nodeID: m.nodeID, publicKey: identity.nodePublicKey, region: identity.region,
                                  jurisdiction: identity.jurisdiction, host: m.state.address, apiPort: Int(m.state.apiPort),
                                  mediaPort: Int(m.state.mediaPort), status: m.status, draining: m.isDraining)
        }
        peers = next
    }

    private mutating func verified(_ state: NodeStateMessage, nowUnix: Int64) -> VerifiedNodeIdentity? {
        guard let message = state.certificate else { return nil }
        let key = message.body + message.signature
        let identity: VerifiedNodeIdentity?
        if let cached = cache[key] { identity = cached } else {
            identity = (try? NodeCertificate(message: message)).flatMap { cert in
                try? cert.verify(trustedOperators: trustedOperators, nowUnix: cert.body.notBeforeUnix)
            }
            if cache.count > 10_000 { cache.removeAll() }
            cache[key] = identity
        }
        guard let identity, nowUnix >= identity.notBeforeUnix, nowUnix < identity.notAfterUnix,
              identity.nodeID == state.nodeID, identity.region == state.region, identity.jurisdiction == state.jurisdiction
        else { return nil }
        return identity
    }
}
