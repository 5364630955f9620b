public import PostgresNIO
import Logging

/// Which store backs the transparency log, as read from the node's config file.
///
///     transparency:
///       store: sqlite              # default
///       path: /var/lib/demarc/transparency.sqlite
///       durability: powerLoss      # or processCrash (see SQLiteTransparencyStore)
///     # or
///       store: postgres
///       url: postgres://demarc@db.eu-de-fra.internal:5432/demarc
public enum TransparencyStoreConfiguration: Sendable, Equatable {
    case sqlite(path: String, durability: SQLiteTransparencyStore.Durability = .powerLoss)
    case postgres(url: String)

    /// Opens the configured store. For PostgreSQL, also returns the client, which the
    /// caller must run (`client.run()`, or add it to the `ServiceGroup`) before use.
    public func open() throws -> (store: any TransparencyLogStore, postgresClient: PostgresClient?) {
        switch self {
        case let .sqlite(path, durability):
            return (try SQLiteTransparencyStore(path: path, durability: durability), nil)
        case let .postgres(url):
            let config = try Self.postgresConfiguration(url: url)
            let client = PostgresClient(configuration: config)
            return (PostgresTransparencyStore(client: client), client)
        }
    }

    /// Parses `postgres://user[:password]@host[:port]/database` (TLS disabled; put the
    /// database on the node's private network or a Unix socket).
    public static func postgresConfiguration(url: String) throws(TransparencyStoreError) -> PostgresClient.Configuration {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw .configuration("url '\(url)' must start with postgres://")
        }
        let rest = url.split(separator: "://", maxSplits: 1)[1]
        let parts = rest.split(separator: "@", maxSplits: 1)
        guard parts.count == 2 else { throw .configuration("url must name a user: postgres://user@host/database") }
        let credentials = parts[0].split(separator: ":", maxSplits: 1)
        let hostAndDB = parts[1].split(separator: "/", maxSplits: 1)
        guard hostAndDB.count == 2, !hostAndDB[1].isEmpty else { throw .configuration("url must name a database: postgres://user@host/database") }
        let hostPort = hostAndDB[0].split(separator: ":", maxSplits: 1)
        var port = 5432
        if hostPort.count == 2 {
            guard let p = Int(hostPort[1]), (1...65535).contains(p) else { throw .configuration("invalid port '\(hostPort[1])'") }
            port = p
        }
        return PostgresClient.Configuration(
            host: String(hostPort[0]), port: port, username: String(credentials[0]),
            password: credentials.count == 2 ? String(credentials[1]) : nil,
            database: String(hostAndDB[1].split(separator: "?")[0]), tls: .disable)
    }
}
