public import Residency
public import Foundation

/// Milliseconds since the Unix epoch, UTC. The log's only notion of time.
public struct LogTimestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let millisecondsSinceEpoch: UInt64

    public init(millisecondsSinceEpoch: UInt64) { self.millisecondsSinceEpoch = millisecondsSinceEpoch }

    public init(_ date: Date) {
        millisecondsSinceEpoch = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public var date: Date { Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000) }

    public func adding(seconds: UInt64) -> LogTimestamp {
        LogTimestamp(millisecondsSinceEpoch: millisecondsSinceEpoch &+ seconds &* 1000)
    }

    public static func < (a: Self, b: Self) -> Bool { a.millisecondsSinceEpoch < b.millisecondsSinceEpoch }

    public var description: String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
    }

    public init(from decoder: any Decoder) throws {
        millisecondsSinceEpoch = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(millisecondsSinceEpoch)
    }
}

/// Where a hop happened: a node, its region, and the jurisdiction its operator-signed
/// certificate pins it to.
public struct NodeLocation: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let node: NodeID
    public let region: RegionID
    public let jurisdiction: CountryCode

    public init(node: NodeID, region: RegionID, jurisdiction: CountryCode) {
        self.node = node
        self.region = region
        self.jurisdiction = jurisdiction
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.jurisdiction.rawValue, a.region.rawValue, a.node.rawValue) < (b.jurisdiction.rawValue, b.region.rawValue, b.node.rawValue)
    }

    public var description: String { "\(node) (\(region), \(jurisdiction))" }
}

/// The data categories of DESIGN.md's vocabulary. Raw values are part of the entry encoding.
public enum DataCategory: UInt8, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case media = 1, signaling = 2, relay = 3, logs = 4, recordings = 5, transparency = 6

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
        switch self {
        case .media: "media"
        case .signaling: "signaling"
        case .relay: "relay"
        case .logs: "logs"
        case .recordings: "recordings"
        case .transparency: "transparency"
        }
    }
}

/// Kinds of stored artifact. Raw values are part of the entry encoding.
public enum ArtifactKind: UInt8, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case logs = 1, recordings = 2, transparency = 3

    public var category: DataCategory {
        switch self {
        case .logs: .logs
        case .recordings: .recordings
        case .transparency: .transparency
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { category.description }
}

/// The tenant policy's end-to-end encryption setting.
public enum E2EERequirement: UInt8, Sendable, Codable, CustomStringConvertible {
    case off = 0, preferred = 1, required = 2
    public var description: String {
        switch self {
        case .off: "off"
        case .preferred: "preferred"
        case .required: "required"
        }
    }
}

/// Why a node refused to serve a meeting (DESIGN.md invariant 1, defence in depth).
public enum RefusalReason: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case jurisdictionNotAllowed = 1, e2eeUnavailable = 2, noCapacity = 3, draining = 4
    case certificateInvalid = 5, policyUnknown = 6

    public var description: String {
        switch self {
        case .jurisdictionNotAllowed: "jurisdiction not allowed by the tenant's policy"
        case .e2eeUnavailable: "end-to-end encryption required but unavailable"
        case .noCapacity: "no capacity"
        case .draining: "node draining"
        case .certificateInvalid: "node certificate invalid"
        case .policyUnknown: "policy version unknown to the node"
        }
    }
}

/// Why a stored artifact was deleted.
public enum DeletionReason: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case retentionExpired = 1, tenantRequest = 2, tenantDeleted = 3
    public var description: String {
        switch self {
        case .retentionExpired: "retention period ended"
        case .tenantRequest: "deleted at the tenant's request"
        case .tenantDeleted: "tenant deleted"
        }
    }
}

/// The parts of a tenant's residency policy a verifier needs to judge compliance from
/// the log alone: version, digest of the policy document, and per category the
/// jurisdictions allowed (already expanded from groups such as EU to country codes).
public struct PolicySnapshot: Hashable, Sendable {
    public let version: UInt64
    /// SHA-256 of the canonical policy document.
    public let digest: [UInt8]
    public let e2ee: E2EERequirement
    /// Allowed jurisdictions per category; a category absent here allows nothing.
    public let allowed: [DataCategory: Set<CountryCode>]
    /// Maximum retention per stored artifact kind, in seconds; absent means "not stored".
    public let retentionSeconds: [ArtifactKind: UInt64]

    public init(version: UInt64, digest: [UInt8], e2ee: E2EERequirement,
                allowed: [DataCategory: Set<CountryCode>], retentionSeconds: [ArtifactKind: UInt64]) {
        self.version = version
        self.digest = digest
        self.e2ee = e2ee
        self.allowed = allowed.filter { !$0.value.isEmpty }
        self.retentionSeconds = retentionSeconds
    }

    public func allows(_ category: DataCategory, in jurisdiction: CountryCode) -> Bool {
        allowed[category]?.contains(jurisdiction) ?? false
    }
}

/// What happened. Each case is one kind of hop or artifact change (DESIGN.md invariant 4).
public enum LogEvent: Hashable, Sendable {
    /// The tenant policy in force for this meeting from now on.
    case policyApplied(PolicySnapshot)
    /// Placement chose a home (signaling) node and edge (media) nodes.
    case placementDecided(policyVersion: UInt64, home: NodeLocation, edges: [NodeLocation])
    case participantJoined(participant: Commitment, at: NodeLocation)
    case participantLeft(participant: Commitment, at: NodeLocation)
    /// A node began forwarding the meeting's media; records whether it was end-to-end encrypted.
    case mediaProcessed(at: NodeLocation, endToEndEncrypted: Bool)
    case relayLinkOpened(from: NodeLocation, to: NodeLocation)
    case relayLinkClosed(from: NodeLocation, to: NodeLocation)
    case artifactStored(artifact: Commitment, kind: ArtifactKind, at: NodeLocation, retainUntil: LogTimestamp)
    case artifactDeleted(artifact: Commitment, kind: ArtifactKind, at: NodeLocation, reason: DeletionReason)
    case nodeRefused(at: NodeLocation, reason: RefusalReason)

    /// Stable wire tag of the event kind.
    public var kind: LogEventKind {
        switch self {
        case .policyApplied: .policyApplied
        case .placementDecided: .placementDecided
        case .participantJoined: .participantJoined
        case .participantLeft: .participantLeft
        case .mediaProcessed: .mediaProcessed
        case .relayLinkOpened: .relayLinkOpened
        case .relayLinkClosed: .relayLinkClosed
        case .artifactStored: .artifactStored
        case .artifactDeleted: .artifactDeleted
        case .nodeRefused: .nodeRefused
        }
    }
}

/// Event kind tags. Raw values are part of the entry encoding and never reused.
public enum LogEventKind: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case policyApplied = 1, placementDecided = 2, participantJoined = 3, participantLeft = 4
    case mediaProcessed = 5, relayLinkOpened = 6, relayLinkClosed = 7, artifactStored = 8
    case artifactDeleted = 9, nodeRefused = 10

    public var description: String {
        switch self {
        case .policyApplied: "policy applied"
        case .placementDecided: "placement decided"
        case .participantJoined: "participant joined"
        case .participantLeft: "participant left"
        case .mediaProcessed: "media processed"
        case .relayLinkOpened: "relay link opened"
        case .relayLinkClosed: "relay link closed"
        case .artifactStored: "artifact stored"
        case .artifactDeleted: "artifact deleted"
        case .nodeRefused: "node refused"
        }
    }
}

/// One transparency log entry: a meeting (as a commitment), a time, and an event.
/// Its canonical bytes (`LogEntryCodec`) are what the Merkle leaf hashes.
public struct LogEntry: Hashable, Sendable {
    public let meeting: Commitment
    public let timestamp: LogTimestamp
    public let event: LogEvent

    public init(meeting: Commitment, timestamp: LogTimestamp, event: LogEvent) {
        self.meeting = meeting
        self.timestamp = timestamp
        self.event = event
    }
}
