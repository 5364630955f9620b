import Foundation
import Testing
import DemarcTestSupport

enum CLITestError: Error { case binaryNotFound }

/// Runs the real `demarc` binary, as an operator or tenant would.
@Suite struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `demarc` built beside this test bundle.
    static let binary: URL? = {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent().appendingPathComponent("demarc")) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("demarc"))
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 { candidates.append(dir.appendingPathComponent("demarc")); dir = dir.deletingLastPathComponent() }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    struct Run { let status: Int32; let out: String; let err: String }

    static func run(_ args: [String], in directory: URL = root) throws -> Run {
        guard let exe = binary else { throw CLITestError.binaryNotFound }
        let r = try ProcessRun.run(exe, args, in: directory)
        return Run(status: r.status, out: r.out, err: r.err)
    }

    @Test func validateAcceptsAGoodPolicyAndListsEveryProblemOfABadOne() throws {
        let good = try Self.run(["policy", "validate", "Topologies/policies/eu-only.yaml"])
        #expect(good.status == 0)
        #expect(good.out.contains("valid — tenant acme-health, version 1"))
        let bad = try Self.run(["policy", "validate", "Topologies/policies/broken.yaml"])
        #expect(bad.status == 1)
        #expect(bad.out.contains("broken.yaml:4:21: error: jurisdictions[1]: 'UK' is not an assigned ISO 3166-1 code"))
        #expect(bad.out.contains("fix: did you mean 'GB'?"))
        #expect(bad.out.contains("fix: did you mean 'retention'?"))
        let json = try Self.run(["policy", "validate", "--json", "Topologies/policies/broken.yaml"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect(decoded?["valid"] as? Bool == false)
        #expect((decoded?["problems"] as? [[String: Any]])?.count ?? 0 >= 8)
        let missing = try Self.run(["policy", "validate", "no-such-file.yaml"])
        #expect(missing.status != 0 && missing.err.contains("does not exist"))
    }

    @Test func operatorIssuesAndVerifiesANodeCertificate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = Self.root.appendingPathComponent("Topologies/jurisdictions.yaml").path
        #expect(try Self.run(["operator", "keygen", "--out", "op.key"], in: dir).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("op.key").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try Self.run(["operator", "keygen", "--out", "op.key"], in: dir).status != 0, "refuses to overwrite a key")
        #expect(try Self.run(["node", "keygen", "--out", "fra-1.key"], in: dir).status == 0)
        #expect(try Self.run(["operator", "keygen", "--out", "other.key"], in: dir).status == 0)
        let issue = try Self.run(["node", "cert", "issue", "--operator-key", "op.key", "--node-key", "fra-1.key.pub", "--node-id", "fra-1",
                                  "--region", "eu-de-fra", "--jurisdiction", "DE", "--days", "30", "--not-before", "2026-01-01T00:00:00Z",
                                  "--jurisdictions", catalog, "--out", "fra-1.cert"], in: dir)
        #expect(issue.status == 0, "\(issue.err)")
        let ok = try Self.run(["node", "cert", "verify", "fra-1.cert", "--operator-key", "op.key.pub", "--at", "2026-01-15T00:00:00Z"], in: dir)
        #expect(ok.status == 0 && ok.out.contains("valid: node fra-1, region eu-de-fra, jurisdiction DE"))
        let expired = try Self.run(["node", "cert", "verify", "fra-1.cert", "--operator-key", "op.key.pub", "--at", "2026-03-01T00:00:00Z"], in: dir)
        #expect(expired.status == 1 && expired.out.contains("expired"))
        let early = try Self.run(["node", "cert", "verify", "fra-1.cert", "--operator-key", "op.key.pub", "--at", "2025-12-01T00:00:00Z"], in: dir)
        #expect(early.status == 1 && early.out.contains("not valid until"))
        let wrong = try Self.run(["node", "cert", "verify", "fra-1.cert", "--operator-key", "other.key.pub", "--at", "2026-01-15T00:00:00Z"], in: dir)
        #expect(wrong.status == 1 && wrong.out.contains("not trusted"))
        let badCode = try Self.run(["node", "cert", "issue", "--operator-key", "op.key", "--node-key", "fra-1.key.pub", "--node-id", "x",
                                    "--region", "r", "--jurisdiction", "UK", "--jurisdictions", catalog], in: dir)
        #expect(badCode.status != 0 && badCode.err.contains("did you mean 'GB'"))
        // Tamper with the certificate text: change one base64 character in the body.
        let certPath = dir.appendingPathComponent("fra-1.cert")
        var lines = try String(contentsOf: certPath, encoding: .utf8).split(separator: "\n").map(String.init)
        var chars = Array(lines[1])
        chars[20] = chars[20] == "A" ? "B" : "A"
        lines[1] = String(chars)
        try (lines.joined(separator: "\n") + "\n").write(to: certPath, atomically: true, encoding: .utf8)
        let tampered = try Self.run(["node", "cert", "verify", "fra-1.cert", "--operator-key", "op.key.pub", "--at", "2026-01-15T00:00:00Z"], in: dir)
        #expect(tampered.status == 1 && tampered.out.contains("invalid"))
    }

    @Test func placementExplainPrintsTablesJSONAndRefusals() throws {
        let args = ["placement", "explain", "--topology", "Topologies/europe.yaml", "--policy", "Topologies/policies/eu-only.yaml",
                    "--participants", "Topologies/participants/europe-meeting.yaml"]
        let table = try Self.run(args)
        #expect(table.status == 0)
        #expect(table.out.contains("Excluded nodes (6)"))
        #expect(table.out.contains("zrh-1") && table.out.contains("policy does not allow media"))
        let json = try Self.run(args + ["--json", "--fail", "fra-1"])
        #expect(json.status == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let placement = try #require(obj["placement"] as? [String: Any])
        let assignments = try #require(placement["assignments"] as? [[String: Any]])
        #expect(assignments.count == 5)
        #expect(assignments.allSatisfy { ["DE", "IE", "FR"].contains($0["jurisdiction"] as? String ?? "") })
        let replacement = try #require(obj["replacement"] as? [String: Any])
        #expect(!((replacement["nodes"] as? [String]) ?? []).contains("fra-1"))
        let refused = try Self.run(["placement", "explain", "--topology", "Topologies/global.yaml", "--policy", "Topologies/policies/swiss-only.json",
                                    "--participants", "Topologies/participants/europe-meeting.yaml", "--fail", "zrh-1", "--json"])
        #expect(refused.status == 2)
        let r = try #require(try JSONSerialization.jsonObject(with: Data(refused.out.utf8)) as? [String: Any])
        #expect((r["error"] as? [String: Any])?["code"] as? String == "no_compliant_node")
    }

    @Test func tokensAreIssuedOfflineAndInspected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Self.run(["node", "keygen", "--out", "tokens.key"], in: dir).status == 0)
        let op = try Self.run(["token", "issue", "--key", "tokens.key", "--role", "operator", "--ttl", "600"], in: dir)
        #expect(op.status == 0)
        let token = op.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.split(separator: ".").count == 3)
        let ok = try Self.run(["token", "inspect", token, "--key", "tokens.key.pub"], in: dir)
        #expect(ok.status == 0 && ok.out.contains("valid: role operator"))
        #expect(try Self.run(["node", "keygen", "--out", "other.key"], in: dir).status == 0)
        let wrong = try Self.run(["token", "inspect", token, "--key", "other.key.pub"], in: dir)
        #expect(wrong.status == 1 && wrong.out.contains("invalid"))
        let noTenant = try Self.run(["token", "issue", "--key", "tokens.key", "--role", "tenant-admin"], in: dir)
        #expect(noTenant.status != 0 && noTenant.err.contains("--tenant is required"))
        let opWithTenant = try Self.run(["token", "issue", "--key", "tokens.key", "--role", "operator", "--tenant", "acme"], in: dir)
        #expect(opWithTenant.status != 0)
    }
}
