import Foundation

/// Which media server `demarc loadtest` loads.
public enum LoadTarget: String, Sendable, CaseIterable {
    /// Our SFU, in-process (``LoadTest``).
    case demarc
    /// A Janus VideoRoom over its HTTP API (``JanusLoadTest``).
    case janus
}

/// The measurements both targets share, in one machine-readable line (`result {json}`) so
/// that a script can put a Demarc run and a Janus run of the same shape side by side
/// (Benchmarks/media-vs-janus.sh).
public struct BenchmarkResult: Sendable, Codable, Equatable {
    public var target: String
    public var meetings = 1
    public var subscribers = 0
    public var shape = ""
    /// Sending time, seconds.
    public var seconds = 0.0
    /// RTP packets the publishers sent.
    public var sent = 0
    /// Packets subscribers received and decrypted, over all subscribers.
    public var delivered = 0
    /// What a lossless server delivers with this shape (every subscriber gets audio and the
    /// top simulcast layer, or the single stream).
    public var expected = 0
    public var deliveredPercent = 0.0
    public var deliveredPerSecond = 0.0
    /// One-way publisher → subscriber latency, milliseconds (one process, one clock).
    public var latencyP50Ms = 0.0
    public var latencyP99Ms = 0.0
    public var latencyMaxMs = 0.0
    /// The server's CPU time over the sending window and the drain after it.
    public var serverCPUSeconds = 0.0
    /// What ``serverCPUSeconds`` covers: Demarc's SFU event-loop thread (the SFU runs inside
    /// the load generator's process), or the whole Janus process (all its threads).
    public var serverCPUScope = ""
    /// `serverCPUSeconds / seconds`, percent of one core.
    public var serverCorePercent = 0.0
    /// Delivered packets per second of server CPU: the figure both targets have.
    public var deliveredPerServerCoreSecond = 0.0

    public init(target: LoadTarget) { self.target = target.rawValue }

    /// `result {…}` with keys in a fixed order.
    public var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "result \(json)"
    }

    /// Human-readable lines like ``LoadTestReport``'s.
    public var summary: String {
        """
        \(target): sent \(sent) packets, delivered \(delivered) of \(expected) (\(String(format: "%.2f", deliveredPercent)) %) in \(String(format: "%.1f", seconds)) s
        delivered \(Int(deliveredPerSecond)) packets/s to \(subscribers) subscribers; latency p50 \(String(format: "%.2f", latencyP50Ms)) ms, p99 \(String(format: "%.2f", latencyP99Ms)) ms, max \(String(format: "%.2f", latencyMaxMs)) ms
        server CPU (\(serverCPUScope)): \(String(format: "%.2f", serverCPUSeconds)) s = \(String(format: "%.1f", serverCorePercent)) % of a core; \(Int(deliveredPerServerCoreSecond)) delivered packets per server-core-second
        """
    }

    /// Fills the derived fields from the counted ones.
    mutating func derive() {
        deliveredPercent = expected > 0 ? Double(delivered) / Double(expected) * 100 : 0
        deliveredPerSecond = seconds > 0 ? Double(delivered) / seconds : 0
        serverCorePercent = seconds > 0 ? serverCPUSeconds / seconds * 100 : 0
        deliveredPerServerCoreSecond = serverCPUSeconds > 0 ? Double(delivered) / serverCPUSeconds : 0
    }
}

extension LoadTestReport {
    /// The shared measurements of an in-process run against our SFU.
    public func benchmarkResult(meetings: Int, shape: String) -> BenchmarkResult {
        var result = BenchmarkResult(target: .demarc)
        result.meetings = meetings
        result.subscribers = subscribers
        result.shape = shape
        result.seconds = seconds
        result.sent = sent
        result.delivered = received
        result.expected = expected
        result.latencyP50Ms = latencyP50
        result.latencyP99Ms = latencyP99
        result.latencyMaxMs = latencyMax
        result.serverCPUSeconds = sfuCPUSeconds
        result.serverCPUScope = "demarc SFU event-loop thread"
        result.derive()
        return result
    }
}

/// Why a `/proc/PID/stat` line was refused.
public enum ProcStatError: Error, Equatable, Sendable {
    /// No `(comm)` closed by `)`.
    case noCommand
    /// Fewer fields after the command than `stime` (field 15) needs.
    case tooFewFields(Int)
    case notANumber(String)
}

/// The CPU time fields of `/proc/PID/stat` (proc(5)): `utime` and `stime`, in clock ticks.
public struct ProcessCPUTime: Sendable, Equatable {
    public var userTicks: UInt64
    public var systemTicks: UInt64

    /// Parses a stat line. The command (field 2) is in parentheses and may itself contain
    /// spaces and parentheses, so fields are counted from the last `)`.
    public static func parse(_ line: String) throws(ProcStatError) -> ProcessCPUTime {
        guard let close = line.lastIndex(of: ")"), line.contains("(") else { throw .noCommand }
        let rest = line[line.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); utime is field 14, stime field 15.
        guard rest.count >= 13 else { throw .tooFewFields(rest.count) }
        guard let user = UInt64(rest[11]) else { throw .notANumber(String(rest[11])) }
        guard let system = UInt64(rest[12]) else { throw .notANumber(String(rest[12])) }
        return ProcessCPUTime(userTicks: user, systemTicks: system)
    }

    /// Seconds, at `ticksPerSecond` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
    public func seconds(ticksPerSecond: Int) -> Double { Double(userTicks + systemTicks) / Double(ticksPerSecond) }

    /// Process `pid`'s CPU time in seconds, all threads.
    static func seconds(pid: Int32) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        return try parse(text).seconds(ticksPerSecond: sysconf(Int32(_SC_CLK_TCK)))
    }
}
