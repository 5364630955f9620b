public import Residency

/// The routing-transparency report of one meeting (JSON, `formatVersion` 1).
///
/// Everything a reader needs to check the report offline is inside: the checkpoint as
/// a signed note, each entry's canonical bytes with its inclusion proof against that
/// checkpoint, and a summary that `ReportVerifier` recomputes from the entries and
/// compares — so the summary cannot say anything the signed log does not.
public struct MeetingReport: Codable, Sendable, Equatable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// The meeting, as its tenant-keyed commitment.
    public var meeting: Commitment
    public var generatedAt: LogTimestamp
    /// The C2SP checkpoint every inclusion proof is against, as a signed note.
    public var checkpoint: String
    /// PEM of the operator-signed certificate of the node whose key signed the checkpoint,
    /// so a verifier holding only the operator's key can check the chain.
    public var nodeCertificate: String?
    public var summary: MeetingSummary
    public var entries: [ReportEntry]

    public init(meeting: Commitment, generatedAt: LogTimestamp, checkpoint: String, nodeCertificate: String?,
                summary: MeetingSummary, entries: [ReportEntry]) {
        formatVersion = Self.currentFormatVersion
        self.meeting = meeting
        self.generatedAt = generatedAt
        self.checkpoint = checkpoint
        self.nodeCertificate = nodeCertificate
        self.summary = summary
        self.entries = entries
    }
}

/// One log entry of the meeting with its proof of inclusion.
public struct ReportEntry: Codable, Sendable, Equatable {
    /// Position in the log (0-based leaf index).
    public var index: UInt64
    /// The canonical entry bytes (`LogEntryCodec`), standard base64.
    public var entry: String
    /// RFC 9162 inclusion path against the report's checkpoint, each hash standard base64.
    public var inclusionProof: [String]

    public init(index: UInt64, entry: String, inclusionProof: [String]) {
        self.index = index
        self.entry = entry
        self.inclusionProof = inclusionProof
    }
}

/// What the meeting's entries say, in a form people and programs can read. Computed
/// deterministically by `MeetingSummary.build(entries:generatedAt:)`.
public struct MeetingSummary: Codable, Sendable, Equatable {
    public var policies: [PolicyView]
    public var processing: [ProcessingWindow]
    public var relays: [RelayWindow]
    public var artifacts: [ArtifactView]
    public var refusals: [RefusalView]
    public var jurisdictions: [JurisdictionUse]
    /// nil when no media was processed; otherwise whether every media hop was E2EE.
    public var mediaEndToEndEncrypted: Bool?
    public var compliance: ComplianceVerdict
}

public struct PolicyView: Codable, Sendable, Equatable {
    public var version: UInt64
    /// Hex SHA-256 of the canonical policy document.
    public var digest: String
    public var e2ee: E2EERequirement
    /// Category name → allowed ISO 3166-1 codes, sorted.
    public var allowed: [String: [CountryCode]]
    /// Artifact kind name → maximum retention in seconds.
    public var retentionSeconds: [String: UInt64]
    public var appliedAt: LogTimestamp
    public var entryIndex: UInt64
}

/// A node that handled the meeting's data in some categories between two times.
public struct ProcessingWindow: Codable, Sendable, Equatable {
    public var location: NodeLocation
    public var categories: [DataCategory]
    public var from: LogTimestamp
    public var until: LogTimestamp
}

public struct RelayWindow: Codable, Sendable, Equatable {
    public var from: NodeLocation
    public var to: NodeLocation
    public var opened: LogTimestamp
    /// nil while the link was still open at the checkpoint.
    public var closed: LogTimestamp?
}

public struct ArtifactView: Codable, Sendable, Equatable {
    public var artifact: Commitment
    public var kind: ArtifactKind
    public var location: NodeLocation
    public var storedAt: LogTimestamp
    public var retainUntil: LogTimestamp
    public var deletedAt: LogTimestamp?
    public var deletionReason: DeletionReason?
}

public struct RefusalView: Codable, Sendable, Equatable {
    public var location: NodeLocation
    public var reason: RefusalReason
    public var at: LogTimestamp
}

/// Which categories of the meeting's data a jurisdiction saw, and in which regions.
public struct JurisdictionUse: Codable, Sendable, Equatable {
    public var jurisdiction: CountryCode
    public var categories: [DataCategory]
    public var regions: [RegionID]
    public var from: LogTimestamp
    public var until: LogTimestamp
}

public struct ComplianceVerdict: Codable, Sendable, Equatable {
    /// True when no hop or artifact broke the policy in force at the time.
    public var compliant: Bool
    public var violations: [ComplianceViolation]
}

public struct ComplianceViolation: Codable, Sendable, Equatable {
    /// Stable machine-readable rule identifier.
    public enum Rule: String, Codable, Sendable {
        case noPolicyInForce, jurisdictionNotAllowed, endToEndEncryptionRequired
        case policyVersionMismatch, retentionLongerThanPolicy, keptPastRetention
    }

    public var entryIndex: UInt64
    public var rule: Rule
    public var detail: String
}
