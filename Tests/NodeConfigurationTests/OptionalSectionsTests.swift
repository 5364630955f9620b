import Testing
import NodeConfiguration

/// The sections a node may leave out: the region catalog path and the media port.
@Suite struct OptionalSectionsTests {
    static let base = """
    node: { id: fra-1, region: eu-de-fra, key: k, certificate: c }
    trust: { operator_keys: [op.pub] }
    gossip: { bind: 127.0.0.1:7946, keyring: g }
    tokens: { issuer_key: t }
    """

    @Test func regionsAndMediaAreOptionalAndReadWhenGiven() throws {
        let plain = try NodeConfig.parse(Self.base, file: "node.yaml")
        #expect(plain.media == nil && plain.trust.regionsPath == nil)
        let full = try NodeConfig.parse(Self.base.replacingOccurrences(of: "trust: { operator_keys: [op.pub] }",
                                                                       with: "trust: { operator_keys: [op.pub], regions: my-regions.yaml }")
                                        + "\nmedia: { bind: 0.0.0.0:7882 }\n", file: "node.yaml")
        #expect(full.trust.regionsPath == "my-regions.yaml")
        #expect(full.media?.bind == SocketAddress(host: "0.0.0.0", port: 7882))
    }

    @Test func aBadMediaAddressNamesTheFieldAndLine() {
        #expect {
            try NodeConfig.parse(Self.base + "\nmedia: { bind: nowhere }\n", file: "node.yaml")
        } throws: { error in
            "\(error)".contains("node.yaml:5") && "\(error)".contains("media.bind")
        }
        #expect {
            try NodeConfig.parse(Self.base + "\nmedia: { port: 7882 }\n", file: "node.yaml")
        } throws: { error in "\(error)".contains("port") }
    }
}
