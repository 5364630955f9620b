import ArgumentParser
import Foundation
import NodeTrust
import SodiumWrapper
import Transparency

/// `demarc transparency`: check transparency reports and checkpoints offline.
struct TransparencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transparency",
        abstract: "Verify meeting transparency reports and log checkpoints offline.",
        subcommands: [Verify.self, Consistency.self]
    )

    /// Loads a key file; accepts public or secret Ed25519 key files (NodeTrust.KeyFile).
    static func publicKey(_ path: String) throws -> Ed25519.PublicKey {
        do { return try KeyFile.decodePublic(try InputFiles.read(path, what: "key")) } catch let e as KeyFile.Error {
            throw ValidationError("key file '\(path)': \(e)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every signature and inclusion proof of a meeting report.",
            discussion: """
            The key is either the node's key (it signed the checkpoint) or the operator's key \
            (then the node certificate inside the report must be signed by it). Exit status 0 \
            means every check passed; 1 means the report must not be trusted.
            """
        )

        @Argument(help: "The report JSON file (GET …/meetings/{meeting}/report).")
        var report: String

        @Option(name: .long, help: "Public (or secret) key file of the node or of the operator.")
        var key: String

        @Option(name: .long, help: "Also write a readable HTML page of the verified report here.")
        var html: String?

        func run() async throws {
            let trusted = try TransparencyCommand.publicKey(key)
            let text = try InputFiles.read(report, what: "report")
            let parsed: MeetingReport
            do { parsed = try JSONDecoder().decode(MeetingReport.self, from: Data(text.utf8)) } catch {
                print("FAILED: '\(report)' is not a Demarc meeting report (\(error))")
                throw ExitCode(1)
            }
            var signer = "the given key"
            var result: Result<ReportVerifier.Verified, ReportVerificationError> = Result { () throws(ReportVerificationError) in
                try ReportVerifier(publicKey: trusted).verify(parsed)
            }
            // Not signed by this key directly: try it as the operator key over the node certificate.
            if case .failure(.checkpoint(.note(.noSignatureByKnownKey))) = result, let pem = parsed.nodeCertificate {
                do {
                    let identity = try NodeCertificate(pem: pem).verify(
                        trustedOperators: [trusted], nowUnix: Int64(parsed.generatedAt.millisecondsSinceEpoch / 1000))
                    signer = "node \(identity.nodeID) (\(identity.region), \(identity.jurisdiction)), certified by the given operator key"
                    result = Result { () throws(ReportVerificationError) in try ReportVerifier(publicKey: identity.nodePublicKey).verify(parsed) }
                } catch {
                    print("FAILED: the report's node certificate is not valid under the given operator key: \(error)")
                    throw ExitCode(1)
                }
            }
            switch result {
            case let .failure(error):
                print("FAILED: \(error)")
                print("Do not rely on this report.")
                throw ExitCode(1)
            case let .success(v):
                let s = v.summary
                print("VERIFIED: checkpoint \(v.checkpoint.origin) at size \(v.checkpoint.size) is signed by \(signer).")
                print("  \(v.entries.count) entries for meeting \(parsed.meeting.hex.prefix(16))…, each proven included in that checkpoint.")
                print("  The summary matches the signed entries.")
                for j in s.jurisdictions {
                    print("  \(j.jurisdiction): \(j.categories.map(\.description).joined(separator: ", ")) in \(j.regions.map(\.rawValue).joined(separator: ", ")) from \(j.from) until \(j.until)")
                }
                if let e2ee = s.mediaEndToEndEncrypted { print("  Media end-to-end encrypted: \(e2ee ? "yes" : "not always")") }
                if s.compliance.compliant {
                    print("  Compliance: every recorded hop and artifact complied with the policy in force.")
                } else {
                    print("  Compliance: \(s.compliance.violations.count) VIOLATION(S):")
                    for v in s.compliance.violations { print("    entry \(v.entryIndex) [\(v.rule.rawValue)]: \(v.detail)") }
                }
                print("  Note: a report proves what it contains; whether entries were left out is checked by monitoring the log's consistency.")
                if let html {
                    try parsed.html(verified: true).write(toFile: html, atomically: true, encoding: .utf8)
                    print("  Wrote \(html)")
                }
            }
        }
    }

    struct Consistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that one signed checkpoint extends another (the log was only appended to).",
            discussion: "The proof file is the JSON from GET /v1/transparency/consistency?from=OLD_SIZE&to=NEW_SIZE."
        )

        @Argument(help: "The older checkpoint (signed note) file.")
        var old: String

        @Argument(help: "The newer checkpoint (signed note) file.")
        var new: String

        @Option(name: .long, help: "Public (or secret) key file of the node that signs the checkpoints.")
        var key: String

        @Option(name: .long, help: "Consistency proof JSON ({\"from\",\"to\",\"proof\":[base64…]}); not needed when the sizes are equal.")
        var proof: String?

        struct ProofFile: Decodable { let from: UInt64; let to: UInt64; let proof: [String] }

        func run() async throws {
            let trusted = try TransparencyCommand.publicKey(key)
            func load(_ path: String) throws -> Checkpoint {
                let text = try InputFiles.read(path, what: "checkpoint")
                guard let origin = ReportVerifier.origin(of: text) else {
                    print("FAILED: '\(path)' is not a checkpoint")
                    throw ExitCode(1)
                }
                do { return try SignedCheckpoint(verifying: text, with: try NoteVerifier(keyName: origin, publicKey: trusted)).checkpoint } catch {
                    print("FAILED: checkpoint '\(path)': \(error)")
                    throw ExitCode(1)
                }
            }
            let a = try load(old), b = try load(new)
            guard a.origin == b.origin else {
                print("FAILED: the checkpoints are of different logs ('\(a.origin)' and '\(b.origin)')")
                throw ExitCode(1)
            }
            var hashes: [MerkleHash] = []
            if let proof {
                let file: ProofFile
                do { file = try JSONDecoder().decode(ProofFile.self, from: Data(try InputFiles.read(proof, what: "proof").utf8)) } catch let e as ValidationError { throw e } catch {
                    print("FAILED: '\(proof)' is not a consistency proof file (\(error))")
                    throw ExitCode(1)
                }
                guard file.from == a.size, file.to == b.size else {
                    print("FAILED: the proof is from size \(file.from) to \(file.to), but the checkpoints are at \(a.size) and \(b.size)")
                    throw ExitCode(1)
                }
                for p in file.proof {
                    guard let d = Data(base64Encoded: p), let h = MerkleHash(Array(d)) else {
                        print("FAILED: the proof contains something that is not a base64 32-byte hash")
                        throw ExitCode(1)
                    }
                    hashes.append(h)
                }
            }
            do {
                try MerkleProofVerifier.verifyConsistency(oldSize: a.size, newSize: b.size, oldRoot: a.rootHash, newRoot: b.rootHash, proof: hashes)
            } catch {
                print("FAILED: \(error)")
                print("The newer checkpoint does not extend the older one: the log was rewritten, or the files do not belong together.")
                throw ExitCode(1)
            }
            print("CONSISTENT: \(a.origin) at size \(b.size) extends size \(a.size); both checkpoints are signed by the given key.")
        }
    }
}
