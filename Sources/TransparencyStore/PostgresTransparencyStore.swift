public import Transparency
public import PostgresNIO
import NIOCore
import Foundation
import Logging
import SodiumWrapper
import Residency

/// The same store contract on PostgreSQL (postgres-nio), for operators who keep the log
/// in a regional database. The caller owns the `PostgresClient` and runs it in its
/// `ServiceGroup` (it is a `Service`).
///
/// Durability: each append is one transaction committed with the server's
/// `synchronous_commit` (default `on`: WAL flushed to disk before COMMIT returns).
/// Appends are serialised with a transaction-scoped advisory lock, so concurrent nodes or
/// processes sharing one database cannot interleave indices.
public final class PostgresTransparencyStore: TransparencyLogStore {
    private let client: PostgresClient
    private let logger: Logger
    /// Advisory lock key for the append critical section ("demarc-tl").
    private static let appendLock: Int64 = 0x6465_6D61_7263_746C

    public init(client: PostgresClient, logger: Logger = Logger(label: "demarc.transparency.postgres")) {
        self.client = client
        self.logger = logger
    }

    /// Creates the schema when missing (idempotent).
    public func migrate() async throws {
        let statements: [PostgresQuery] = [
            "CREATE TABLE IF NOT EXISTS tl_log_entries (seq BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, entry BYTEA NOT NULL, meeting BYTEA NOT NULL, kind INTEGER NOT NULL, jurisdiction TEXT, logged_at BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS tl_log_entries_by_meeting ON tl_log_entries (meeting, seq)",
            "CREATE TABLE IF NOT EXISTS tl_merkle_subtrees (id BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
            "CREATE TABLE IF NOT EXISTS tl_checkpoints (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, note TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS tl_tenant_secrets (tenant TEXT PRIMARY KEY, secret BYTEA NOT NULL)",
            "CREATE TABLE IF NOT EXISTS tl_tenant_meetings (tenant TEXT NOT NULL, meeting BYTEA NOT NULL, PRIMARY KEY (tenant, meeting))",
            "CREATE TABLE IF NOT EXISTS tl_artifacts (artifact BYTEA PRIMARY KEY, meeting BYTEA NOT NULL, tenant TEXT NOT NULL, kind INTEGER NOT NULL, node TEXT NOT NULL, region TEXT NOT NULL, jurisdiction TEXT NOT NULL, retain_until BIGINT NOT NULL, deleted_at BIGINT)",
            "CREATE INDEX IF NOT EXISTS tl_artifacts_due ON tl_artifacts (retain_until) WHERE deleted_at IS NULL",
            """
            CREATE OR REPLACE FUNCTION tl_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the transparency log is append-only'; END $$
            """,
            "DROP TRIGGER IF EXISTS tl_log_entries_append_only ON tl_log_entries",
            "CREATE TRIGGER tl_log_entries_append_only BEFORE UPDATE OR DELETE ON tl_log_entries FOR EACH ROW EXECUTE FUNCTION tl_refuse_rewrite()",
            "DROP TRIGGER IF EXISTS tl_merkle_subtrees_append_only ON tl_merkle_subtrees",
            "CREATE TRIGGER tl_merkle_subtrees_append_only BEFORE UPDATE OR DELETE ON tl_merkle_subtrees FOR EACH ROW EXECUTE FUNCTION tl_refuse_rewrite()",
            "DROP TRIGGER IF EXISTS tl_checkpoints_append_only ON tl_checkpoints",
            "CREATE TRIGGER tl_checkpoints_append_only BEFORE UPDATE OR DELETE ON tl_checkpoints FOR EACH ROW EXECUTE FUNCTION tl_refuse_rewrite()",
        ]
        try await client.withTransaction(logger: logger) { conn in
            // Serialise concurrent migrations of the same database.
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))", logger: logger)
            for s in statements { try await conn.query(s, logger: logger) }
        }
    }

    private static func key(_ c: SubtreeCoordinate) -> Int64 { Int64(c.level) << 48 | Int64(c.index) }

    public func append(_ batch: [LogAppend]) async throws -> AppendResult {
        guard !batch.isEmpty else { throw TransparencyStoreError.emptyBatch }
        var encoded: [(bytes: [UInt8], leaf: MerkleHash, facts: EntryIndexFacts)] = []
        for a in batch {
            do {
                let bytes = try LogEntryCodec.encode(a.entry)
                encoded.append((bytes, .leaf(bytes), EntryIndexFacts(a.entry)))
            } catch { throw TransparencyStoreError.encoding(error) }
        }
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))", logger: logger)
            var acc = try await Self.loadAccumulator(conn, logger)
            let first = acc.size
            var seqs: [Int64] = [], leaves: [ByteBuffer] = [], entries: [ByteBuffer] = [], meetings: [ByteBuffer] = []
            var kinds: [Int64] = [], jurisdictions: [String] = [], times: [Int64] = []
            var nodeIDs: [Int64] = [], nodeHashes: [ByteBuffer] = []
            for (a, e) in zip(batch, encoded) {
                seqs.append(Int64(acc.size))
                leaves.append(ByteBuffer(bytes: e.leaf.bytes))
                entries.append(ByteBuffer(bytes: e.bytes))
                meetings.append(ByteBuffer(bytes: a.entry.meeting.bytes))
                kinds.append(Int64(e.facts.kind.rawValue))
                jurisdictions.append(e.facts.jurisdiction ?? "")
                times.append(Int64(a.entry.timestamp.millisecondsSinceEpoch))
                acc.append(e.leaf) { c, h in
                    nodeIDs.append(Self.key(c))
                    nodeHashes.append(ByteBuffer(bytes: h.bytes))
                }
            }
            try await conn.query("""
                INSERT INTO tl_log_entries (seq, leaf_hash, entry, meeting, kind, jurisdiction, logged_at)
                SELECT s, l, e, m, k, NULLIF(j, ''), t FROM UNNEST(\(seqs)::int8[], \(leaves)::bytea[], \(entries)::bytea[], \(meetings)::bytea[], \(kinds)::int8[], \(jurisdictions)::text[], \(times)::int8[]) AS u(s, l, e, m, k, j, t)
                """, logger: logger)
            if !nodeIDs.isEmpty {
                try await conn.query("INSERT INTO tl_merkle_subtrees (id, hash) SELECT * FROM UNNEST(\(nodeIDs)::int8[], \(nodeHashes)::bytea[])", logger: logger)
            }
            let tenants = batch.map(\.tenant)
            let tenantMeetings = batch.map { ByteBuffer(bytes: $0.entry.meeting.bytes) }
            try await conn.query("INSERT INTO tl_tenant_meetings (tenant, meeting) SELECT DISTINCT * FROM UNNEST(\(tenants)::text[], \(tenantMeetings)::bytea[]) ON CONFLICT DO NOTHING", logger: logger)
            for (a, e) in zip(batch, encoded) {
                if let s = e.facts.artifactStored {
                    let artifact = Data(s.artifact.bytes), meeting = Data(a.entry.meeting.bytes), kind = Int64(s.kind.rawValue)
                    let node = s.at.node.rawValue, region = s.at.region.rawValue, j = s.at.jurisdiction.rawValue
                    let until = Int64(s.retainUntil.millisecondsSinceEpoch)
                    try await conn.query("""
                        INSERT INTO tl_artifacts (artifact, meeting, tenant, kind, node, region, jurisdiction, retain_until)
                        VALUES (\(artifact), \(meeting), \(a.tenant), \(kind), \(node), \(region), \(j), \(until)) ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
                if let d = e.facts.artifactDeleted {
                    let at = Int64(a.entry.timestamp.millisecondsSinceEpoch), artifact = Data(d.bytes)
                    try await conn.query("UPDATE tl_artifacts SET deleted_at = \(at) WHERE artifact = \(artifact) AND deleted_at IS NULL", logger: logger)
                }
            }
            return AppendResult(firstIndex: first, head: TreeHead(size: acc.size, rootHash: acc.rootHash))
        }
    }

    private static func size(_ conn: PostgresConnection, _ logger: Logger) async throws -> UInt64 {
        let rows = try await conn.query("SELECT COALESCE(MAX(seq) + 1, 0)::int8 FROM tl_log_entries", logger: logger)
        for try await (n) in rows.decode(Int64.self) { return UInt64(n) }
        return 0
    }

    private static func loadAccumulator(_ conn: PostgresConnection, _ logger: Logger) async throws -> MerkleAccumulator {
        let size = try await size(conn, logger)
        let coords = MerkleAccumulator.peakCoordinates(size: size)
        let hashes = try await fetchSubtrees(conn, Set(coords), logger)
        var peaks: [MerkleHash] = []
        for c in coords {
            guard let h = hashes[c] else { throw TransparencyStoreError.corrupt("missing subtree \(c) of a log of size \(size)") }
            peaks.append(h)
        }
        return try MerkleAccumulator(size: size, peaks: peaks)
    }

    private static func fetchSubtrees(_ conn: PostgresConnection, _ coordinates: Set<SubtreeCoordinate>, _ logger: Logger) async throws -> [SubtreeCoordinate: MerkleHash] {
        var out: [SubtreeCoordinate: MerkleHash] = [:]
        let leafSeqs = coordinates.filter { $0.level == 0 }.map { Int64($0.index) }
        let nodeIDs = coordinates.filter { $0.level > 0 }.map(key)
        if !leafSeqs.isEmpty {
            for try await (seq, hash) in try await conn.query("SELECT seq, leaf_hash FROM tl_log_entries WHERE seq = ANY(\(leafSeqs))", logger: logger).decode((Int64, Data).self) {
                guard let h = MerkleHash(Array(hash)) else { throw TransparencyStoreError.corrupt("leaf hash \(seq) is not 32 bytes") }
                out[SubtreeCoordinate(level: 0, index: UInt64(seq))] = h
            }
        }
        if !nodeIDs.isEmpty {
            for try await (id, hash) in try await conn.query("SELECT id, hash FROM tl_merkle_subtrees WHERE id = ANY(\(nodeIDs))", logger: logger).decode((Int64, Data).self) {
                guard let h = MerkleHash(Array(hash)) else { throw TransparencyStoreError.corrupt("subtree \(id) is not 32 bytes") }
                out[SubtreeCoordinate(level: Int(id >> 48), index: UInt64(id & 0xFFFF_FFFF_FFFF))] = h
            }
        }
        return out
    }

    public func treeHead() async throws -> TreeHead {
        let logger = self.logger
        return try await client.withConnection { conn in
            let acc = try await Self.loadAccumulator(conn, logger)
            return TreeHead(size: acc.size, rootHash: acc.rootHash)
        }
    }

    public func subtreeHashes(_ coordinates: Set<SubtreeCoordinate>) async throws -> [SubtreeCoordinate: MerkleHash] {
        let logger = self.logger
        return try await client.withConnection { conn in try await Self.fetchSubtrees(conn, coordinates, logger) }
    }

    public func entries(_ range: Range<UInt64>) async throws -> [[UInt8]] {
        let lo = Int64(range.lowerBound), hi = Int64(range.upperBound)
        var out: [[UInt8]] = []
        for try await (entry) in try await client.query("SELECT entry FROM tl_log_entries WHERE seq >= \(lo) AND seq < \(hi) ORDER BY seq", logger: logger).decode(Data.self) {
            out.append(Array(entry))
        }
        return out
    }

    public func entries(forMeeting meeting: Commitment, below treeSize: UInt64) async throws -> [StoredEntry] {
        let m = Data(meeting.bytes), n = Int64(treeSize)
        var out: [StoredEntry] = []
        for try await (seq, entry) in try await client.query("SELECT seq, entry FROM tl_log_entries WHERE meeting = \(m) AND seq < \(n) ORDER BY seq", logger: logger).decode((Int64, Data).self) {
            out.append(StoredEntry(index: UInt64(seq), bytes: Array(entry)))
        }
        return out
    }

    public func saveCheckpoint(_ checkpoint: SignedCheckpoint) async throws {
        let size = Int64(checkpoint.checkpoint.size), root = Data(checkpoint.checkpoint.rootHash.bytes), note = checkpoint.serialized
        try await client.query("INSERT INTO tl_checkpoints (size, root, note) VALUES (\(size), \(root), \(note)) ON CONFLICT DO NOTHING", logger: logger)
    }

    public func latestCheckpoint() async throws -> String? {
        for try await (note) in try await client.query("SELECT note FROM tl_checkpoints ORDER BY size DESC LIMIT 1", logger: logger).decode(String.self) {
            return note
        }
        return nil
    }

    public func checkpoint(size: UInt64) async throws -> String? {
        let s = Int64(size)
        for try await (note) in try await client.query("SELECT note FROM tl_checkpoints WHERE size = \(s)", logger: logger).decode(String.self) {
            return note
        }
        return nil
    }

    private typealias ArtifactRow = (Data, Data, String, Int64, String, String, String, Int64)

    private static func artifact(_ r: ArtifactRow) throws -> ArtifactRecord {
        guard let artifact = Commitment(Array(r.0)), let meeting = Commitment(Array(r.1)),
              let kind = ArtifactKind(rawValue: UInt8(clamping: r.3)), let j = CountryCode(r.6) else {
            throw TransparencyStoreError.corrupt("malformed artifact row")
        }
        return ArtifactRecord(artifact: artifact, meeting: meeting, tenant: r.2, kind: kind,
                              location: NodeLocation(node: NodeID(r.4), region: RegionID(r.5), jurisdiction: j),
                              retainUntil: LogTimestamp(millisecondsSinceEpoch: UInt64(r.7)))
    }

    public func artifacts(dueBy: LogTimestamp, limit: Int) async throws -> (due: [ArtifactRecord], next: ArtifactRecord?) {
        let t = Int64(dueBy.millisecondsSinceEpoch), l = Int64(limit)
        var due: [ArtifactRecord] = []
        for try await row in try await client.query("SELECT artifact, meeting, tenant, kind::int8, node, region, jurisdiction, retain_until FROM tl_artifacts WHERE deleted_at IS NULL AND retain_until <= \(t) ORDER BY retain_until, artifact LIMIT \(l)", logger: logger).decode(ArtifactRow.self) {
            due.append(try Self.artifact(row))
        }
        var next: ArtifactRecord?
        for try await row in try await client.query("SELECT artifact, meeting, tenant, kind::int8, node, region, jurisdiction, retain_until FROM tl_artifacts WHERE deleted_at IS NULL AND retain_until > \(t) ORDER BY retain_until LIMIT 1", logger: logger).decode(ArtifactRow.self) {
            next = try Self.artifact(row)
        }
        return (due, next)
    }

    public func artifacts(ofTenant tenant: String) async throws -> [ArtifactRecord] {
        var out: [ArtifactRecord] = []
        for try await row in try await client.query("SELECT artifact, meeting, tenant, kind::int8, node, region, jurisdiction, retain_until FROM tl_artifacts WHERE deleted_at IS NULL AND tenant = \(tenant) ORDER BY retain_until", logger: logger).decode(ArtifactRow.self) {
            out.append(try Self.artifact(row))
        }
        return out
    }

    public func commitmentKey(forTenant tenant: String, create: Bool) async throws -> TenantCommitmentKey? {
        for try await (secret) in try await client.query("SELECT secret FROM tl_tenant_secrets WHERE tenant = \(tenant)", logger: logger).decode(Data.self) {
            var raw = Array(secret)
            return TenantCommitmentKey(secret: SecretBytes(consuming: &raw))
        }
        guard create else { return nil }
        let key = TenantCommitmentKey.generate()
        let raw = key.withSecretBytes { Data($0) }
        try await client.query("INSERT INTO tl_tenant_secrets (tenant, secret) VALUES (\(tenant), \(raw)) ON CONFLICT DO NOTHING", logger: logger)
        // Another writer may have won the race; return whichever secret is stored.
        return try await commitmentKey(forTenant: tenant, create: false)
    }

    public func destroyTenant(_ tenant: String) async throws {
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("DELETE FROM tl_tenant_secrets WHERE tenant = \(tenant)", logger: self.logger)
            try await conn.query("DELETE FROM tl_tenant_meetings WHERE tenant = \(tenant)", logger: self.logger)
        }
    }

    public func meetings(ofTenant tenant: String) async throws -> [MeetingIndexRow] {
        var out: [MeetingIndexRow] = []
        for try await (meeting, n, first, last) in try await client.query("""
            SELECT m.meeting, COUNT(e.seq)::int8, MIN(e.logged_at)::int8, MAX(e.logged_at)::int8
            FROM tl_tenant_meetings m JOIN tl_log_entries e ON e.meeting = m.meeting
            WHERE m.tenant = \(tenant) GROUP BY m.meeting ORDER BY 3
            """, logger: logger).decode((Data, Int64, Int64, Int64).self) {
            guard let c = Commitment(Array(meeting)) else { continue }
            out.append(MeetingIndexRow(meeting: c, entries: UInt64(n), first: LogTimestamp(millisecondsSinceEpoch: UInt64(first)),
                                       last: LogTimestamp(millisecondsSinceEpoch: UInt64(last))))
        }
        return out
    }

    public func meetingBelongs(_ meeting: Commitment, toTenant tenant: String) async throws -> Bool {
        let m = Data(meeting.bytes)
        for try await (exists) in try await client.query("SELECT EXISTS (SELECT 1 FROM tl_tenant_meetings WHERE tenant = \(tenant) AND meeting = \(m))", logger: logger).decode(Bool.self) {
            return exists
        }
        return false
    }

    private func count(_ q: PostgresQuery) async throws -> UInt64 {
        for try await (n) in try await client.query(q, logger: logger).decode(Int64.self) { return UInt64(n) }
        return 0
    }

    public func statistics() async throws -> LogStatistics {
        var stats = LogStatistics(treeSize: 0, entriesByKind: [:], entriesByJurisdiction: [:], tenants: 0, meetings: 0,
                                  artifactsStored: 0, artifactsDeleted: 0, checkpoints: 0)
        stats.treeSize = try await count("SELECT COALESCE(MAX(seq) + 1, 0)::int8 FROM tl_log_entries")
        for try await (kind, n) in try await client.query("SELECT kind::int8, COUNT(*)::int8 FROM tl_log_entries GROUP BY kind", logger: logger).decode((Int64, Int64).self) {
            stats.entriesByKind[LogEventKind(rawValue: UInt8(clamping: kind))?.description ?? "unknown"] = UInt64(n)
        }
        for try await (j, n) in try await client.query("SELECT jurisdiction, COUNT(*)::int8 FROM tl_log_entries WHERE jurisdiction IS NOT NULL GROUP BY jurisdiction", logger: logger).decode((String, Int64).self) {
            stats.entriesByJurisdiction[j] = UInt64(n)
        }
        stats.tenants = try await count("SELECT COUNT(*)::int8 FROM tl_tenant_secrets")
        stats.meetings = try await count("SELECT COUNT(DISTINCT meeting)::int8 FROM tl_log_entries")
        stats.artifactsStored = try await count("SELECT COUNT(*)::int8 FROM tl_artifacts WHERE deleted_at IS NULL")
        stats.artifactsDeleted = try await count("SELECT COUNT(*)::int8 FROM tl_artifacts WHERE deleted_at IS NOT NULL")
        stats.checkpoints = try await count("SELECT COUNT(*)::int8 FROM tl_checkpoints")
        return stats
    }
}
