import AccessTokens
import Foundation
import Gossip
import NetLab
import NodeConfiguration
import NodeTrust
import Testing

/// `demarc cluster up|down` through the real binary. Nodes are either the real
/// `demarc node run` or `Fixtures/fake-node.py` (answers /healthz and /v1/cluster,
/// echoes UDP on its gossip port) so the process and network plumbing is tested on its own.
@Suite(.serialized) struct ClusterCommandTests {
    static let fakeNode = CLITests.root.appendingPathComponent("Tests/DemarcCLITests/Fixtures/fake-node.py").path
    static let hasPython = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
        || (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }

    /// Two regions 60 ms apart; a and c share one, b is in the other.
    static let trio = """
    name: trio
    regions:
      r-de: { jurisdiction: DE, at: [50.11, 8.68] }
      r-us: { jurisdiction: US, at: [39.04, -77.49] }
    nodes:
      - { id: a, region: r-de }
      - { id: b, region: r-us }
      - { id: c, region: r-de }
    latency:
      r-de: { r-us: 60 }
    """

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-cluster-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct Listed: Decodable {
        struct Node: Decodable { var id, region, jurisdiction, gossip, http, config: String; var pid: Int32?; var namespace: String? }
        var name: String
        var nodes: [Node]
        var operatorToken: String
        var hubNamespace: String?
        var relays: Int
    }

    static func listed(_ json: String) throws -> Listed {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(Listed.self, from: Data(json.utf8))
    }

    static func running(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    /// Fails if a namespace of the lab named `prefix` still exists, and removes it.
    static func expectNoNamespacesLeft(_ prefix: String) {
        let left = LabNetwork.namespaces().filter { $0.hasPrefix(prefix + "-") }
        #expect(left.isEmpty, "namespaces left behind: \(left)")
        for ns in left { _ = try? CommandRunner().run(["ip", "netns", "del", ns]) }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func eventually(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while await !condition() {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    @Test func generateOnlyWritesKeysCertificatesAndConfigsTheNodesAccept() throws {
        let tmp = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let state = tmp.appendingPathComponent("state").path
        let up = try CLITests.run(["cluster", "up", "Topologies/local.yaml", "--state-dir", state, "--generate-only", "--json"])
        #expect(up.status == 0, "\(up.err)")
        let cluster = try Self.listed(up.out)
        #expect(cluster.nodes.map(\.id) == ["fra-1", "fra-2", "dub-1", "zrh-1", "iad-1"])

        let operatorKey = try KeyFile.decodePublic(try String(contentsOfFile: "\(state)/operator.key.pub", encoding: .utf8))
        let keyring = try KeyringFile.parse(try String(contentsOfFile: "\(state)/gossip.keyring", encoding: .utf8))
        #expect(keyring.keyIDs.count == 1)
        for (i, n) in cluster.nodes.enumerated() {
            let config = try NodeConfig.parse(try String(contentsOfFile: n.config, encoding: .utf8), file: n.config)
            #expect(config.node.id == n.id && config.node.region == n.region)
            #expect(config.gossip.bind.description == "127.0.0.1:\(17_001 + i)", "local.yaml's ports are used")
            #expect(config.http.bind.description == "127.0.0.1:\(18_001 + i)")
            let firstThree = cluster.nodes.prefix(3).filter { $0.id != n.id }.map(\.gossip)
            #expect(config.gossip.seeds.map(\.description) == firstThree, "seeds are the first nodes")
            #expect(config.trust.operatorKeyPaths == ["\(state)/operator.key.pub"])
            #expect(config.gossip.keyringPath == "\(state)/gossip.keyring" && config.tokens.issuerKeyPath == "\(state)/tokens.key")
            guard case let .sqlite(path) = config.store else { Issue.record("not sqlite"); continue }
            #expect(path.hasPrefix(state))

            let cert = try NodeCertificate(pem: try String(contentsOfFile: config.node.certificatePath, encoding: .utf8))
            let identity = try cert.verify(trustedOperators: [operatorKey], nowUnix: Int64(Date().timeIntervalSince1970))
            #expect(identity.nodeID == n.id && identity.region == n.region && identity.jurisdiction == n.jurisdiction)
            let nodeKey = try KeyFile.decodeSecret(try String(contentsOfFile: config.node.keyPath, encoding: .utf8))
            #expect(identity.nodePublicKey == nodeKey.publicKey, "the certificate binds the node's own key")
        }
        let tokenKey = try KeyFile.decodePublic(try String(contentsOfFile: "\(state)/tokens.key.pub", encoding: .utf8))
        let token = try String(contentsOfFile: cluster.operatorToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let claims = try AccessTokenVerifier(keys: [nil: tokenKey], issuers: ["demarc"], audience: "demarc").verify(token)
        #expect(claims.role == .operator && claims.tenant == nil)

        let again = try CLITests.run(["cluster", "up", "Topologies/local.yaml", "--state-dir", state, "--generate-only"])
        #expect(again.status != 0 && again.err.contains("holds a stopped cluster 'local'"), "\(again.err)")
        let down = try CLITests.run(["cluster", "down", "--state-dir", state])
        #expect(down.status == 0, "\(down.err)")
        #expect(!FileManager.default.fileExists(atPath: state), "cluster down removes the state directory")
    }

    @Test(.enabled(if: hasPython, "needs python3 for the stand-in node"))
    func upStartsEveryNodeRefusesASecondUpAndDownStopsThemAll() async throws {
        let tmp = try Self.temporaryDirectory()
        let state = tmp.appendingPathComponent("state").path
        let topology = tmp.appendingPathComponent("trio.yaml")
        try Self.trio.write(to: topology, atomically: true, encoding: .utf8)
        var pids: [Int32] = []
        defer {
            _ = try? CLITests.run(["cluster", "down", "--state-dir", state, "--grace", "2"])
            for p in pids where Self.running(p) { kill(p, SIGKILL) }
            try? FileManager.default.removeItem(at: tmp)
        }
        let up = try CLITests.run(["cluster", "up", topology.path, "--state-dir", state, "--binary", Self.fakeNode, "--json", "--timeout", "60"])
        #expect(up.status == 0, "\(up.err)")
        let cluster = try Self.listed(up.out)
        pids = cluster.nodes.compactMap(\.pid)
        #expect(pids.count == 3 && pids.allSatisfy(Self.running))
        for n in cluster.nodes {
            let url = try #require(URL(string: n.http))
            let r = try await HTTPProbe.get(host: url.host!, port: url.port!, path: "/healthz")
            #expect(r.status == 200, "\(n.id) /healthz")
        }
        let again = try CLITests.run(["cluster", "up", topology.path, "--state-dir", state, "--binary", Self.fakeNode])
        #expect(again.status != 0 && again.err.contains("already running"), "\(again.err)")
        #expect(pids.allSatisfy(Self.running), "a refused up must not touch the running cluster")

        let down = try CLITests.run(["cluster", "down", "--state-dir", state])
        #expect(down.status == 0 && down.out.contains("3 processes stopped"), "\(down.out)\(down.err)")
        #expect(!down.out.contains("SIGKILL"), "the nodes stop on SIGTERM")
        #expect(pids.allSatisfy { !Self.running($0) }, "processes left running")
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    /// Round trips of `count` UDP datagrams from inside `namespace` to `host:port` (an echo), ms.
    static func udpRoundTrips(in namespace: String, to host: String, port: Int, count: Int) throws -> [Double] {
        let script = """
        import socket, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
        for i in range(\(count)):
            t = time.monotonic(); s.sendto(str(i).encode(), ("\(host)", \(port)))
            try:
                s.recvfrom(100); print((time.monotonic() - t) * 1000)
            except socket.timeout:
                pass
        """
        let out = try CommandRunner().run(["ip", "netns", "exec", namespace, "python3", "-c", script])
        return out.split(separator: "\n").compactMap { Double($0) }
    }

    @Test(.enabled(if: isRoot && hasPython, "needs root (network namespaces, nftables) and python3 for the stand-in node"))
    func netnsAppliesTheTopologysRTTBetweenRegionsAndPartitionsCutNodesOff() async throws {
        let tmp = try Self.temporaryDirectory()
        let state = tmp.appendingPathComponent("state").path
        let topology = tmp.appendingPathComponent("trio.yaml")
        try Self.trio.write(to: topology, atomically: true, encoding: .utf8)
        var prefix: String?
        defer {
            _ = try? CLITests.run(["cluster", "down", "--state-dir", state, "--grace", "2"])
            if let prefix { ClusterCommandTests.expectNoNamespacesLeft(prefix) }
            try? FileManager.default.removeItem(at: tmp)
        }
        let up = try CLITests.run(["cluster", "up", topology.path, "--state-dir", state, "--netns", "--binary", Self.fakeNode, "--json"])
        #expect(up.status == 0, "\(up.err)")
        let cluster = try Self.listed(up.out)
        let hub = try #require(cluster.hubNamespace)
        prefix = String(hub.dropLast(4))
        #expect(cluster.relays == 8, "a<->b and c<->b, gossip and media, both ways")
        let a = try #require(cluster.nodes.first { $0.id == "a" }), b = try #require(cluster.nodes.first { $0.id == "b" })
        let c = try #require(cluster.nodes.first { $0.id == "c" })
        let bHost = String(b.gossip.split(separator: ":")[0]), cHost = String(c.gossip.split(separator: ":")[0])
        let nsA = try #require(a.namespace)

        let ab = try Self.udpRoundTrips(in: nsA, to: bHost, port: 7946, count: 10)
        #expect(ab.count == 10, "a -> b: \(ab.count) of 10 echoes")
        #expect(ab.allSatisfy { $0 >= 60 }, "a -> b crosses regions 60 ms apart, measured \(ab)")
        let ac = try Self.udpRoundTrips(in: nsA, to: cHost, port: 7946, count: 5)
        #expect(ac.count == 5, "a -> c (same region, no relay): \(ac.count) of 5 echoes")

        let partition = try CLITests.run(["cluster", "partition", "a,c", "--from", "b", "--state-dir", state])
        #expect(partition.status == 0, "\(partition.err)")
        #expect(try Self.udpRoundTrips(in: nsA, to: bHost, port: 7946, count: 3).isEmpty, "a reached b across the partition")
        #expect(try Self.udpRoundTrips(in: nsA, to: cHost, port: 7946, count: 3).count == 3, "a and c are on the same side")
        let heal = try CLITests.run(["cluster", "heal", "--state-dir", state])
        #expect(heal.status == 0, "\(heal.err)")
        #expect(await Self.eventually(10) { ((try? Self.udpRoundTrips(in: nsA, to: bHost, port: 7946, count: 1)) ?? []).count == 1 },
                "healing did not restore a -> b")

        let down = try CLITests.run(["cluster", "down", "--state-dir", state])
        #expect(down.status == 0, "\(down.err)")
        #expect(LabNetwork.namespaces().filter { $0.hasPrefix(prefix! + "-") }.isEmpty)
        #expect(cluster.nodes.compactMap(\.pid).allSatisfy { !Self.running($0) })
    }
}

/// `cluster up Topologies/local.yaml` with the real `demarc node run`: five nodes that
/// find each other over gossip, then `cluster down` leaves nothing behind.
@Suite(.serialized) struct LocalClusterTests {
    struct Members: Decodable {
        struct Member: Decodable { var node: String; var status: String; var verified: Bool }
        var node: String
        var members: [Member]
    }

    static let ids = ["dub-1", "fra-1", "fra-2", "iad-1", "zrh-1"]

    /// What `node` answers on GET /v1/cluster: member id -> status (verified members only).
    static func view(_ http: String, hub: String?) async -> [String: String] {
        var body: String?
        if let hub {
            body = try? CommandRunner().run(["ip", "netns", "exec", hub, CLITests.binary!.path, "cluster", "probe", "\(http)/v1/cluster"])
        } else if let url = URL(string: http), let r = try? await HTTPProbe.get(host: url.host!, port: url.port!, path: "/v1/cluster"), r.status == 200 {
            body = r.body
        }
        guard let body, let m = try? JSONDecoder().decode(Members.self, from: Data(body.utf8)) else { return [:] }
        return Dictionary(m.members.filter(\.verified).map { ($0.node, $0.status) }, uniquingKeysWith: { a, _ in a })
    }

    static func allSeeAll(_ nodes: [ClusterCommandTests.Listed.Node], hub: String?) async -> Bool {
        for n in nodes {
            let v = await view(n.http, hub: hub)
            guard ids.allSatisfy({ v[$0] == "alive" }) else { return false }
        }
        return true
    }

    @Test(.enabled(if: CLITests.binary != nil, "needs the demarc binary"))
    func upStartsLocalYAMLsNodesThatSeeEachOtherAndDownLeavesNothing() async throws {
        let tmp = try ClusterCommandTests.temporaryDirectory()
        let state = tmp.appendingPathComponent("state").path
        defer {
            _ = try? CLITests.run(["cluster", "down", "--state-dir", state, "--grace", "5"])
            try? FileManager.default.removeItem(at: tmp)
        }
        let up = try CLITests.run(["cluster", "up", "Topologies/local.yaml", "--state-dir", state, "--json"])
        #expect(up.status == 0, "\(up.err)")
        let cluster = try ClusterCommandTests.listed(up.out)
        let converged = await ClusterCommandTests.eventually(60) { await Self.allSeeAll(cluster.nodes, hub: nil) }
        let firstView = await Self.view(cluster.nodes[0].http, hub: nil)
        #expect(converged, "not every node saw all five alive; \(cluster.nodes[0].id) sees \(firstView)")

        let down = try CLITests.run(["cluster", "down", "--state-dir", state])
        #expect(down.status == 0 && down.out.contains("5 processes stopped"), "\(down.out)\(down.err)")
        #expect(!down.out.contains("SIGKILL"), "nodes drain and stop on SIGTERM within the grace period")
        #expect(cluster.nodes.compactMap(\.pid).allSatisfy { !ClusterCommandTests.running($0) }, "node processes left running")
        #expect(!FileManager.default.fileExists(atPath: state))
        #expect((17_001...17_005).allSatisfy(LoopbackPorts.isFree) && (18_001...18_005).allSatisfy(LoopbackPorts.isFree), "ports still bound")
    }

    @Test(.enabled(if: isRoot && CLITests.binary != nil, "needs root (network namespaces, nftables)"))
    func inNamespacesAPartitionedNodeIsSeenFailedAndHealingBringsItBack() async throws {
        let tmp = try ClusterCommandTests.temporaryDirectory()
        let state = tmp.appendingPathComponent("state").path
        var prefix: String?
        defer {
            _ = try? CLITests.run(["cluster", "down", "--state-dir", state, "--grace", "5"])
            if let prefix { ClusterCommandTests.expectNoNamespacesLeft(prefix) }
            try? FileManager.default.removeItem(at: tmp)
        }
        let up = try CLITests.run(["cluster", "up", "Topologies/local.yaml", "--state-dir", state, "--netns", "--json"])
        #expect(up.status == 0, "\(up.err)")
        let cluster = try ClusterCommandTests.listed(up.out)
        let hub = try #require(cluster.hubNamespace)
        prefix = String(hub.dropLast(4))
        #expect(await ClusterCommandTests.eventually(60) { await Self.allSeeAll(cluster.nodes, hub: hub) }, "the nodes never all saw each other")

        let fra1 = try #require(cluster.nodes.first { $0.id == "fra-1" })
        let part = try CLITests.run(["cluster", "partition", "iad-1", "--from", "fra-1,fra-2,dub-1,zrh-1", "--state-dir", state])
        #expect(part.status == 0, "\(part.err)")
        #expect(await ClusterCommandTests.eventually(60) { let s = await Self.view(fra1.http, hub: hub)["iad-1"]; return s != nil && s != "alive" },
                "fra-1 still sees iad-1 alive across the partition")
        let heal = try CLITests.run(["cluster", "heal", "--state-dir", state])
        #expect(heal.status == 0, "\(heal.err)")
        let back = await ClusterCommandTests.eventually(90) { await Self.view(fra1.http, hub: hub)["iad-1"] == "alive" }
        let afterHeal = await Self.view(fra1.http, hub: hub)
        #expect(back, "iad-1 did not come back after healing: fra-1 sees \(afterHeal)")

        let down = try CLITests.run(["cluster", "down", "--state-dir", state])
        #expect(down.status == 0, "\(down.err)")
        #expect(LabNetwork.namespaces().filter { $0.hasPrefix(prefix! + "-") }.isEmpty)
    }
}
