import Testing
import NodeConfiguration
import Residency

@Suite struct NodeConfigTests {
    static let good = """
    node:
      id: fra-1
      region: eu-de-fra
      key: keys/fra-1.key
      certificate: keys/fra-1.cert
      capacity: 200
    trust:
      operator_keys: [keys/operator.key.pub]
    gossip:
      bind: 0.0.0.0:17001
      advertise: 10.1.2.3:17001
      seeds: ["10.1.2.4:17001", "[fd00::5]:17001"]
      keyring: keys/gossip.keyring
      push_pull_interval: 15s
    http:
      bind: 127.0.0.1:18001
    store:
      kind: sqlite
      path: data/fra-1.sqlite
    tokens:
      issuer_key: keys/tokens.key
      participant_lifetime: 30m
    logging:
      level: debug
    """

    @Test func aCompleteConfigParses() throws {
        let c = try NodeConfig.parse(Self.good, file: "node.yaml")
        #expect(c.node.id == "fra-1" && c.node.capacity == 200)
        #expect(c.gossip.advertise == SocketAddress(host: "10.1.2.3", port: 17001))
        #expect(c.gossip.seeds == [SocketAddress(host: "10.1.2.4", port: 17001), SocketAddress(host: "fd00::5", port: 17001)])
        #expect(c.gossip.pushPullIntervalSeconds == 15)
        #expect(c.store == .sqlite(path: "data/fra-1.sqlite"))
        #expect(c.tokens.participantTokenSeconds == 1_800)
        #expect(c.logLevel == .debug)
    }

    func errors(replacing old: String, with new: String) -> [ConfigProblem] {
        let text = Self.good.replacingOccurrences(of: old, with: new)
        do { _ = try NodeConfig.parse(text, file: "node.yaml"); return [] } catch { return error.errors }
    }

    @Test func errorsNameTheFieldAndLine() {
        let e1 = errors(replacing: "bind: 0.0.0.0:17001", with: "bind: 0.0.0.0:99999")
        #expect(e1.contains { $0.field == "gossip.bind" && $0.location.line == 10 })
        let e2 = errors(replacing: "kind: sqlite", with: "kind: mysql")
        #expect(e2.contains { $0.field == "store.kind" && $0.location.line == 18 && $0.fix.contains("postgres") })
        let e3 = errors(replacing: "  id: fra-1", with: "  id: Fra 1")
        #expect(e3.contains { $0.field == "node.id" && $0.location.line == 2 })
        let e4 = errors(replacing: "  keyring: keys/gossip.keyring\n", with: "")
        #expect(e4.contains { $0.field == "gossip.keyring" })
        let e5 = errors(replacing: "level: debug", with: "level: loud")
        #expect(e5.contains { $0.field == "logging.level" && $0.location.line == 24 })
        let e6 = errors(replacing: "advertise: 10.1.2.3:17001", with: "advertize: 10.1.2.3:17001")
        #expect(e6.contains { $0.field == "gossip.advertize" && $0.fix.contains("advertise") })
        let e7 = errors(replacing: "operator_keys: [keys/operator.key.pub]", with: "operator_keys: []")
        #expect(e7.contains { $0.field == "trust.operator_keys" })
        let e8 = errors(replacing: "participant_lifetime: 30m", with: "participant_lifetime: 30d")
        #expect(e8.contains { $0.field == "tokens.participant_lifetime" })
    }

    @Test func socketAddresses() {
        #expect(SocketAddress(parsing: "127.0.0.1:80") == SocketAddress(host: "127.0.0.1", port: 80))
        #expect(SocketAddress(parsing: "[::1]:80")?.host == "::1")
        #expect(SocketAddress(parsing: "node-1.demarc:7946")?.description == "node-1.demarc:7946")
        for bad in ["", "host", ":80", "h:0", "h:65536", "::1:80", "[::1]80", "h :80", "h:8x"] {
            #expect(SocketAddress(parsing: bad) == nil, "\(bad)")
        }
    }
}
