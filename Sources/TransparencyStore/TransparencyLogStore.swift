public import Transparency

/// Persistent storage for one node's transparency log and the indexes around it.
///
/// Contract every implementation keeps (checked for both stores by `StoreConformance` in
/// Tests/TransparencyStoreTests):
/// - `append` is atomic and durable: when it returns, every entry of the batch is
///   stored and survives a crash of the process; when it throws, none is.
/// - Appends are serialised; indices are dense from 0 in append order.
/// - Log rows (entries, subtree hashes, checkpoints) are never updated or deleted.
/// - Every perfect subtree hash is stored as it completes, so proofs never rehash leaves.
public protocol TransparencyLogStore: Sendable {
    /// Appends a batch atomically; returns the new tree head and the first index used.
    func append(_ batch: [LogAppend]) async throws -> AppendResult

    /// The current tree size and root hash.
    func treeHead() async throws -> TreeHead

    /// Hashes of stored perfect subtrees (level 0 are leaf hashes). Missing ones are omitted.
    func subtreeHashes(_ coordinates: Set<SubtreeCoordinate>) async throws -> [SubtreeCoordinate: MerkleHash]

    /// Canonical entry bytes for indices `range`, in order.
    func entries(_ range: Range<UInt64>) async throws -> [[UInt8]]

    /// The meeting's entries with index below `treeSize`, in log order.
    func entries(forMeeting meeting: Commitment, below treeSize: UInt64) async throws -> [StoredEntry]

    func saveCheckpoint(_ checkpoint: SignedCheckpoint) async throws
    /// The serialised signed note of the largest stored checkpoint.
    func latestCheckpoint() async throws -> String?
    func checkpoint(size: UInt64) async throws -> String?

    /// Not-yet-deleted artifacts with `retainUntil <= dueBy`, earliest first, plus the
    /// next artifact to fall due after `dueBy` (for scheduling).
    func artifacts(dueBy: LogTimestamp, limit: Int) async throws -> (due: [ArtifactRecord], next: ArtifactRecord?)
    /// Not-yet-deleted artifacts of one tenant.
    func artifacts(ofTenant tenant: String) async throws -> [ArtifactRecord]

    /// The tenant's commitment key, creating a random one when `create` is true.
    func commitmentKey(forTenant tenant: String, create: Bool) async throws -> TenantCommitmentKey?
    /// Destroys the tenant's commitment secret and its meeting index. The log is untouched.
    func destroyTenant(_ tenant: String) async throws

    /// The tenant's meetings as commitments, with entry counts and time span.
    func meetings(ofTenant tenant: String) async throws -> [MeetingIndexRow]
    /// Whether `meeting` is indexed under `tenant`.
    func meetingBelongs(_ meeting: Commitment, toTenant tenant: String) async throws -> Bool

    /// Aggregate counts with no per-tenant or per-meeting detail (for operators).
    func statistics() async throws -> LogStatistics
}

/// One entry to append: the entry, and the tenant it belongs to (for the meeting and
/// artifact indexes; the tenant is never written into the log itself).
public struct LogAppend: Sendable, Equatable {
    public let entry: LogEntry
    public let tenant: String

    public init(entry: LogEntry, tenant: String) {
        self.entry = entry
        self.tenant = tenant
    }
}

public struct TreeHead: Sendable, Equatable, Codable {
    public let size: UInt64
    public let rootHash: MerkleHash

    public init(size: UInt64, rootHash: MerkleHash) {
        self.size = size
        self.rootHash = rootHash
    }

    enum CodingKeys: String, CodingKey { case size, rootHash }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        size = try c.decode(UInt64.self, forKey: .size)
        guard let h = MerkleHash(hex: try c.decode(String.self, forKey: .rootHash)) else {
            throw DecodingError.dataCorruptedError(forKey: .rootHash, in: c, debugDescription: "not a 32-byte hex hash")
        }
        rootHash = h
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(size, forKey: .size)
        try c.encode(rootHash.hex, forKey: .rootHash)
    }
}

public struct AppendResult: Sendable, Equatable {
    public let firstIndex: UInt64
    public let head: TreeHead
}

public struct StoredEntry: Sendable, Equatable {
    public let index: UInt64
    public let bytes: [UInt8]
}

public struct MeetingIndexRow: Sendable, Equatable, Codable {
    public let meeting: Commitment
    public let entries: UInt64
    public let first: LogTimestamp
    public let last: LogTimestamp
}

public struct LogStatistics: Sendable, Equatable, Codable {
    public var treeSize: UInt64
    public var entriesByKind: [String: UInt64]
    public var entriesByJurisdiction: [String: UInt64]
    public var tenants: UInt64
    public var meetings: UInt64
    public var artifactsStored: UInt64
    public var artifactsDeleted: UInt64
    public var checkpoints: UInt64
}

public enum TransparencyStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case corrupt(String)
    case encoding(LogEntryEncodingError)
    case emptyBatch
    case configuration(String)

    public var description: String {
        switch self {
        case let .corrupt(why): "the transparency store is damaged: \(why)"
        case let .encoding(e): "\(e)"
        case .emptyBatch: "append needs at least one entry"
        case let .configuration(why): "transparency store configuration: \(why)"
        }
    }
}

extension MerkleHash {
    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let hi = hexNibble(a), let lo = hexNibble(b) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        self.init(bytes)
    }
}

private func hexNibble(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: c - 48
    case 97...102: c - 87
    case 65...70: c - 55
    default: nil
    }
}

/// What an entry contributes to the non-log indexes (derived, never trusted by verifiers).
struct EntryIndexFacts {
    let kind: LogEventKind
    /// The main jurisdiction for operator statistics (the hop's node, or the home node).
    let jurisdiction: String?
    let artifactStored: (artifact: Commitment, kind: ArtifactKind, at: NodeLocation, retainUntil: LogTimestamp)?
    let artifactDeleted: Commitment?

    init(_ entry: LogEntry) {
        kind = entry.event.kind
        var stored: (Commitment, ArtifactKind, NodeLocation, LogTimestamp)?
        var deleted: Commitment?
        switch entry.event {
        case .policyApplied: jurisdiction = nil
        case let .placementDecided(_, home, _): jurisdiction = home.jurisdiction.rawValue
        case let .participantJoined(_, at), let .participantLeft(_, at), let .mediaProcessed(at, _), let .nodeRefused(at, _):
            jurisdiction = at.jurisdiction.rawValue
        case let .relayLinkOpened(from, _), let .relayLinkClosed(from, _): jurisdiction = from.jurisdiction.rawValue
        case let .artifactStored(artifact, kind, at, until):
            jurisdiction = at.jurisdiction.rawValue
            stored = (artifact, kind, at, until)
        case let .artifactDeleted(artifact, _, at, _):
            jurisdiction = at.jurisdiction.rawValue
            deleted = artifact
        }
        artifactStored = stored
        artifactDeleted = deleted
    }
}
