import Testing
import Foundation
import SodiumWrapper
import Transparency
import NodeTrust
@testable import TransparencyStore

/// Runs the real `demarc transparency verify` / `consistency` binaries on files produced
/// by a log, and on tampered copies: exit status 0 only for the honest ones.
@Suite("demarc transparency CLI")
struct CLIVerifyTests {
    static var demarc: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("demarc")
    }

    func run(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = Self.demarc
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func verifyAndConsistencyVerdicts() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.demarc.path), "build the demarc product first")
        let dir = URL(fileURLWithPath: tempPath("x")).deletingLastPathComponent()
        let store = try SQLiteTransparencyStore(path: dir.appendingPathComponent("log.sqlite").path)
        let nodeKey = Ed25519.PrivateKey()
        let log = TransparencyLog(store: store, signer: try NoteSigner(keyName: "demarc.test/fra-1", key: nodeKey))
        let key = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        let meeting = key.meeting("standup")
        try await log.record(StoreConformance.policy(), meeting: meeting, tenant: "acme")
        try await log.record(.mediaProcessed(at: fra, endToEndEncrypted: true), meeting: meeting, tenant: "acme")
        let old = try await log.checkpoint()
        try await log.record(.relayLinkOpened(from: fra, to: dub), meeting: meeting, tenant: "acme")
        let report = try #require(try await log.report(meeting: meeting))
        let new = try await log.latestCheckpoint()
        let proof = try await log.consistencyProof(from: old.checkpoint.size, to: new.checkpoint.size)

        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let keyFile = try write("node.pub", "demarc-ed25519-public-v1 \(Data(nodeKey.publicKey.rawRepresentation).base64EncodedString())\n")
        let otherKey = try write("other.pub", "demarc-ed25519-public-v1 \(Data(Ed25519.PrivateKey().publicKey.rawRepresentation).base64EncodedString())\n")
        let encoder = JSONEncoder()
        let reportFile = try write("report.json", String(decoding: try encoder.encode(report), as: UTF8.self))
        var tampered = report
        tampered.summary.jurisdictions[0].regions = ["us-east-nyc"]
        let tamperedFile = try write("tampered.json", String(decoding: try encoder.encode(tampered), as: UTF8.self))
        let html = dir.appendingPathComponent("report.html").path

        var r = try run(["transparency", "verify", reportFile, "--key", keyFile, "--html", html])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("VERIFIED"))
        #expect(FileManager.default.fileExists(atPath: html))
        r = try run(["transparency", "verify", tamperedFile, "--key", keyFile])
        #expect(r.status != 0 && r.output.contains("FAILED"), "\(r.output)")
        r = try run(["transparency", "verify", reportFile, "--key", otherKey])
        #expect(r.status != 0 && r.output.contains("FAILED"), "\(r.output)")

        let oldFile = try write("old.checkpoint", old.serialized), newFile = try write("new.checkpoint", new.serialized)
        let proofJSON = "{\"from\":\(old.checkpoint.size),\"to\":\(new.checkpoint.size),\"proof\":[\(proof.map { "\"\(Data($0.bytes).base64EncodedString())\"" }.joined(separator: ","))]}"
        let proofFile = try write("proof.json", proofJSON)
        r = try run(["transparency", "consistency", oldFile, newFile, "--key", keyFile, "--proof", proofFile])
        #expect(r.status == 0 && r.output.contains("CONSISTENT"), "\(r.output)")
        r = try run(["transparency", "consistency", newFile, oldFile, "--key", keyFile, "--proof", proofFile])
        #expect(r.status != 0, "\(r.output)")
        var flipped = proof[0].bytes
        flipped[0] ^= 0x01
        let badProof = try write("bad-proof.json", "{\"from\":\(old.checkpoint.size),\"to\":\(new.checkpoint.size),\"proof\":[\"\(Data(flipped).base64EncodedString())\"]}")
        r = try run(["transparency", "consistency", oldFile, newFile, "--key", keyFile, "--proof", badProof])
        #expect(r.status != 0, "\(r.output)")
    }

    /// A participant who trusts only the operator: the report carries the node's
    /// certificate, the operator key vouches for the node key, the node key for the checkpoint.
    @Test func verifyWithTheOperatorKeyThroughTheEmbeddedNodeCertificate() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.demarc.path), "build the demarc product first")
        let dir = URL(fileURLWithPath: tempPath("op")).deletingLastPathComponent()
        let operatorKey = Ed25519.PrivateKey(), nodeKey = Ed25519.PrivateKey()
        let now = Int64(Date().timeIntervalSince1970)
        let cert = try NodeCertificate.issue(nodeID: "fra-1", nodePublicKey: nodeKey.publicKey, region: "eu-de-fra", jurisdiction: "DE",
                                             notBeforeUnix: now - 3_600, notAfterUnix: now + 86_400, serial: 1, signer: operatorKey)
        let store = try SQLiteTransparencyStore(path: dir.appendingPathComponent("log.sqlite").path)
        let log = TransparencyLog(store: store, signer: try NoteSigner(keyName: "demarc.test/fra-1", key: nodeKey), nodeCertificatePEM: cert.pem)
        let key = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        let meeting = key.meeting("board")
        try await log.record(StoreConformance.policy(), meeting: meeting, tenant: "acme")
        try await log.record(.mediaProcessed(at: fra, endToEndEncrypted: true), meeting: meeting, tenant: "acme")
        let report = try #require(try await log.report(meeting: meeting))

        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let reportFile = try write("report.json", String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
        let operatorFile = try write("operator.pub", KeyFile.encodePublic(operatorKey.publicKey))
        let impostorFile = try write("impostor.pub", KeyFile.encodePublic(Ed25519.PrivateKey().publicKey))

        var r = try run(["transparency", "verify", reportFile, "--key", operatorFile])
        #expect(r.status == 0 && r.output.contains("VERIFIED") && r.output.contains("certified by the given operator key"), "\(r.output)")
        r = try run(["transparency", "verify", reportFile, "--key", impostorFile])
        #expect(r.status != 0 && r.output.contains("FAILED"), "\(r.output)")
    }
}
