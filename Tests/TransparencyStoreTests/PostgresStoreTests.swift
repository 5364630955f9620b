import Testing
import Foundation
import Logging
import PostgresNIO
@testable import TransparencyStore

/// Runs the store contract against a real PostgreSQL when DEMARC_TEST_POSTGRES_URL is
/// set (e.g. postgres://demarc@127.0.0.1:5432/demarc_test). The test uses a fresh schema
/// per run and drops it afterwards.
@Suite("PostgreSQL transparency store")
struct PostgresStoreTests {
    static let url = ProcessInfo.processInfo.environment["DEMARC_TEST_POSTGRES_URL"]

    @Test(.enabled(if: url != nil, "set DEMARC_TEST_POSTGRES_URL to run against a real PostgreSQL"))
    func satisfiesTheStoreContract() async throws {
        var config = try TransparencyStoreConfiguration.postgresConfiguration(url: Self.url!)
        let schema = "tl_test_\(UInt32.random(in: 0...UInt32.max))"
        config.options.additionalStartupParameters = [("search_path", schema)]
        let client = PostgresClient(configuration: config)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query("CREATE SCHEMA \(unescaped: schema)")
            do {
                let store = PostgresTransparencyStore(client: client)
                try await store.migrate()
                try await store.migrate()  // idempotent
                try await StoreConformance.run(store)
            } catch {
                _ = try? await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
                throw error
            }
            try await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
            group.cancelAll()
        }
    }

    @Test func urlParsing() throws {
        let c = try TransparencyStoreConfiguration.postgresConfiguration(url: "postgres://demarc:pw@db.internal:6543/logs")
        #expect(c.host == "db.internal" && c.port == 6543 && c.username == "demarc" && c.password == "pw" && c.database == "logs")
        #expect(throws: TransparencyStoreError.self) { try TransparencyStoreConfiguration.postgresConfiguration(url: "mysql://x@y/z") }
        #expect(throws: TransparencyStoreError.self) { try TransparencyStoreConfiguration.postgresConfiguration(url: "postgres://db/logs") }
    }
}
