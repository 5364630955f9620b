import ArgumentParser
import Foundation
import NodeTrust
import Residency
import SodiumWrapper

/// Writes a key pair: the secret file with mode 0600 and `<file>.pub` beside it.
/// Refuses to overwrite an existing key unless --force.
func writeKeyPair(_ key: Ed25519.PrivateKey, to path: String, force: Bool) throws {
    let fm = FileManager.default
    if !force, fm.fileExists(atPath: path) {
        throw ValidationError("'\(path)' exists; refusing to overwrite a key (pass --force to replace it)")
    }
    let secret = Data(KeyFile.encodeSecret(key).utf8)
    guard fm.createFile(atPath: path, contents: secret, attributes: [.posixPermissions: 0o600]) else {
        throw ValidationError("cannot write '\(path)'")
    }
    try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    try Data(KeyFile.encodePublic(key.publicKey).utf8).write(to: URL(fileURLWithPath: path + ".pub"))
}

/// A fresh Ed25519 key written as FILE and FILE.pub, announced on stdout.
@discardableResult
func generateKeyPair(to path: String, force: Bool) throws -> Ed25519.PrivateKey {
    let key = Ed25519.PrivateKey()
    try writeKeyPair(key, to: path, force: force)
    print("wrote \(path) (secret, mode 0600) and \(path).pub")
    return key
}

func readSecretKey(_ path: String, what: String) throws -> Ed25519.PrivateKey {
    do { return try KeyFile.decodeSecret(try InputFiles.read(path, what: what)) } catch let e as KeyFile.Error {
        throw ValidationError("\(what) '\(path)': \(e)")
    }
}

func readPublicKey(_ path: String, what: String) throws -> Ed25519.PublicKey {
    do { return try KeyFile.decodePublic(try InputFiles.read(path, what: what)) } catch let e as KeyFile.Error {
        throw ValidationError("\(what) '\(path)': \(e)")
    }
}

struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Operator keys (they sign node certificates).", subcommands: [Keygen.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an operator Ed25519 key: FILE (secret, mode 0600) and FILE.pub.")
        @Option(name: .shortAndLong, help: "Where to write the secret key.") var out = "operator.key"
        @Flag(help: "Overwrite an existing key.") var force = false

        func run() throws {
            let key = try generateKeyPair(to: out, force: force)
            print("operator key fingerprint: \(NodeCertificate.fingerprint(key.publicKey))")
        }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a node; node identity keys and certificates.", subcommands: [Run.self, Keygen.self, Cert.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a node identity Ed25519 key: FILE (secret, mode 0600) and FILE.pub.")
        @Option(name: .shortAndLong, help: "Where to write the secret key.") var out = "node.key"
        @Flag(help: "Overwrite an existing key.") var force = false

        func run() throws {
            let key = try generateKeyPair(to: out, force: force)
            print("node key fingerprint: \(NodeCertificate.fingerprint(key.publicKey))")
        }
    }

    struct Cert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue and verify operator-signed node certificates.", subcommands: [Issue.self, Verify.self])

        struct Issue: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Sign a certificate binding a node id and key to a region and jurisdiction.")
            @Option(help: "The operator's secret key file.") var operatorKey: String
            @Option(help: "The node's public (or secret) key file.") var nodeKey: String
            @Option(help: "Node id, e.g. fra-1.") var nodeId: String
            @Option(help: "Region id, e.g. eu-de-fra.") var region: String
            @Option(help: "ISO 3166-1 alpha-2 code of the region's country, e.g. DE.") var jurisdiction: String
            @Option(help: "Days the certificate is valid.") var days = 90
            @Option(help: "Start of validity, ISO 8601 (default: now).") var notBefore: String?
            @Option(help: "Serial number (default: random).") var serial: UInt64?
            @Option(help: "Jurisdiction catalog (default: Topologies/jurisdictions.yaml).") var jurisdictions: String?
            @Option(name: .shortAndLong, help: "Where to write the certificate (default: stdout).") var out: String?

            func run() throws {
                let catalog = try InputFiles.catalog(jurisdictions)
                guard let code = CountryCode(jurisdiction), catalog.isKnown(code) else {
                    throw ValidationError("--jurisdiction '\(jurisdiction)' is not an assigned ISO 3166-1 alpha-2 code\(catalog.suggestion(for: jurisdiction).map { " (did you mean '\($0)'?)" } ?? "")")
                }
                guard (1...3_650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
                let start: Date
                if let notBefore {
                    guard let d = try? Date(notBefore, strategy: .iso8601) else {
                        throw ValidationError("--not-before '\(notBefore)' is not an ISO 8601 time such as 2026-12-01T00:00:00Z")
                    }
                    start = d
                } else {
                    start = Date()
                }
                let signer = try readSecretKey(operatorKey, what: "operator key")
                let nodePublic = try readPublicKey(nodeKey, what: "node key")
                let nb = Int64(start.timeIntervalSince1970)
                let cert = try NodeCertificate.issue(
                    nodeID: nodeId, nodePublicKey: nodePublic, region: region, jurisdiction: code.rawValue,
                    notBeforeUnix: nb, notAfterUnix: nb + Int64(days) * 86_400,
                    serial: serial ?? UInt64.random(in: 1...UInt64(Int64.max)), signer: signer)
                if let out {
                    try Data(cert.pem.utf8).write(to: URL(fileURLWithPath: out))
                    print("wrote \(out): \(nodeId) in \(region) (\(code)), valid \(days) days, signed by operator \(NodeCertificate.fingerprint(signer.publicKey))")
                } else {
                    print(cert.pem, terminator: "")
                }
            }
        }

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Verify a node certificate against the operator's public key; exit 1 if it is not valid.")
            @Argument(help: "The certificate file.") var certificate: String
            @Option(help: "The operator's public key file (repeat to trust several).") var operatorKey: [String]
            @Option(help: "Check validity at this ISO 8601 time (default: now).") var at: String?

            func run() throws {
                let keys = try operatorKey.map { try readPublicKey($0, what: "operator key") }
                guard !keys.isEmpty else { throw ValidationError("pass at least one --operator-key") }
                var now = Date()
                if let at {
                    guard let d = try? Date(at, strategy: .iso8601) else { throw ValidationError("--at '\(at)' is not an ISO 8601 time") }
                    now = d
                }
                do {
                    let cert = try NodeCertificate(pem: try InputFiles.read(certificate, what: "certificate"))
                    let id = try cert.verify(trustedOperators: keys, nowUnix: Int64(now.timeIntervalSince1970))
                    print("valid: node \(id.nodeID), region \(id.region), jurisdiction \(id.jurisdiction)")
                    print("  node key     \(NodeCertificate.fingerprint(id.nodePublicKey))")
                    print("  operator key \(NodeCertificate.fingerprint(id.operatorKey))")
                    print("  valid from   \(Date(timeIntervalSince1970: TimeInterval(id.notBeforeUnix)).formatted(.iso8601))")
                    print("  valid until  \(Date(timeIntervalSince1970: TimeInterval(id.notAfterUnix)).formatted(.iso8601))")
                    print("  serial       \(id.serial)")
                } catch let e as CertificateError {
                    print("invalid: \(e)")
                    throw ExitCode(1)
                }
            }
        }
    }
}
