public import Placement
public import Residency
public import SodiumWrapper
import NodeTrust
public import ControlPlaneWire

/// What the gossip layer hands to placement: verified members and an RTT estimator.
///
/// Only members whose operator-signed certificate verifies — and whose
/// announced ID, region and jurisdiction match the certificate — are in
/// `nodes` (DESIGN.md invariant 6). Everyone else is listed in `unverified`
/// with the reason, for operators; placement never sees them.
public struct ClusterView: Sendable {
    /// Sorted by node ID, so every node hands placement identical input for identical state.
    public var nodes: [ClusterNode]
    public var unverified: [UnverifiedMember]
    /// Latest Vivaldi coordinate of each node, this node's included.
    public var coordinates: [NodeID: VivaldiCoordinate]

    public init(nodes: [ClusterNode], unverified: [UnverifiedMember] = [], coordinates: [NodeID: VivaldiCoordinate] = [:]) {
        self.nodes = nodes
        self.unverified = unverified
        self.coordinates = coordinates
    }

    /// Estimated round-trip time between two nodes in milliseconds, from their
    /// Vivaldi coordinates; nil when either coordinate is unknown.
    public func estimatedRTTMilliseconds(_ a: NodeID, _ b: NodeID) -> Double? {
        if a == b { return 0 }
        guard let ca = coordinates[a], let cb = coordinates[b] else { return nil }
        return ca.distance(to: cb)
    }

    /// The estimator in the shape placement takes.
    public var rttEstimator: @Sendable (NodeID, NodeID) -> Double? {
        let coordinates = coordinates
        return { a, b in
            if a == b { return 0 }
            guard let ca = coordinates[a], let cb = coordinates[b] else { return nil }
            return ca.distance(to: cb)
        }
    }
}

/// A member kept out of the placement view, and why.
public struct UnverifiedMember: Sendable, Equatable {
    public var nodeID: String
    /// What the member claims (unsigned; for operators' eyes only).
    public var claimedRegion: String
    public var claimedJurisdiction: String
    public var reason: String
}

/// Builds `ClusterView`s from a SWIM instance, verifying each certificate once
/// per distinct certificate (Ed25519 verification is cached by bytes; the
/// validity window is re-checked on every build).
public struct ClusterViewBuilder: Sendable {
    public var trustedOperators: [Ed25519.PublicKey]
    private var cache: [[UInt8]: Result<CachedIdentity, CertificateFailure>] = [:]

    struct CachedIdentity: Sendable {
        var nodeID: String
        var region: String
        var jurisdiction: String
        var notBeforeUnix: Int64
        var notAfterUnix: Int64
    }

    struct CertificateFailure: Error, Sendable { var reason: String }

    public init(trustedOperators: [Ed25519.PublicKey]) {
        self.trustedOperators = trustedOperators
    }

    public mutating func build(from instance: SWIMInstance, nowUnix: Int64) -> ClusterView {
        var entries: [(state: NodeStateMessage, health: NodeHealth)] = [(instance.localState, instance.localState.status == .draining ? .draining : .alive)]
        for m in instance.members.values {
            let health: NodeHealth = switch m.status {
            case .alive: m.isDraining ? .draining : .alive
            case .suspect: .suspect
            case .dead: .dead
            case .left: .left
            }
            entries.append((m.state, health))
        }
        var nodes: [ClusterNode] = []
        var unverified: [UnverifiedMember] = []
        var coordinates: [NodeID: VivaldiCoordinate] = [:]
        for (state, health) in entries {
            switch verify(state, nowUnix: nowUnix) {
            case let .success(identity):
                guard let country = CountryCode(identity.jurisdiction) else {
                    unverified.append(reject(state, "certificate jurisdiction '\(identity.jurisdiction)' is not a country code"))
                    continue
                }
                let id = NodeID(state.nodeID)
                nodes.append(ClusterNode(id: id, region: RegionID(identity.region), jurisdiction: country, health: health,
                                         certificate: .valid, load: Int(state.load), capacity: Int(state.capacity)))
                if state.nodeID == instance.localNodeID {
                    coordinates[id] = instance.vivaldi.coordinate
                } else if let c = instance.coordinates[state.nodeID] {
                    coordinates[id] = c
                }
            case let .failure(failure):
                unverified.append(reject(state, failure.reason))
            }
        }
        nodes.sort { $0.id < $1.id }
        unverified.sort { $0.nodeID < $1.nodeID }
        return ClusterView(nodes: nodes, unverified: unverified, coordinates: coordinates)
    }

    private func reject(_ state: NodeStateMessage, _ reason: String) -> UnverifiedMember {
        UnverifiedMember(nodeID: state.nodeID, claimedRegion: state.region, claimedJurisdiction: state.jurisdiction, reason: reason)
    }

    private mutating func verify(_ state: NodeStateMessage, nowUnix: Int64) -> Result<CachedIdentity, CertificateFailure> {
        guard let message = state.certificate else { return .failure(CertificateFailure(reason: "no certificate")) }
        let key = message.body + message.signature
        let result: Result<CachedIdentity, CertificateFailure>
        if let cached = cache[key] {
            result = cached
        } else {
            do {
                let certificate = try NodeCertificate(message: message)
                // Signature and signer now; the validity window below, on every build.
                let identity = try certificate.verify(trustedOperators: trustedOperators, nowUnix: certificate.body.notBeforeUnix)
                result = .success(CachedIdentity(nodeID: identity.nodeID, region: identity.region, jurisdiction: identity.jurisdiction,
                                                 notBeforeUnix: identity.notBeforeUnix, notAfterUnix: identity.notAfterUnix))
            } catch {
                result = .failure(CertificateFailure(reason: error.description))
            }
            if cache.count > 100_000 { cache.removeAll() }
            cache[key] = result
        }
        guard case let .success(identity) = result else { return result }
        if nowUnix < identity.notBeforeUnix { return .failure(CertificateFailure(reason: "certificate is not valid before \(identity.notBeforeUnix)")) }
        if nowUnix >= identity.notAfterUnix { return .failure(CertificateFailure(reason: "certificate expired at \(identity.notAfterUnix)")) }
        guard identity.nodeID == state.nodeID else {
            return .failure(CertificateFailure(reason: "certificate is for node '\(identity.nodeID)', not '\(state.nodeID)'"))
        }
        guard identity.region == state.region, identity.jurisdiction == state.jurisdiction else {
            return .failure(CertificateFailure(reason: "announced region \(state.region)/\(state.jurisdiction) differs from the certificate's \(identity.region)/\(identity.jurisdiction)"))
        }
        return result
    }
}
