public import Residency
import Foundation
import Yams

/// A host and port, `127.0.0.1:7946`, `[::1]:7946` or `node-1.demarc:7946`.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// nil unless `text` is `host:port` (IPv6 in brackets) with a port in 1...65535.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        var host: Substring, portText: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]"), t[t.index(after: close)...].hasPrefix(":") else { return nil }
            host = t[t.index(after: t.startIndex)..<close]
            portText = t[t.index(close, offsetBy: 2)...]
        } else {
            guard let colon = t.lastIndex(of: ":"), !t[..<colon].contains(":") else { return nil }
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace }),
              let port = Int(portText), (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How verbose the node's structured logs are.
public enum LogLevel: String, Hashable, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }

/// Where the node keeps its transparency log, tenants and meetings.
public enum StoreSettings: Hashable, Sendable {
    /// The embedded default: one SQLite file (WAL).
    case sqlite(path: String)
    /// A regional PostgreSQL database, for operators who want one.
    case postgres(url: String)
}

/// Everything `demarc node run --config node.yaml` needs. Paths are as written
/// in the file, resolved against the file's directory by `NodeConfig.load`.
public struct NodeConfig: Hashable, Sendable {
    public struct Identity: Hashable, Sendable {
        public var id: String
        /// Must match the certificate's region.
        public var region: String
        public var keyPath: String
        public var certificatePath: String
        /// Participant slots this node offers.
        public var capacity: Int
    }

    public struct Trust: Hashable, Sendable {
        /// Operator public keys whose node certificates this node believes.
        public var operatorKeyPaths: [String]
        /// Jurisdiction catalog; nil means the default search path.
        public var jurisdictionsPath: String?
        /// Region catalog (a topology file's `regions:` and `latency:`); nil means the
        /// default search path (`Topologies/regions.yaml`).
        public var regionsPath: String? = nil
    }

    public struct Gossip: Hashable, Sendable {
        public var bind: SocketAddress
        /// What other nodes are told to use; defaults to `bind`.
        public var advertise: SocketAddress
        public var seeds: [SocketAddress]
        /// The cluster keyring file (the primary key seals; every key opens).
        public var keyringPath: String
        /// Push-pull anti-entropy interval, seconds.
        public var pushPullIntervalSeconds: Int
    }

    public struct HTTP: Hashable, Sendable {
        public var bind: SocketAddress
    }

    /// WebRTC media (UDP). Optional: a node without it serves control traffic only.
    public struct Media: Hashable, Sendable {
        public var bind: SocketAddress
    }

    public struct Tokens: Hashable, Sendable {
        /// The cluster-wide Ed25519 key that signs access tokens (every node verifies with it).
        public var issuerKeyPath: String
        /// Lifetime of participant tokens, seconds.
        public var participantTokenSeconds: Int
    }

    public var node: Identity
    public var trust: Trust
    public var gossip: Gossip
    public var http: HTTP
    public var media: Media?
    public var store: StoreSettings
    public var tokens: Tokens
    public var logLevel: LogLevel

    /// Parses a node config, reporting every problem with its line and field.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> NodeConfig {
        var r = YAMLReader(file: file)
        guard let root = r.parse(text),
              let top = r.mapping(root, "", allowed: ["node", "trust", "gossip", "http", "media", "store", "tokens", "logging"]) else {
            throw ConfigError(problems: r.problems)
        }
        let section = Dictionary(top.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        func required(_ name: String) -> Node? {
            if let n = section[name] { return n }
            r.error(root, name, "section '\(name)' is missing", fix: "see Deploy/node.example.yaml")
            return nil
        }

        var node = Identity(id: "", region: "", keyPath: "", certificatePath: "", capacity: 100)
        if let n = required("node"), let f = r.mapping(n, "node", allowed: ["id", "region", "key", "certificate", "capacity"]) {
            var seen = Set<String>()
            for (k, _, v) in f {
                seen.insert(k)
                switch k {
                case "id":
                    if let s = r.string(v, "node.id") {
                        if isNodeID(s) { node.id = s } else {
                            r.error(v, "node.id", "'\(s.prefix(70))' is not a node id", fix: "use 1-64 characters of a-z, 0-9, '-', '_', '.'")
                        }
                    }
                case "region": node.region = r.string(v, "node.region") ?? ""
                case "key": node.keyPath = r.string(v, "node.key") ?? ""
                case "certificate": node.certificatePath = r.string(v, "node.certificate") ?? ""
                default: node.capacity = r.integer(v, "node.capacity", range: 1...1_000_000) ?? node.capacity
                }
            }
            for key in ["id", "region", "key", "certificate"] where !seen.contains(key) {
                r.error(n, "node.\(key)", "missing", fix: key == "key" ? "create one with `demarc node keygen`" : key == "certificate" ? "ask the operator: `demarc node cert issue`" : "")
            }
        }

        var trust = Trust(operatorKeyPaths: [], jurisdictionsPath: nil)
        if let n = required("trust"), let f = r.mapping(n, "trust", allowed: ["operator_keys", "jurisdictions", "regions"]) {
            for (k, _, v) in f {
                switch k {
                case "operator_keys": trust.operatorKeyPaths = (r.strings(v, "trust.operator_keys") ?? []).map(\.0)
                case "regions": trust.regionsPath = r.string(v, "trust.regions")
                default: trust.jurisdictionsPath = r.string(v, "trust.jurisdictions")
                }
            }
            if trust.operatorKeyPaths.isEmpty {
                r.error(n, "trust.operator_keys", "no operator key: this node could trust no certificate, not even its own",
                        fix: "list the operator's public key file(s)")
            }
        }

        var gossip = Gossip(bind: .init(host: "0.0.0.0", port: 7946), advertise: .init(host: "0.0.0.0", port: 7946),
                            seeds: [], keyringPath: "", pushPullIntervalSeconds: 30)
        if let n = required("gossip"), let f = r.mapping(n, "gossip", allowed: ["bind", "advertise", "seeds", "keyring", "push_pull_interval"]) {
            var advertise: SocketAddress?
            var sawKeyring = false
            for (k, _, v) in f {
                switch k {
                case "bind": gossip.bind = address(&r, v, "gossip.bind") ?? gossip.bind
                case "advertise": advertise = address(&r, v, "gossip.advertise")
                case "seeds":
                    for (i, (s, sn)) in (r.strings(v, "gossip.seeds") ?? []).enumerated() {
                        if let a = SocketAddress(parsing: s) { gossip.seeds.append(a) } else {
                            r.error(sn, "gossip.seeds[\(i)]", "'\(s.prefix(80))' is not host:port")
                        }
                    }
                case "keyring": gossip.keyringPath = r.string(v, "gossip.keyring") ?? ""; sawKeyring = true
                default:
                    if let s = r.string(v, "gossip.push_pull_interval") {
                        if let d = Retention(parsing: s), (1...86_400).contains(d.seconds) { gossip.pushPullIntervalSeconds = Int(d.seconds) } else {
                            r.error(v, "gossip.push_pull_interval", "'\(s.prefix(30))' is not a duration between 1s and 24h", fix: "e.g. 30s")
                        }
                    }
                }
            }
            gossip.advertise = advertise ?? gossip.bind
            if gossip.advertise.host == "0.0.0.0" || gossip.advertise.host == "::" {
                r.error(n, "gossip.advertise", "other nodes cannot reach \(gossip.advertise.host)", fix: "set `advertise:` to this node's reachable address")
            }
            if !sawKeyring {
                r.error(n, "gossip.keyring", "missing: gossip is always encrypted", fix: "create one with `demarc keyring generate`, the same file on every node")
            }
        }

        var http = HTTP(bind: .init(host: "127.0.0.1", port: 8080))
        if let n = section["http"], let f = r.mapping(n, "http", allowed: ["bind"]) {
            for (_, _, v) in f { http.bind = address(&r, v, "http.bind") ?? http.bind }
        }

        var media: Media?
        if let n = section["media"], let f = r.mapping(n, "media", allowed: ["bind"]) {
            for (_, _, v) in f { if let a = address(&r, v, "media.bind") { media = Media(bind: a) } }
        }

        var store = StoreSettings.sqlite(path: "demarc.sqlite")
        if let n = section["store"], let f = r.mapping(n, "store", allowed: ["kind", "path", "url"]) {
            let values = Dictionary(f.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let kind = values["kind"].flatMap { r.string($0, "store.kind") } ?? "sqlite"
            switch kind {
            case "sqlite":
                store = .sqlite(path: values["path"].flatMap { r.string($0, "store.path") } ?? "demarc.sqlite")
                if let u = values["url"] { r.error(u, "store.url", "a url is for `kind: postgres`", fix: "remove it, or set `kind: postgres`") }
            case "postgres":
                if let u = values["url"], let s = r.string(u, "store.url") {
                    if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") { store = .postgres(url: s) } else {
                        r.error(u, "store.url", "'\(s.prefix(20))…' is not a postgres:// URL")
                    }
                } else {
                    r.error(n, "store.url", "`kind: postgres` needs a url", fix: "url: postgres://user@host:5432/demarc")
                }
            default:
                r.error(values["kind"] ?? n, "store.kind", "'\(kind.prefix(20))' is not a store kind", fix: "use sqlite (default) or postgres")
            }
        }

        var tokens = Tokens(issuerKeyPath: "", participantTokenSeconds: 3_600)
        if let n = required("tokens"), let f = r.mapping(n, "tokens", allowed: ["issuer_key", "participant_lifetime"]) {
            var saw = false
            for (k, _, v) in f {
                if k == "issuer_key" { tokens.issuerKeyPath = r.string(v, "tokens.issuer_key") ?? ""; saw = true }
                else if let s = r.string(v, "tokens.participant_lifetime") {
                    if let d = Retention(parsing: s), (60...86_400).contains(d.seconds) { tokens.participantTokenSeconds = Int(d.seconds) } else {
                        r.error(v, "tokens.participant_lifetime", "'\(s.prefix(30))' is not a duration between 1m and 24h", fix: "tokens are short-lived: e.g. 1h")
                    }
                }
            }
            if !saw { r.error(n, "tokens.issuer_key", "missing", fix: "the cluster's token key: `demarc node keygen --out tokens.key`, the same on every node") }
        }

        var level = LogLevel.info
        if let n = section["logging"], let f = r.mapping(n, "logging", allowed: ["level"]) {
            for (_, _, v) in f {
                if let s = r.string(v, "logging.level") {
                    if let l = LogLevel(rawValue: s) { level = l } else {
                        r.error(v, "logging.level", "'\(s.prefix(20))' is not a log level", fix: "use one of: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                }
            }
        }

        if r.problems.contains(where: { $0.severity == .error }) { throw ConfigError(problems: r.problems) }
        return NodeConfig(node: node, trust: trust, gossip: gossip, http: http, media: media, store: store, tokens: tokens, logLevel: level)
    }

    static func address(_ r: inout YAMLReader, _ node: Node, _ field: String) -> SocketAddress? {
        guard let s = r.string(node, field) else { return nil }
        guard let a = SocketAddress(parsing: s) else {
            r.error(node, field, "'\(s.prefix(80))' is not host:port", fix: "e.g. 0.0.0.0:7946 or [::1]:7946")
            return nil
        }
        return a
    }

    static func isNodeID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return (1...64).contains(u.count) && u.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 || $0 == 46 }
    }
}
