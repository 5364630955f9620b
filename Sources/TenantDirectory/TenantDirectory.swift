public import Foundation
public import Residency
import GRDB
import SodiumWrapper

/// A tenant as the node stores it. Tenants carry no personal data: an id, and
/// the versions of their residency policy.
public struct TenantRecord: Hashable, Sendable {
    public var id: String
    public var createdAt: Date
    /// The version currently applied; nil before the first policy is put.
    public var policyVersion: Int?
}

/// One version of a tenant's policy: the text the tenant wrote, and the digest of
/// what it means (`ResidencyPolicy.canonicalText`), which the transparency log records.
public struct PolicyVersion: Hashable, Sendable {
    public var tenant: String
    public var version: Int
    public var source: String
    public var digest: String
    public var appliedAt: Date
}

/// Why a directory operation was refused.
public enum DirectoryError: Error, Equatable, Sendable, CustomStringConvertible {
    case tenantExists(String)
    case noSuchTenant(String)
    case invalidTenantID(String)
    /// Policy versions only go up: `version` must exceed `current`.
    case staleVersion(tenant: String, version: Int, current: Int)
    /// The policy names another tenant than the one it is put for.
    case tenantMismatch(path: String, policy: String)
    case invalidPolicy(ConfigError)
    case storage(String)

    public var code: String {
        switch self {
        case .tenantExists: "tenant_exists"
        case .noSuchTenant: "no_such_tenant"
        case .invalidTenantID: "invalid_tenant_id"
        case .staleVersion: "stale_policy_version"
        case .tenantMismatch: "tenant_mismatch"
        case .invalidPolicy: "invalid_policy"
        case .storage: "storage_error"
        }
    }

    public var description: String {
        switch self {
        case let .tenantExists(t): "tenant '\(t)' already exists"
        case let .noSuchTenant(t): "no tenant '\(t)'"
        case let .invalidTenantID(t): "'\(t.prefix(70))' is not a tenant id (1-63 characters of a-z, 0-9, '-')"
        case let .staleVersion(t, v, c): "policy version \(v) for '\(t)' is not newer than the applied version \(c); increase `version`"
        case let .tenantMismatch(path, policy): "the policy is for tenant '\(policy)' but was put for '\(path)'"
        case let .invalidPolicy(e): "the policy is invalid:\n\(e)"
        case let .storage(why): "storage failed: \(why)"
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }
}

/// Tenants and their versioned residency policies, in SQLite (GRDB, WAL).
///
/// Every put is validated with `PolicyParser` first; an invalid policy changes
/// nothing. Versions only increase, so a replayed or reordered put cannot roll a
/// tenant back to an older policy.
public final class TenantDirectory: Sendable {
    let db: DatabaseQueue
    public let parser: PolicyParser
    let now: @Sendable () -> Date

    /// Opens (creating and migrating) the directory at `path`; `":memory:"` for tests.
    public init(path: String, catalog: JurisdictionCatalog, now: @escaping @Sendable () -> Date = Date.init) throws(DirectoryError) {
        do {
            var config = Configuration()
            config.foreignKeysEnabled = true
            db = path == ":memory:" ? try DatabaseQueue(configuration: config) : try DatabaseQueue(path: path, configuration: config)
            if path != ":memory:" { _ = try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode=WAL") } }
            try Self.migrator.migrate(db)
        } catch {
            throw .storage("cannot open the tenant directory at \(path): \(error)")
        }
        parser = PolicyParser(catalog: catalog)
        self.now = now
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE tenant (
                    id TEXT PRIMARY KEY NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE policy_version (
                    tenant TEXT NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    applied_at REAL NOT NULL,
                    PRIMARY KEY (tenant, version)
                );
                """)
        }
        return m
    }

    public func createTenant(_ id: String) throws(DirectoryError) -> TenantRecord {
        guard PolicyParser.isValidTenantID(id) else { throw .invalidTenantID(id) }
        let created = now()
        do {
            try db.write { db in
                if try Row.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [id]) != nil { throw DirectoryError.tenantExists(id) }
                try db.execute(sql: "INSERT INTO tenant (id, created_at) VALUES (?, ?)", arguments: [id, created.timeIntervalSince1970])
            }
        } catch let e as DirectoryError { throw e } catch { throw .storage("\(error)") }
        return TenantRecord(id: id, createdAt: created, policyVersion: nil)
    }

    public func tenant(_ id: String) throws(DirectoryError) -> TenantRecord {
        do {
            return try db.read { db in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT t.id, t.created_at, MAX(p.version) AS v FROM tenant t LEFT JOIN policy_version p ON p.tenant = t.id
                    WHERE t.id = ? GROUP BY t.id
                    """, arguments: [id]) else { throw DirectoryError.noSuchTenant(id) }
                return TenantRecord(id: row["id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), policyVersion: row["v"])
            }
        } catch let e as DirectoryError { throw e } catch { throw .storage("\(error)") }
    }

    public func tenantIDs() throws(DirectoryError) -> [String] {
        do { return try db.read { try String.fetchAll($0, sql: "SELECT id FROM tenant ORDER BY id") } } catch { throw .storage("\(error)") }
    }

    /// Validates and applies a new policy version. Returns the stored version, the parsed
    /// policy, and the validator's warnings (which do not stop a policy from applying).
    public func putPolicy(tenant: String, source: String, file: String = "policy") throws(DirectoryError)
        -> (record: PolicyVersion, policy: ResidencyPolicy, warnings: [ConfigProblem]) {
        let check = parser.check(source, file: file)
        guard let policy = check.policy else { throw .invalidPolicy(ConfigError(problems: check.problems)) }
        guard policy.tenant == tenant else { throw .tenantMismatch(path: tenant, policy: policy.tenant) }
        let record = PolicyVersion(tenant: tenant, version: policy.version, source: source,
                                   digest: Self.digest(policy), appliedAt: now())
        do {
            try db.write { db in
                guard try Row.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) != nil else {
                    throw DirectoryError.noSuchTenant(tenant)
                }
                let current = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM policy_version WHERE tenant = ?", arguments: [tenant])
                if let current, policy.version <= current {
                    throw DirectoryError.staleVersion(tenant: tenant, version: policy.version, current: current)
                }
                try db.execute(sql: "INSERT INTO policy_version (tenant, version, source, digest, applied_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [tenant, record.version, source, record.digest, record.appliedAt.timeIntervalSince1970])
            }
        } catch let e as DirectoryError { throw e } catch { throw .storage("\(error)") }
        return (record, policy, check.warnings)
    }

    /// The applied (newest) policy of `tenant`, parsed; nil when none was put yet.
    public func currentPolicy(tenant: String) throws(DirectoryError) -> (PolicyVersion, ResidencyPolicy)? {
        let row: Row?
        do {
            row = try db.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM policy_version WHERE tenant = ? ORDER BY version DESC LIMIT 1", arguments: [tenant])
            }
        } catch { throw .storage("\(error)") }
        guard let row else {
            _ = try self.tenant(tenant)  // throws noSuchTenant when appropriate
            return nil
        }
        let record = PolicyVersion(tenant: row["tenant"], version: row["version"], source: row["source"], digest: row["digest"],
                                   appliedAt: Date(timeIntervalSince1970: row["applied_at"]))
        do { return (record, try parser.parse(record.source, file: "\(tenant) v\(record.version)")) } catch { throw .invalidPolicy(error) }
    }

    /// Every version of `tenant`'s policy, oldest first.
    public func policyHistory(tenant: String) throws(DirectoryError) -> [PolicyVersion] {
        _ = try self.tenant(tenant)
        do {
            return try db.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM policy_version WHERE tenant = ? ORDER BY version", arguments: [tenant]).map {
                    PolicyVersion(tenant: $0["tenant"], version: $0["version"], source: $0["source"], digest: $0["digest"],
                                  appliedAt: Date(timeIntervalSince1970: $0["applied_at"]))
                }
            }
        } catch { throw .storage("\(error)") }
    }

    /// Deletes the tenant and its policies (the transparency log keeps only commitments).
    public func deleteTenant(_ id: String) throws(DirectoryError) {
        do {
            let deleted = try db.write { db -> Int in
                try db.execute(sql: "DELETE FROM tenant WHERE id = ?", arguments: [id])
                return db.changesCount
            }
            if deleted == 0 { throw DirectoryError.noSuchTenant(id) }
        } catch let e as DirectoryError { throw e } catch { throw .storage("\(error)") }
    }

    /// SHA-256 of the policy's canonical text, hex: identifies exactly what is enforced.
    public static func digest(_ policy: ResidencyPolicy) -> String {
        "sha256:" + Hex.encode(SHA256.hash(Array(policy.canonicalText.utf8)))
    }
}
