import Foundation
import DemarcTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum ClusterTestError: Error, CustomStringConvertible {
    case binaryNotFound
    case command(String, Int32, String)
    case timeout(String)
    case http(String)

    var description: String {
        switch self {
        case .binaryNotFound: "the demarc binary was not found next to the test bundle"
        case let .command(c, s, e): "`demarc \(c)` exited \(s): \(e)"
        case let .timeout(what): "timed out waiting for \(what)"
        case let .http(what): what
        }
    }
}

/// Real `demarc node run` processes on 127.0.0.1, each with its own key, operator-signed
/// certificate, SQLite store and ports, sharing a keyring and a token key — what
/// `demarc cluster up` makes, built here with the CLI so the test exercises the same files.
final class LocalCluster: @unchecked Sendable {
    struct NodeSpec { let id: String; let region: String; let jurisdiction: String }
    struct Node { let spec: NodeSpec; let gossipPort: Int; let httpPort: Int; let mediaPort: Int; var process: Process? }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary: URL? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent().appendingPathComponent("demarc")) }
        for _ in 0..<5 { candidates.append(dir.appendingPathComponent("demarc")); dir = dir.deletingLastPathComponent() }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    let dir: URL
    var nodes: [String: Node] = [:]
    let order: [String]

    init(_ specs: [NodeSpec]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        order = specs.map(\.id)
        try run(["operator", "keygen", "--out", path("operator.key")])
        try run(["node", "keygen", "--out", path("tokens.key")])
        try run(["keyring", "generate", "--out", path("gossip.keyring")])
        let ports = try Self.freePorts(specs.count * 3)
        for (i, s) in specs.enumerated() {
            nodes[s.id] = Node(spec: s, gossipPort: ports[3 * i], httpPort: ports[3 * i + 1], mediaPort: ports[3 * i + 2], process: nil)
        }
        let seed = nodes[specs[0].id]!.gossipPort
        for s in specs {
            let n = nodes[s.id]!
            try run(["node", "keygen", "--out", path("\(s.id).key")])
            try run(["node", "cert", "issue", "--operator-key", path("operator.key"), "--node-key", path("\(s.id).key.pub"),
                     "--node-id", s.id, "--region", s.region, "--jurisdiction", s.jurisdiction, "--days", "2", "--out", path("\(s.id).cert")])
            let yaml = """
                node: { id: \(s.id), region: \(s.region), key: \(s.id).key, certificate: \(s.id).cert, capacity: 20 }
                trust:
                  operator_keys: [operator.key.pub]
                  jurisdictions: \(Self.root.path)/Topologies/jurisdictions.yaml
                  regions: \(Self.root.path)/Topologies/regions.yaml
                gossip:
                  bind: 127.0.0.1:\(n.gossipPort)
                  seeds: [127.0.0.1:\(seed)]
                  keyring: gossip.keyring
                  push_pull_interval: 5s
                http: { bind: 127.0.0.1:\(n.httpPort) }
                media: { bind: 127.0.0.1:\(n.mediaPort) }
                store: { kind: sqlite, path: data-\(s.id)/log.sqlite }
                tokens: { issuer_key: tokens.key }
                logging: { level: info }
                """
            try yaml.write(to: dir.appendingPathComponent("\(s.id).yaml"), atomically: true, encoding: .utf8)
        }
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func base(_ id: String) -> String { "http://127.0.0.1:\(nodes[id]!.httpPort)" }

    @discardableResult
    func run(_ args: [String]) throws -> String {
        guard let exe = Self.binary else { throw ClusterTestError.binaryNotFound }
        let r = try ProcessRun.run(exe, args, in: dir)
        guard r.status == 0 else { throw ClusterTestError.command(args.joined(separator: " "), r.status, r.err) }
        return r.out
    }

    /// Runs python3 (the interop clients); throws with its output when it exits non-zero.
    func runPython(_ args: [String]) throws -> String {
        let r = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + args, in: dir)
        guard r.status == 0 else { throw ClusterTestError.command("python3 \(args.first ?? "")", r.status, r.out + r.err) }
        return r.out + r.err
    }

    /// Runs python3 and returns its exit status and output, whatever the status.
    func runPythonStatus(_ args: [String]) throws -> (status: Int32, out: String) {
        let r = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + args, in: dir)
        return (r.status, r.out + r.err)
    }

    func start(_ id: String) throws {
        guard let exe = Self.binary else { throw ClusterTestError.binaryNotFound }
        let p = Process()
        p.executableURL = exe
        p.arguments = ["node", "run", "--config", path("\(id).yaml")]
        p.currentDirectoryURL = dir
        _ = FileManager.default.createFile(atPath: path("\(id).log"), contents: nil)
        let log = try FileHandle(forWritingTo: dir.appendingPathComponent("\(id).log"))
        p.standardOutput = log
        p.standardError = log
        try p.run()
        nodes[id]!.process = p
    }

    func startAll() throws { for id in order { try start(id) } }

    /// SIGKILL: the node gets no chance to leave or drain.
    func kill(_ id: String) {
        guard let p = nodes[id]?.process, p.isRunning else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func terminate(_ id: String) {
        guard let p = nodes[id]?.process, p.isRunning else { return }
        p.terminate()
    }

    func logText(_ id: String) -> String { (try? String(contentsOfFile: path("\(id).log"), encoding: .utf8)) ?? "" }

    func stopAll() {
        for id in order { kill(id) }
        try? FileManager.default.removeItem(at: dir)
    }

    static func freePorts(_ n: Int) throws -> [Int] {
        var ports: [Int] = []
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        while ports.count < n {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            fds.append(fd)
            let port = Int(UInt16(bigEndian: addr.sin_port))
            // Gossip uses the port for UDP and TCP; keep ports that are free for both.
            let t = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var taddr = addr
            let ok = withUnsafePointer(to: &taddr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(t, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
            close(t)
            if ok { ports.append(port) }
        }
        return ports
    }

    // MARK: HTTP

    struct Reply { let status: Int; let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func http(_ method: String, _ node: String, _ path: String, token: String? = nil, json: Any? = nil, body: String? = nil) async throws -> Reply {
        var r = URLRequest(url: URL(string: base(node) + path)!, timeoutInterval: 15)
        r.httpMethod = method
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json { r.httpBody = try JSONSerialization.data(withJSONObject: json); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let body { r.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: r)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Polls `condition` until it holds or `timeout` passes (bounded waits between polls; never a fixed sleep standing in for the event).
    func eventually(_ what: String, within timeout: Duration, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        if await condition() { return }
        throw ClusterTestError.timeout(what)
    }
}
