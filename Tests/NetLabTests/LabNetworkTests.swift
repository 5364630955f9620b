import Foundation
import NetLab
import Testing

@Suite struct LabPlanTests {
    static func plan() throws -> LabPlan {
        try LabPlan.make(prefix: "dmt-plan", nodeIDs: ["a", "b", "c"],
                         delayedPorts: [.init(name: "gossip", ports: ["a": 7946, "b": 7946, "c": 7946])],
                         rtt: { x, y in Set([x, y]) == ["a", "b"] ? 0 : 80 })
    }

    @Test func eachNodeGetsItsOwnSubnetAndEveryDelayedPairARelayWithHalfTheRTTEachWay() throws {
        let p = try Self.plan()
        #expect(p.nodes.map(\.address) == ["10.77.1.2", "10.77.2.2", "10.77.3.2"])
        #expect(p.nodes.map(\.namespace) == ["dmt-plan-a", "dmt-plan-b", "dmt-plan-c"])
        #expect(p.hubNamespace == "dmt-plan-hub" && p.table == "dmt_plan")
        // a<->b have no latency: no relay; the four ordered pairs with c have one each.
        #expect(Set(p.relays.map { "\($0.from)>\($0.to)" }) == ["a>c", "c>a", "b>c", "c>b"])
        let ac = try #require(p.relays.first { $0.from == "a" && $0.to == "c" })
        #expect(ac.route.forwardDelayMilliseconds == 40 && ac.route.returnDelayMilliseconds == 40)
        #expect(ac.route.listen.host == "10.77.1.1" && ac.route.target == NetEndpoint(host: "10.77.3.2", port: 7946))
        #expect(Set(p.relays.map(\.route.listen.port)).count == p.relays.count, "relay ports are distinct")
    }

    @Test func theRulesetRedirectsRelayedPairsAndDropsPartitionsBothWaysAndLoss() throws {
        let p = try Self.plan()
        let script = p.nftScript(faults: LabFaults(partitions: [.init(side: ["a", "b"], from: ["c"])], lossPercent: ["b": 15]))
        #expect(script.hasPrefix("table inet dmt_plan {}\ndelete table inet dmt_plan\n"), "replaces the table atomically")
        #expect(script.contains("ip saddr { 10.77.1.2, 10.77.2.2 } ip daddr 10.77.3.2 counter drop"))
        #expect(script.contains("ip saddr 10.77.3.2 ip daddr { 10.77.1.2, 10.77.2.2 } counter drop"))
        #expect(script.contains("iifname \"n2\" numgen random mod 100 < 15 counter drop"))
        #expect(script.contains("iifname \"n1\" ip daddr 10.77.3.2 udp dport 7946 dnat ip to 10.77.1.1:20000"))
        #expect(!p.nftScript(faults: LabFaults()).contains("drop"), "no faults, no drops")
    }

    @Test func namesThatCannotBeInterfaceOrNamespaceNamesAreRefused() {
        #expect(throws: NetLabError.invalidName("Bad Prefix")) {
            try LabPlan.make(prefix: "Bad Prefix", nodeIDs: ["a"], delayedPorts: [], rtt: { _, _ in nil })
        }
        #expect(throws: NetLabError.self) { try LabPlan.make(prefix: "ok", nodeIDs: ["a/b"], delayedPorts: [], rtt: { _, _ in nil }) }
    }
}

/// Real namespaces, veths and nftables: root only (CI runs as root).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces and nftables rules"))
struct LabNetworkTests {
    let runner = CommandRunner()

    func ping(_ lab: LabNetwork, from: String, to: String) -> Bool {
        let ns = lab.plan.node(from)!.namespace, address = lab.plan.node(to)!.address
        return (try? lab.exec(in: ns, ["ping", "-c", "1", "-W", "1", address])) != nil
    }

    /// Polls `condition` until it holds or the deadline passes.
    func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(50_000)
        }
        return true
    }

    @Test func pingAndUDPCrossTheVethsAPartitionStopsThemAndHealingRestoresThem() throws {
        let plan = try LabPlan.make(prefix: "dmt-\(getpid() % 100_000)", nodeIDs: ["a", "b"], delayedPorts: [], rtt: { _, _ in nil })
        let lab = LabNetwork(plan: plan, runner: runner)
        defer {
            let failures = lab.destroy()
            #expect(failures.isEmpty, "teardown: \(failures)")
            let left = LabNetwork.namespaces(runner: runner).filter { $0.hasPrefix(plan.prefix) }
            #expect(left.isEmpty, "namespaces left behind: \(left)")
        }
        try lab.create()
        #expect(LabNetwork.namespaces(runner: runner).isSuperset(of: [plan.hubNamespace, "\(plan.prefix)-a", "\(plan.prefix)-b"]))
        #expect(eventually(10) { ping(lab, from: "a", to: "b") }, "a cannot ping b through the hub")

        // UDP: count datagrams to port 9999 arriving in b's namespace (nft counter), sent by bash from a.
        let b = plan.node("b")!
        try lab.exec(in: b.namespace, ["nft", "-f", "-"], input: "table inet probe {\n  chain incoming {\n    type filter hook input priority 0;\n    udp dport 9999 counter\n  }\n}\n")
        func udpArrived() throws -> Int {
            let out = try lab.exec(in: b.namespace, ["nft", "list", "chain", "inet", "probe", "incoming"])
            guard let r = out.range(of: "packets ") else { return 0 }
            return Int(out[r.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        func sendUDP() throws { try lab.exec(in: plan.node("a")!.namespace, ["bash", "-c", "echo hello > /dev/udp/\(b.address)/9999"]) }
        try sendUDP()
        #expect(eventually(5) { ((try? udpArrived()) ?? 0) >= 1 }, "a UDP datagram from a did not reach b")

        try lab.apply(LabFaults(partitions: [.init(side: ["a"], from: ["b"])]))
        #expect(!ping(lab, from: "a", to: "b"), "the partition let a ping through")
        #expect(!ping(lab, from: "b", to: "a"), "the partition let b ping through")
        let before = try udpArrived()
        try sendUDP()
        #expect(!eventually(1) { ((try? udpArrived()) ?? 0) > before }, "a UDP datagram crossed the partition")

        try lab.apply(LabFaults())
        #expect(eventually(10) { ping(lab, from: "a", to: "b") }, "healing did not restore a -> b")
        #expect(ping(lab, from: "b", to: "a"))
    }

    @Test func lossDropsAShareOfANodesPackets() throws {
        let plan = try LabPlan.make(prefix: "dmt-l\(getpid() % 100_000)", nodeIDs: ["a", "b"], delayedPorts: [], rtt: { _, _ in nil })
        let lab = LabNetwork(plan: plan, runner: runner)
        defer { #expect(lab.destroy().isEmpty) }
        try lab.create(faults: LabFaults(lossPercent: ["a": 50]))
        #expect(eventually(10) { ping(lab, from: "b", to: "a") || ping(lab, from: "b", to: "a") }, "no ping got through at all")
        // 200 quick pings: with 50 % egress loss on a (replies), expect roughly half lost.
        let out = try runner.runUnchecked(["ip", "netns", "exec", plan.node("b")!.namespace, "ping", "-q", "-c", "200", "-i", "0.002", "-W", "1", plan.node("a")!.address])
        let text = out.stdout
        let received = text.range(of: #"(\d+) received"#, options: .regularExpression).map { Int(text[$0].split(separator: " ")[0]) ?? -1 } ?? -1
        #expect((40...160).contains(received), "\(received) of 200 replies at 50 % loss:\n\(text)")
        let counters = try lab.exec(in: plan.hubNamespace, ["nft", "list", "chain", "inet", plan.table, "faults"])
        #expect(counters.contains("numgen random mod 100 < 50 counter packets"), "\(counters)")
    }
}
