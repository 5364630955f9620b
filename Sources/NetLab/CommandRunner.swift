import Foundation

/// Runs the system's network tools (`ip`, `nft`) and turns a non-zero exit into a
/// `NetLabError.commandFailed` naming the command line and what it printed.
public struct CommandRunner: Sendable {
    /// Every command run, for `--verbose` output and tests; nil to run silently.
    public var trace: (@Sendable (String) -> Void)?

    public init(trace: (@Sendable (String) -> Void)? = nil) { self.trace = trace }

    public struct Output: Sendable { public var status: Int32; public var stdout: String; public var stderr: String }

    /// Runs `arguments[0]` (looked up on PATH and in /usr/sbin, /sbin) with `input` on stdin.
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil) throws(NetLabError) -> String {
        let out = try runUnchecked(arguments, input: input)
        guard out.status == 0 else {
            throw .commandFailed(command: Self.display(arguments, input: input), status: out.status, output: out.stderr + out.stdout)
        }
        return out.stdout
    }

    /// Runs a command and returns its status without judging it (for "does it exist?" checks).
    public func runUnchecked(_ arguments: [String], input: String? = nil) throws(NetLabError) -> Output {
        trace?(Self.display(arguments, input: input))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.locate(arguments[0]))
        process.arguments = Array(arguments.dropFirst())
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do { try process.run() } catch {
            throw .commandFailed(command: Self.display(arguments, input: input), status: -1, output: "\(error)")
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        // Read both pipes before waiting, so a chatty command cannot fill one and block.
        let errData = ReadAll(stderr.fileHandleForReading)
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self))
    }

    static func locate(_ tool: String) -> String {
        if tool.hasPrefix("/") { return tool }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return path.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? tool
    }

    static func display(_ arguments: [String], input: String?) -> String {
        arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + (input == nil ? "" : " < script")
    }
}

/// Drains a pipe on a background thread.
private final class ReadAll: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// True when the process runs as root (namespaces and nftables need it).
public var isRoot: Bool { geteuid() == 0 }
