import Foundation
import NetLab

/// What `demarc cluster up` made, in `<state-dir>/cluster.json`, so that `cluster down`
/// (and `partition`, `heal`, `loss`) know what to stop and remove.
struct ClusterState: Codable {
    struct Node: Codable {
        var id: String
        var region: String
        var jurisdiction: String
        var gossip: NetEndpoint
        var http: NetEndpoint
        /// From the topology; node.yaml has no media section yet, so only relays use it.
        var mediaPort: Int?
        var config: String
        var namespace: String?
        var process: ProcessRecord?
    }

    var version = 1
    var name: String
    var topology: String
    var stateDirectory: String
    var netns: Bool
    /// What the nodes run (`--binary`, default: this demarc).
    var binary: String
    /// This demarc, which runs the relays and the in-namespace health probes.
    var tool: String
    var createdAt: String
    var operatorKey: String
    var tokenKey: String
    var operatorToken: String
    var nodes: [Node]
    var lab: LabPlan?
    var faults = LabFaults()
    var relay: ProcessRecord?

    static func file(in directory: String) -> String { (directory as NSString).appendingPathComponent("cluster.json") }

    static func load(from directory: String) throws -> ClusterState? {
        let path = file(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(ClusterState.self, from: data) } catch {
            throw ClusterError("'\(path)' is not a cluster state file (\(error)); remove the directory by hand if it is stale")
        }
    }

    func save() throws {
        try writeJSON(self, to: Self.file(in: stateDirectory))
    }

    /// Every process the cluster started, nodes first.
    var processes: [ProcessRecord] { nodes.compactMap(\.process) + (relay.map { [$0] } ?? []) }
}

/// Writes `value` as sorted, indented JSON, atomically (readers never see half a file).
func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
}

/// An error `demarc cluster` reports to the operator as is.
struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A detached process `cluster up` started: its pid, and its start time (from
/// /proc/<pid>/stat) so that `cluster down` never signals a reused pid.
struct ProcessRecord: Codable, Equatable {
    var pid: Int32
    var startTicks: UInt64?
    var stdout: String
    var stderr: String

    /// Starts `arguments` (a full path first) detached: in its own process group (a
    /// terminal's ^C does not reach it; it outlives `cluster up`), stdin from /dev/null,
    /// output appended to two files, and — unlike Foundation's `Process`, whose child
    /// inherits the spawning thread's blocked signals — with every signal unblocked and
    /// at its default, so that SIGTERM from `cluster down` reaches the node.
    static func spawnDetached(_ arguments: [String], stdout: String, stderr: String) throws -> ProcessRecord {
        var attr = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        posix_spawnattr_init(&attr)
        posix_spawn_file_actions_init(&actions)
        defer {
            posix_spawnattr_destroy(&attr)
            posix_spawn_file_actions_destroy(&actions)
        }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else of ours leaks into the node (a caller's pipe held open would make
        // whoever reads `cluster up`'s output wait for the cluster to stop).
        // (glibc's addclosefrom_np is not visible to Swift: mark ours close-on-exec instead.)
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for fd in fds.compactMap({ Int32($0) }) where fd > 2 {
                let flags = fcntl(fd, F_GETFD)
                if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
            }
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, arguments[0], &actions, &attr, argv, environ)
        guard rc == 0 else {
            throw ClusterError("cannot start \(arguments.joined(separator: " ")): \(String(cString: strerror(rc)))")
        }
        return ProcessRecord(pid: pid, startTicks: Self.startTicks(pid), stdout: stdout, stderr: stderr)
    }

    /// Field 22 of /proc/<pid>/stat (start time in clock ticks), and whether it is a zombie.
    static func stat(_ pid: Int32) -> (startTicks: UInt64, zombie: Bool)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After "pid (comm)": state is field 3, starttime field 22.
        guard fields.count > 19, let ticks = UInt64(fields[19]) else { return nil }
        return (ticks, fields[0] == "Z")
    }

    static func startTicks(_ pid: Int32) -> UInt64? { stat(pid)?.startTicks }

    /// True while the very process that was started is running (not a zombie, pid not reused).
    var isRunning: Bool {
        guard let s = Self.stat(pid), !s.zombie else { return false }
        return startTicks == nil || startTicks == s.startTicks
    }

    /// The last lines of the process's stderr, to show why it stopped.
    func stderrTail(lines: Int = 8) -> String {
        let text = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// SIGTERM to each running process, then SIGKILL to those still running after `grace`.
    /// Returns the pids that needed SIGKILL.
    static func stop(_ records: [ProcessRecord], grace: Duration) async -> [Int32] {
        let running = records.filter(\.isRunning)
        for r in running { kill(r.pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while running.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let stubborn = running.filter(\.isRunning)
        for r in stubborn { kill(r.pid, SIGKILL) }
        let killDeadline = ContinuousClock.now + .seconds(5)
        while stubborn.contains(where: \.isRunning), ContinuousClock.now < killDeadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return stubborn.map(\.pid)
    }
}
