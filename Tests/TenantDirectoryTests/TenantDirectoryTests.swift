import Foundation
import Testing
import Residency
import TenantDirectory
import DemarcTestSupport

@Suite struct TenantDirectoryTests {
    func policy(_ tenant: String = "acme", version: Int, allow: String = "EU") -> String {
        "tenant: \(tenant)\nversion: \(version)\njurisdictions: [\(allow)]\n"
    }

    func directory(_ path: String = ":memory:") throws -> TenantDirectory {
        try TenantDirectory(path: path, catalog: Fixtures.catalog, now: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    @Test func createPutAndReadBack() throws {
        let d = try directory()
        let t = try d.createTenant("acme")
        #expect(t.policyVersion == nil)
        #expect(try d.currentPolicy(tenant: "acme") == nil)
        let (v1, p1, _) = try d.putPolicy(tenant: "acme", source: policy(version: 1))
        #expect(v1.version == 1 && p1.rule(.media).allowed.count == 27)
        #expect(v1.digest.hasPrefix("sha256:") && v1.digest.count == 7 + 64)
        _ = try d.putPolicy(tenant: "acme", source: policy(version: 3, allow: "DE"))
        let (current, parsed) = try #require(try d.currentPolicy(tenant: "acme"))
        #expect(current.version == 3 && parsed.rule(.media).allowed == [CountryCode("DE")!])
        #expect(try d.tenant("acme").policyVersion == 3)
        #expect(try d.policyHistory(tenant: "acme").map(\.version) == [1, 3])
    }

    @Test func versionsOnlyGoUp() throws {
        let d = try directory()
        _ = try d.createTenant("acme")
        _ = try d.putPolicy(tenant: "acme", source: policy(version: 5))
        #expect(throws: DirectoryError.staleVersion(tenant: "acme", version: 5, current: 5)) { _ = try d.putPolicy(tenant: "acme", source: policy(version: 5)) }
        #expect(throws: DirectoryError.staleVersion(tenant: "acme", version: 2, current: 5)) { _ = try d.putPolicy(tenant: "acme", source: policy(version: 2)) }
        #expect(try d.currentPolicy(tenant: "acme")?.0.version == 5)
    }

    @Test func refusalsChangeNothing() throws {
        let d = try directory()
        _ = try d.createTenant("acme")
        #expect(throws: DirectoryError.tenantExists("acme")) { _ = try d.createTenant("acme") }
        #expect(throws: DirectoryError.invalidTenantID("Acme Inc")) { _ = try d.createTenant("Acme Inc") }
        #expect(throws: DirectoryError.tenantMismatch(path: "acme", policy: "other")) { _ = try d.putPolicy(tenant: "acme", source: policy("other", version: 1)) }
        #expect(throws: DirectoryError.noSuchTenant("ghost")) { _ = try d.putPolicy(tenant: "ghost", source: policy("ghost", version: 1)) }
        #expect {
            _ = try d.putPolicy(tenant: "acme", source: "tenant: acme\nversion: 1\njurisdictions: [XZ]\n")
        } throws: { ($0 as? DirectoryError)?.code == "invalid_policy" }
        #expect(try d.currentPolicy(tenant: "acme") == nil)
        #expect(throws: DirectoryError.noSuchTenant("ghost")) { _ = try d.currentPolicy(tenant: "ghost") }
    }

    @Test func survivesReopenAndDeletes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-\(UUID().uuidString).sqlite").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        do {
            let d = try directory(path)
            _ = try d.createTenant("acme")
            _ = try d.createTenant("beta")
            _ = try d.putPolicy(tenant: "acme", source: policy(version: 2))
        }
        let again = try directory(path)
        #expect(try again.tenantIDs() == ["acme", "beta"])
        #expect(try again.currentPolicy(tenant: "acme")?.0.version == 2)
        try again.deleteTenant("acme")
        #expect(try again.tenantIDs() == ["beta"])
        #expect(throws: DirectoryError.noSuchTenant("acme")) { try again.deleteTenant("acme") }
    }

    @Test func theDigestIdentifiesMeaningNotSpelling() throws {
        let parser = PolicyParser(catalog: Fixtures.catalog)
        let a = try parser.parse("tenant: a\nversion: 1\njurisdictions: [EU]\n", file: "a")
        let b = try parser.parse("{\"tenant\": \"a\", \"version\": 1, \"jurisdictions\": [\"EU\"]}", file: "b")
        let c = try parser.parse("tenant: a\nversion: 1\njurisdictions: [EEA]\n", file: "c")
        #expect(TenantDirectory.digest(a) == TenantDirectory.digest(b))
        #expect(TenantDirectory.digest(a) != TenantDirectory.digest(c))
    }
}
