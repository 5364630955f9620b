/// Builds and removes a `LabPlan`'s namespaces, veths, addresses, routes and nft table
/// by running `ip` and `nft` (as root). Every step's failure names the command.
public struct LabNetwork: Sendable {
    public let plan: LabPlan
    public let runner: CommandRunner

    public init(plan: LabPlan, runner: CommandRunner = CommandRunner()) {
        self.plan = plan
        self.runner = runner
    }

    /// Creates everything; on a failure part-way, removes what it made and rethrows.
    public func create(faults: LabFaults = LabFaults()) throws(NetLabError) {
        guard isRoot else { throw .notRoot(operation: "creating network namespaces") }
        do throws(NetLabError) {
            let hub = plan.hubNamespace
            try runner.run(["ip", "netns", "add", hub])
            try runner.run(["ip", "-n", hub, "link", "set", "lo", "up"])
            try runner.run(["ip", "netns", "exec", hub, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            for n in plan.nodes {
                try runner.run(["ip", "netns", "add", n.namespace])
                try runner.run(["ip", "-n", n.namespace, "link", "set", "lo", "up"])
                // Created directly inside the namespaces: no interface name in the host's namespace.
                try runner.run(["ip", "link", "add", n.hubInterface, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns", n.namespace])
                try runner.run(["ip", "-n", hub, "addr", "add", "\(n.hubAddress)/24", "dev", n.hubInterface])
                try runner.run(["ip", "-n", hub, "link", "set", n.hubInterface, "up"])
                try runner.run(["ip", "-n", n.namespace, "addr", "add", "\(n.address)/24", "dev", "eth0"])
                try runner.run(["ip", "-n", n.namespace, "link", "set", "eth0", "up"])
                try runner.run(["ip", "-n", n.namespace, "route", "add", "default", "via", n.hubAddress])
            }
            try apply(faults)
        } catch {
            _ = destroy()
            throw error
        }
    }

    /// Replaces the lab's nft table (relay redirects and faults) in one transaction.
    public func apply(_ faults: LabFaults) throws(NetLabError) {
        try runner.run(["ip", "netns", "exec", plan.hubNamespace, "nft", "-f", "-"], input: plan.nftScript(faults: faults))
    }

    /// Removes the nft table and every namespace of the plan that exists (deleting a
    /// namespace deletes its end of each veth, and with it the peer). Best effort:
    /// goes on after a failure and returns every failure.
    @discardableResult
    public func destroy() -> [NetLabError] {
        var failures: [NetLabError] = []
        let existing = Self.namespaces(runner: runner)
        if existing.contains(plan.hubNamespace) {
            let out = try? runner.runUnchecked(["ip", "netns", "exec", plan.hubNamespace, "nft", "delete", "table", "inet", plan.table])
            if let out, out.status != 0, !out.stderr.contains("No such file") {
                failures.append(.commandFailed(command: "ip netns exec \(plan.hubNamespace) nft delete table inet \(plan.table)", status: out.status, output: out.stderr))
            }
        }
        for ns in plan.nodes.map(\.namespace) + [plan.hubNamespace] where existing.contains(ns) {
            do throws(NetLabError) { try runner.run(["ip", "netns", "del", ns]) } catch { failures.append(error) }
        }
        return failures
    }

    /// Names of the network namespaces that exist now.
    public static func namespaces(runner: CommandRunner = CommandRunner()) -> Set<String> {
        guard let out = try? runner.run(["ip", "netns", "list"]) else { return [] }
        return Set(out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    /// Runs a command inside one of the lab's namespaces.
    @discardableResult
    public func exec(in namespace: String, _ arguments: [String], input: String? = nil) throws(NetLabError) -> String {
        try runner.run(["ip", "netns", "exec", namespace] + arguments, input: input)
    }
}
