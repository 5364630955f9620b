import Testing
import Foundation
@testable import DemarcNode

/// A node refuses to start when its files disagree, and says which file and field.
@Suite struct NodeSetupTests {
    func withCluster(_ body: (LocalCluster) throws -> Void) throws {
        let c = try LocalCluster([.init(id: "fra-1", region: "eu-de-fra", jurisdiction: "DE"),
                                  .init(id: "dub-1", region: "eu-ie-dub", jurisdiction: "IE")])
        defer { c.stopAll() }
        try body(c)
    }

    func startupError(_ c: LocalCluster, editing edit: (String) -> String) throws -> String {
        let original = try String(contentsOfFile: c.path("fra-1.yaml"), encoding: .utf8)
        try edit(original).write(toFile: c.path("edited.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try NodeSetup.load(configPath: c.path("edited.yaml"))
            return ""
        } catch { return error.description }
    }

    @Test func aConsistentNodeLoadsAndEveryMismatchIsNamed() throws {
        try withCluster { c in
            let setup = try NodeSetup.load(configPath: c.path("fra-1.yaml"))
            #expect(setup.identity.region == "eu-de-fra" && setup.identity.jurisdiction == "DE")
            #expect(setup.regions.regions.contains { $0.id.rawValue == "eu-de-fra" })

            // Another node's certificate, the right certificate with another node's key, a wrong region.
            #expect(try startupError(c) { $0.replacingOccurrences(of: "certificate: fra-1.cert", with: "certificate: dub-1.cert") }
                .contains("node.certificate is for node 'dub-1'"))
            #expect(try startupError(c) { $0.replacingOccurrences(of: "key: fra-1.key", with: "key: dub-1.key") }
                .contains("certifies a different key"))
            #expect(try startupError(c) { $0.replacingOccurrences(of: "region: eu-de-fra", with: "region: eu-ie-dub") }
                .contains("pins this node to region 'eu-de-fra'"))
            // A certificate that no trusted operator signed.
            try c.run(["operator", "keygen", "--out", c.path("impostor.key")])
            #expect(try startupError(c) { $0.replacingOccurrences(of: "operator_keys: [operator.key.pub]", with: "operator_keys: [impostor.key.pub]") }
                .contains("is not valid"))
            // Missing files and a broken keyring.
            #expect(try startupError(c) { $0.replacingOccurrences(of: "keyring: gossip.keyring", with: "keyring: nope.keyring") }
                .contains("cannot read the gossip keyring"))
            try "demarc-gossip-key-v1 k1 short\n".write(toFile: c.path("bad.keyring"), atomically: true, encoding: .utf8)
            #expect(try startupError(c) { $0.replacingOccurrences(of: "keyring: gossip.keyring", with: "keyring: bad.keyring") }
                .contains("gossip.keyring"))
            // A config error keeps its line.
            #expect(try startupError(c) { $0.replacingOccurrences(of: "level: info", with: "level: loud") }.contains("logging.level"))
        }
    }
}
