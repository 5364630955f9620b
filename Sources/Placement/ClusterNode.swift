public import Residency

/// A node as placement sees it: where it is, whether it may be trusted and used,
/// and how full it is. Built by the node from the gossip view (or from a
/// topology file for `demarc placement explain`).
public struct ClusterNode: Hashable, Sendable {
    public var id: NodeID
    public var region: RegionID
    /// From the node's verified certificate; never from an unsigned claim.
    public var jurisdiction: CountryCode
    public var health: NodeHealth
    public var certificate: CertificateState
    /// Participant slots in use.
    public var load: Int
    /// Participant slots in all.
    public var capacity: Int

    public init(id: NodeID, region: RegionID, jurisdiction: CountryCode, health: NodeHealth = .alive,
                certificate: CertificateState = .valid, load: Int = 0, capacity: Int) {
        self.id = id
        self.region = region
        self.jurisdiction = jurisdiction
        self.health = health
        self.certificate = certificate
        self.load = load
        self.capacity = capacity
    }
}

/// Membership status as the gossip layer reports it.
public enum NodeHealth: String, Hashable, Sendable, Codable, CaseIterable {
    case alive, suspect, draining, dead, left
}

/// Whether the node's operator-signed certificate verified.
public enum CertificateState: Hashable, Sendable {
    case valid
    /// Not trusted; `reason` is the verifier's message (expired, wrong signer, ...).
    case invalid(reason: String)
}
