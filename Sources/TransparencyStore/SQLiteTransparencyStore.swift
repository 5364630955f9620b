public import Transparency
import GRDB
import Foundation
import SodiumWrapper
import Residency

/// The embedded default store: SQLite through GRDB, in WAL mode.
///
/// Durability: `append` runs one write transaction per batch. With
/// `Durability.powerLoss` (the default) the connection uses `synchronous=FULL`, so
/// the WAL is fsynced before the commit returns and an acknowledged batch survives
/// kill -9, an OS crash and power loss. `Durability.processCrash` uses
/// `synchronous=NORMAL`: in WAL mode a committed transaction is in the OS page cache
/// when `COMMIT` returns, which survives kill -9 of this process (the kernel still
/// writes it out) but not a kernel crash or power cut. See docs/transparency.md.
///
/// Tamper resistance at rest: triggers refuse UPDATE and DELETE on log tables, and
/// `secure_delete` overwrites destroyed tenant secrets rather than leaving them in
/// free pages.
public final class SQLiteTransparencyStore: TransparencyLogStore {
    public enum Durability: String, Sendable, Codable {
        case powerLoss, processCrash
    }

    private let pool: DatabasePool
    public let path: String

    public init(path: String, durability: Durability = .powerLoss) throws {
        var config = Configuration()
        config.label = "demarc.transparency"
        config.busyMode = .timeout(10)
        let synchronous = durability == .powerLoss ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // 64 MiB page cache per connection: the subtree and per-meeting indexes stay
            // hot at millions of entries (the default 2 MiB thrashes above ~200,000).
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        self.path = path
        pool = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(pool)
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("transparency-v1") { db in
            try db.execute(sql: """
                CREATE TABLE log_entries (
                    seq INTEGER PRIMARY KEY,
                    entry BLOB NOT NULL,
                    meeting BLOB NOT NULL,
                    meeting_key INTEGER NOT NULL,
                    kind INTEGER NOT NULL,
                    jurisdiction TEXT,
                    logged_at INTEGER NOT NULL
                );
                CREATE INDEX log_entries_by_meeting ON log_entries(meeting_key);
                CREATE TABLE merkle_subtrees (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
                CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL);
                CREATE TABLE tenant_secrets (tenant TEXT PRIMARY KEY, secret BLOB NOT NULL);
                CREATE TABLE tenant_meetings (
                    tenant TEXT NOT NULL, meeting BLOB NOT NULL, meeting_key INTEGER NOT NULL, PRIMARY KEY (tenant, meeting)
                ) WITHOUT ROWID;
                CREATE TABLE artifacts (
                    artifact BLOB PRIMARY KEY, meeting BLOB NOT NULL, tenant TEXT NOT NULL, kind INTEGER NOT NULL,
                    node TEXT NOT NULL, region TEXT NOT NULL, jurisdiction TEXT NOT NULL,
                    retain_until INTEGER NOT NULL, deleted_at INTEGER
                );
                CREATE INDEX artifacts_due ON artifacts(retain_until) WHERE deleted_at IS NULL;
                CREATE INDEX artifacts_by_tenant ON artifacts(tenant) WHERE deleted_at IS NULL;
                CREATE TRIGGER log_entries_append_only_u BEFORE UPDATE ON log_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
                CREATE TRIGGER log_entries_append_only_d BEFORE DELETE ON log_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
                CREATE TRIGGER merkle_subtrees_append_only_u BEFORE UPDATE ON merkle_subtrees BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
                CREATE TRIGGER merkle_subtrees_append_only_d BEFORE DELETE ON merkle_subtrees BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
                CREATE TRIGGER checkpoints_append_only_u BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                CREATE TRIGGER checkpoints_append_only_d BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                """)
        }
        return m
    }

    /// The first 8 bytes of a commitment as an integer: a compact index key for the
    /// per-meeting lookup (commitments are uniformly random, so collisions are rare and
    /// the query also compares the full commitment).
    static func meetingKey(_ c: Commitment) -> Int64 {
        c.bytes[0..<8].reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    /// Subtree key: level in the high bits, index below (2^48 leaves is far beyond need).
    static func key(_ c: SubtreeCoordinate) -> Int64 { Int64(c.level) << 48 | Int64(c.index) }

    // MARK: Appending

    public func append(_ batch: [LogAppend]) async throws -> AppendResult {
        guard !batch.isEmpty else { throw TransparencyStoreError.emptyBatch }
        // Encode outside the write lock.
        var encoded: [(bytes: [UInt8], leaf: MerkleHash, facts: EntryIndexFacts)] = []
        encoded.reserveCapacity(batch.count)
        for a in batch {
            do {
                let bytes = try LogEntryCodec.encode(a.entry)
                encoded.append((bytes, .leaf(bytes), EntryIndexFacts(a.entry)))
            } catch { throw TransparencyStoreError.encoding(error) }
        }
        let prepared = encoded
        return try await pool.write { db in try Self.append(db, batch, prepared) }
    }

    /// Synchronous append, for the benchmark and the crash-test worker.
    public func appendSync(_ batch: [LogAppend]) throws -> AppendResult {
        guard !batch.isEmpty else { throw TransparencyStoreError.emptyBatch }
        var encoded: [(bytes: [UInt8], leaf: MerkleHash, facts: EntryIndexFacts)] = []
        encoded.reserveCapacity(batch.count)
        for a in batch {
            do {
                let bytes = try LogEntryCodec.encode(a.entry)
                encoded.append((bytes, .leaf(bytes), EntryIndexFacts(a.entry)))
            } catch { throw TransparencyStoreError.encoding(error) }
        }
        return try pool.write { db in try Self.append(db, batch, encoded) }
    }

    private static func append(
        _ db: Database, _ batch: [LogAppend], _ encoded: [(bytes: [UInt8], leaf: MerkleHash, facts: EntryIndexFacts)]
    ) throws -> AppendResult {
        // The compact range is re-read inside the write transaction, so it can never
        // disagree with what is committed (≤ 64 indexed reads per batch).
        var acc = try loadAccumulator(db)
        let first = acc.size
        let insertEntry = try db.cachedStatement(sql: "INSERT INTO log_entries (seq, entry, meeting, meeting_key, kind, jurisdiction, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let insertNode = try db.cachedStatement(sql: "INSERT INTO merkle_subtrees (id, hash) VALUES (?, ?)")
        let insertMeeting = try db.cachedStatement(sql: "INSERT OR IGNORE INTO tenant_meetings (tenant, meeting, meeting_key) VALUES (?, ?, ?)")
        var lastMeeting: (String, Commitment)?
        for (a, e) in zip(batch, encoded) {
            let seq = Int64(acc.size)
            try insertEntry.execute(arguments: [seq, Data(e.bytes), Data(a.entry.meeting.bytes), meetingKey(a.entry.meeting),
                                                Int64(e.facts.kind.rawValue), e.facts.jurisdiction,
                                                Int64(a.entry.timestamp.millisecondsSinceEpoch)])
            var nodeError: (any Error)?
            acc.append(e.leaf) { c, h in
                guard nodeError == nil else { return }
                do { try insertNode.execute(arguments: [key(c), Data(h.bytes)]) } catch { nodeError = error }
            }
            if let nodeError { throw nodeError }
            if lastMeeting == nil || lastMeeting! != (a.tenant, a.entry.meeting) {
                try insertMeeting.execute(arguments: [a.tenant, Data(a.entry.meeting.bytes), meetingKey(a.entry.meeting)])
                lastMeeting = (a.tenant, a.entry.meeting)
            }
            if let s = e.facts.artifactStored {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO artifacts (artifact, meeting, tenant, kind, node, region, jurisdiction, retain_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [Data(s.artifact.bytes), Data(a.entry.meeting.bytes), a.tenant, Int64(s.kind.rawValue),
                                     s.at.node.rawValue, s.at.region.rawValue, s.at.jurisdiction.rawValue,
                                     Int64(s.retainUntil.millisecondsSinceEpoch)])
            }
            if let d = e.facts.artifactDeleted {
                try db.execute(sql: "UPDATE artifacts SET deleted_at = ? WHERE artifact = ? AND deleted_at IS NULL",
                               arguments: [Int64(a.entry.timestamp.millisecondsSinceEpoch), Data(d.bytes)])
            }
        }
        return AppendResult(firstIndex: first, head: TreeHead(size: acc.size, rootHash: acc.rootHash))
    }

    private static func loadAccumulator(_ db: Database) throws -> MerkleAccumulator {
        let size = UInt64(try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries") ?? 0)
        let coords = MerkleAccumulator.peakCoordinates(size: size)
        let hashes = try fetchSubtrees(db, Set(coords))
        var peaks: [MerkleHash] = []
        for c in coords {
            guard let h = hashes[c] else { throw TransparencyStoreError.corrupt("missing subtree \(c) of a log of size \(size)") }
            peaks.append(h)
        }
        return try MerkleAccumulator(size: size, peaks: peaks)
    }

    private static func fetchSubtrees(_ db: Database, _ coordinates: Set<SubtreeCoordinate>) throws -> [SubtreeCoordinate: MerkleHash] {
        var out: [SubtreeCoordinate: MerkleHash] = [:]
        // Leaf hashes are not stored: recomputing SHA-256 of one entry is cheaper than
        // storing 32 more bytes per entry, and proofs need at most one leaf.
        let leafStmt = try db.cachedStatement(sql: "SELECT entry FROM log_entries WHERE seq = ?")
        let nodeStmt = try db.cachedStatement(sql: "SELECT hash FROM merkle_subtrees WHERE id = ?")
        for c in coordinates {
            let data: Data? = c.level == 0
                ? try Data.fetchOne(leafStmt, arguments: [Int64(c.index)]).map { Data(MerkleHash.leaf(Array($0)).bytes) }
                : try Data.fetchOne(nodeStmt, arguments: [key(c)])
            if let data {
                guard let h = MerkleHash(Array(data)) else { throw TransparencyStoreError.corrupt("subtree \(c) is not 32 bytes") }
                out[c] = h
            }
        }
        return out
    }

    // MARK: Reading

    public func treeHead() async throws -> TreeHead {
        try await pool.read { db in
            let acc = try Self.loadAccumulator(db)
            return TreeHead(size: acc.size, rootHash: acc.rootHash)
        }
    }

    public func treeHeadSync() throws -> TreeHead {
        try pool.read { db in
            let acc = try Self.loadAccumulator(db)
            return TreeHead(size: acc.size, rootHash: acc.rootHash)
        }
    }

    public func subtreeHashes(_ coordinates: Set<SubtreeCoordinate>) async throws -> [SubtreeCoordinate: MerkleHash] {
        try await pool.read { db in try Self.fetchSubtrees(db, coordinates) }
    }

    /// Synchronous proof read, for the benchmark.
    public func subtreeHashesSync(_ coordinates: Set<SubtreeCoordinate>) throws -> [SubtreeCoordinate: MerkleHash] {
        try pool.read { db in try Self.fetchSubtrees(db, coordinates) }
    }

    public func entries(_ range: Range<UInt64>) async throws -> [[UInt8]] {
        try await pool.read { db in
            try Data.fetchAll(db, sql: "SELECT entry FROM log_entries WHERE seq >= ? AND seq < ? ORDER BY seq",
                              arguments: [Int64(range.lowerBound), Int64(range.upperBound)]).map { Array($0) }
        }
    }

    public func entries(forMeeting meeting: Commitment, below treeSize: UInt64) async throws -> [StoredEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, entry FROM log_entries WHERE meeting_key = ? AND meeting = ? AND seq < ? ORDER BY seq",
                             arguments: [Self.meetingKey(meeting), Data(meeting.bytes), Int64(treeSize)])
                .map { StoredEntry(index: UInt64($0["seq"] as Int64), bytes: Array($0["entry"] as Data)) }
        }
    }

    // MARK: Checkpoints

    public func saveCheckpoint(_ checkpoint: SignedCheckpoint) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO checkpoints (size, root, note) VALUES (?, ?, ?)",
                           arguments: [Int64(checkpoint.checkpoint.size), Data(checkpoint.checkpoint.rootHash.bytes), checkpoint.serialized])
        }
    }

    /// Synchronous checkpoint write, for the crash-test worker.
    public func saveCheckpointSync(_ checkpoint: SignedCheckpoint) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO checkpoints (size, root, note) VALUES (?, ?, ?)",
                           arguments: [Int64(checkpoint.checkpoint.size), Data(checkpoint.checkpoint.rootHash.bytes), checkpoint.serialized])
        }
    }

    public func latestCheckpoint() async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1") }
    }

    public func checkpoint(size: UInt64) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT note FROM checkpoints WHERE size = ?", arguments: [Int64(size)]) }
    }

    // MARK: Artifacts

    private static func artifact(_ row: Row) throws -> ArtifactRecord {
        guard let artifact = Commitment(Array(row["artifact"] as Data)), let meeting = Commitment(Array(row["meeting"] as Data)),
              let kind = ArtifactKind(rawValue: UInt8(clamping: row["kind"] as Int64)),
              let jurisdiction = CountryCode(row["jurisdiction"] as String) else {
            throw TransparencyStoreError.corrupt("malformed artifact row")
        }
        return ArtifactRecord(artifact: artifact, meeting: meeting, tenant: row["tenant"], kind: kind,
                              location: NodeLocation(node: NodeID(row["node"] as String), region: RegionID(row["region"] as String), jurisdiction: jurisdiction),
                              retainUntil: LogTimestamp(millisecondsSinceEpoch: UInt64(row["retain_until"] as Int64)))
    }

    public func artifacts(dueBy: LogTimestamp, limit: Int) async throws -> (due: [ArtifactRecord], next: ArtifactRecord?) {
        try await pool.read { db in
            let due = try Row.fetchAll(db, sql: "SELECT * FROM artifacts WHERE deleted_at IS NULL AND retain_until <= ? ORDER BY retain_until, artifact LIMIT ?",
                                       arguments: [Int64(dueBy.millisecondsSinceEpoch), limit]).map(Self.artifact)
            let next = try Row.fetchOne(db, sql: "SELECT * FROM artifacts WHERE deleted_at IS NULL AND retain_until > ? ORDER BY retain_until LIMIT 1",
                                        arguments: [Int64(dueBy.millisecondsSinceEpoch)]).map(Self.artifact)
            return (due, next)
        }
    }

    public func artifacts(ofTenant tenant: String) async throws -> [ArtifactRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM artifacts WHERE deleted_at IS NULL AND tenant = ? ORDER BY retain_until", arguments: [tenant]).map(Self.artifact)
        }
    }

    // MARK: Tenants

    public func commitmentKey(forTenant tenant: String, create: Bool) async throws -> TenantCommitmentKey? {
        try await pool.write { db in
            if var existing = try Data.fetchOne(db, sql: "SELECT secret FROM tenant_secrets WHERE tenant = ?", arguments: [tenant]).map({ Array($0) }) {
                return TenantCommitmentKey(secret: SecretBytes(consuming: &existing))
            }
            guard create else { return nil }
            let key = TenantCommitmentKey.generate()
            try key.withSecretBytes { raw in
                try db.execute(sql: "INSERT INTO tenant_secrets (tenant, secret) VALUES (?, ?)", arguments: [tenant, Data(raw)])
            }
            return key
        }
    }

    public func destroyTenant(_ tenant: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM tenant_secrets WHERE tenant = ?", arguments: [tenant])
            try db.execute(sql: "DELETE FROM tenant_meetings WHERE tenant = ?", arguments: [tenant])
        }
        // Move the overwritten pages out of the WAL into the main file, so the old
        // secret does not linger in the WAL either.
        try await pool.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    public func meetings(ofTenant tenant: String) async throws -> [MeetingIndexRow] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT m.meeting AS meeting, COUNT(e.seq) AS n, MIN(e.logged_at) AS first, MAX(e.logged_at) AS last
                FROM tenant_meetings m JOIN log_entries e ON e.meeting_key = m.meeting_key AND e.meeting = m.meeting
                WHERE m.tenant = ? GROUP BY m.meeting ORDER BY first
                """, arguments: [tenant]).compactMap { row in
                guard let c = Commitment(Array(row["meeting"] as Data)) else { return nil }
                return MeetingIndexRow(meeting: c, entries: UInt64(row["n"] as Int64),
                                       first: LogTimestamp(millisecondsSinceEpoch: UInt64(row["first"] as Int64)),
                                       last: LogTimestamp(millisecondsSinceEpoch: UInt64(row["last"] as Int64)))
            }
        }
    }

    public func meetingBelongs(_ meeting: Commitment, toTenant tenant: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM tenant_meetings WHERE tenant = ? AND meeting = ?)",
                              arguments: [tenant, Data(meeting.bytes)]) ?? false
        }
    }

    public func statistics() async throws -> LogStatistics {
        try await pool.read { db in
            var stats = LogStatistics(treeSize: 0, entriesByKind: [:], entriesByJurisdiction: [:], tenants: 0, meetings: 0,
                                      artifactsStored: 0, artifactsDeleted: 0, checkpoints: 0)
            stats.treeSize = UInt64(try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries") ?? 0)
            for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM log_entries GROUP BY kind") {
                let name = LogEventKind(rawValue: UInt8(clamping: row["kind"] as Int64))?.description ?? "unknown"
                stats.entriesByKind[name] = UInt64(row["n"] as Int64)
            }
            for row in try Row.fetchAll(db, sql: "SELECT jurisdiction, COUNT(*) AS n FROM log_entries WHERE jurisdiction IS NOT NULL GROUP BY jurisdiction") {
                stats.entriesByJurisdiction[row["jurisdiction"] as String] = UInt64(row["n"] as Int64)
            }
            stats.tenants = UInt64(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM tenant_secrets") ?? 0)
            stats.meetings = UInt64(try Int64.fetchOne(db, sql: "SELECT COUNT(DISTINCT meeting) FROM log_entries") ?? 0)
            stats.artifactsStored = UInt64(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM artifacts WHERE deleted_at IS NULL") ?? 0)
            stats.artifactsDeleted = UInt64(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM artifacts WHERE deleted_at IS NOT NULL") ?? 0)
            stats.checkpoints = UInt64(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM checkpoints") ?? 0)
            return stats
        }
    }
}
