/// What can go wrong building or tearing down a lab network, naming what failed.
public enum NetLabError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A command (`ip`, `nft`, …) exited non-zero or could not be started.
    case commandFailed(command: String, status: Int32, output: String)
    case notRoot(operation: String)
    case relayNotBound(String)
    case invalidName(String)

    public var description: String {
        switch self {
        case let .commandFailed(command, status, output):
            let detail = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "`\(command)` failed (exit \(status))\(detail.isEmpty ? "" : ": \(detail.prefix(600))")"
        case let .notRoot(operation):
            return "\(operation) needs root (network namespaces and nftables): run as root, or without --netns on 127.0.0.1"
        case let .relayNotBound(name): return "relay '\(name)' did not bind a port"
        case let .invalidName(name): return "'\(name)' cannot be used in a namespace or interface name (use a-z, 0-9, '-')"
        }
    }
}
