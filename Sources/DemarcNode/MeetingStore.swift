import GRDB
import Foundation

/// The meetings this node serves or holds in its directory, in SQLite (GRDB, WAL), so a
/// restarted node still knows them. One row per (tenant, meeting); the record is JSON.
final class MeetingStore: Sendable {
    let db: DatabaseQueue

    /// Opens (creating) the store at `path`; `":memory:"` for tests.
    init(path: String) throws {
        db = path == ":memory:" ? try DatabaseQueue() : try DatabaseQueue(path: path)
        if path != ":memory:" { _ = try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode=WAL") } }
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meeting (
                    tenant TEXT NOT NULL,
                    id TEXT NOT NULL,
                    record BLOB NOT NULL,
                    PRIMARY KEY (tenant, id)
                );
                """)
        }
        try m.migrate(db)
    }

    func all() throws -> [MeetingRecord] {
        let blobs = try db.read { try Data.fetchAll($0, sql: "SELECT record FROM meeting ORDER BY tenant, id") }
        return blobs.compactMap { try? JSONDecoder().decode(MeetingRecord.self, from: $0) }
    }

    func save(_ record: MeetingRecord) throws {
        let data = try JSONEncoder().encode(record)
        try db.write { db in
            try db.execute(sql: "INSERT INTO meeting (tenant, id, record) VALUES (?, ?, ?) ON CONFLICT(tenant, id) DO UPDATE SET record = excluded.record",
                           arguments: [record.tenant, record.id, data])
        }
    }

    func delete(tenant: String, id: String) throws {
        try db.write { try $0.execute(sql: "DELETE FROM meeting WHERE tenant = ? AND id = ?", arguments: [tenant, id]) }
    }

    func deleteTenant(_ tenant: String) throws {
        try db.write { try $0.execute(sql: "DELETE FROM meeting WHERE tenant = ?", arguments: [tenant]) }
    }
}
