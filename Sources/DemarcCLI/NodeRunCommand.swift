import ArgumentParser
import DemarcNode
import Gossip
import Logging
import Foundation

extension NodeCommand {
    /// `demarc node run --config node.yaml`: one node, in the foreground, until SIGTERM.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a node: gossip, placement, meetings, the transparency log and the HTTP API. SIGTERM drains it.")
        @Option(name: .shortAndLong, help: "The node config (see Deploy/node.example.yaml).") var config = "node.yaml"

        func run() async throws {
            let setup: NodeSetup
            do { setup = try NodeSetup.load(configPath: config) } catch {
                printError("demarc node run: \(error)")
                throw ExitCode(78)   // EX_CONFIG
            }
            let level = Logger.Level(rawValue: setup.config.logLevel.rawValue) ?? .info
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            var logger = Logger(label: "demarc.node")
            logger[metadataKey: "node"] = "\(setup.config.node.id)"
            try await DemarcNode.run(setup: setup, logger: logger)
        }
    }
}

/// `demarc keyring generate`: a new gossip keyring file (one key, the primary).
struct KeyringCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyring", abstract: "The cluster's gossip keyring.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new keyring with one random key (secret, mode 0600); the same file goes on every node.")
        @Option(name: .shortAndLong, help: "Where to write the keyring.") var out = "gossip.keyring"
        @Option(help: "The key's id (any 1-64 printable characters).") var id = "k1"
        @Flag(help: "Overwrite an existing keyring.") var force = false

        func run() throws {
            let fm = FileManager.default
            if !force, fm.fileExists(atPath: out) { throw ValidationError("'\(out)' exists; refusing to overwrite a keyring (pass --force)") }
            guard fm.createFile(atPath: out, contents: Data(KeyringFile.generate(id: id).utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot write '\(out)'")
            }
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out)
            print("wrote \(out) (secret, mode 0600) with primary key '\(id)'")
        }
    }
}
