import ArgumentParser
import Foundation
import Gossip
import NetLab
import Placement
import Residency

/// `demarc cluster up|down|status|partition|heal|loss`: a local multi-region cluster
/// from a topology file, on 127.0.0.1 or (as root, `--netns`) one network namespace per
/// node with the topology's latencies applied by delaying relays. docs/cluster.md.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "A local multi-region cluster from a topology file (docs/cluster.md).",
        subcommands: [Up.self, Down.self, Status.self, Partition.self, Heal.self, Loss.self, Relay.self, Probe.self])

    static let defaultStateDirectory = ".demarc-cluster"

    struct StateOption: ParsableArguments {
        @Option(help: "The cluster's state directory.") var stateDir = ClusterCommand.defaultStateDirectory
        var absolute: String { URL(fileURLWithPath: stateDir).standardizedFileURL.path }

        func load() throws -> ClusterState {
            guard let state = try ClusterState.load(from: absolute) else {
                throw ClusterError("no cluster in '\(stateDir)' (no cluster.json); start one with `demarc cluster up TOPOLOGY.yaml`")
            }
            return state
        }
    }

    // MARK: up

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate keys, certificates and configs for every node of a topology, start the nodes, wait until they answer.")
        @Argument(help: "The topology file, e.g. Topologies/local.yaml.") var topology: String
        @OptionGroup var state: StateOption
        @Flag(help: "One network namespace per node (root only), the topology's RTTs applied between nodes.") var netns = false
        @Option(help: "The demarc binary the nodes run (default: this one).") var binary: String?
        @Option(help: "Seconds to wait for every node's GET /healthz to answer 200.") var timeout = 60
        @Flag(help: "Write keys, certificates and node.yaml files, start nothing.") var generateOnly = false
        @Option(help: "Jurisdiction catalog (default: Topologies/jurisdictions.yaml).") var jurisdictions: String?
        @Flag(help: "Print the cluster as JSON.") var json = false

        func run() async throws {
            let dir = state.absolute
            if let existing = try ClusterState.load(from: dir) {
                let running = existing.processes.filter(\.isRunning)
                if running.isEmpty {
                    throw ClusterError("'\(state.stateDir)' holds a stopped cluster '\(existing.name)'; run `demarc cluster down --state-dir \(state.stateDir)` to remove it first")
                }
                throw ClusterError("cluster '\(existing.name)' is already running from '\(state.stateDir)' (pids \(running.map { String($0.pid) }.joined(separator: ", "))); stop it with `demarc cluster down --state-dir \(state.stateDir)`")
            }
            if let contents = try? FileManager.default.contentsOfDirectory(atPath: dir), !contents.isEmpty {
                throw ClusterError("'\(state.stateDir)' exists and is not a cluster state directory; choose another --state-dir")
            }
            if netns, !isRoot { throw ClusterError(NetLabError.notRoot(operation: "--netns").description) }
            let exe = try binaryPath()
            let catalogPath = URL(fileURLWithPath: try InputFiles.catalogPath(jurisdictions)).standardizedFileURL.path
            let catalog = try InputFiles.catalog(catalogPath)
            let topo: Topology
            do { topo = try Topology.parse(try InputFiles.read(topology, what: "topology"), file: topology, catalog: catalog) } catch let e as ConfigError {
                throw ClusterError("the topology is invalid:\n\(e)")
            }
            guard !topo.nodes.isEmpty else { throw ClusterError("the topology has no nodes") }

            let name = topo.name.isEmpty ? "cluster" : topo.name
            let prefix = "dm-" + String(fnv1a(dir) % 0x10000, radix: 16)
            var plan: LabPlan?
            var endpoints: [NodeID: ClusterFiles.Endpoints] = [:]
            if netns {
                let ids = topo.nodes.map(\.id.rawValue)
                let gossipPorts = Dictionary(uniqueKeysWithValues: topo.nodes.map { ($0.id.rawValue, topo.ports[$0.id]?.gossip ?? 7946) })
                let mediaPorts = Dictionary(uniqueKeysWithValues: topo.nodes.map { ($0.id.rawValue, topo.ports[$0.id]?.media ?? 10_000) })
                let view = try topo.clusterView()
                let regionOf = Dictionary(uniqueKeysWithValues: topo.nodes.map { ($0.id.rawValue, $0.region) })
                plan = try LabPlan.make(prefix: prefix, nodeIDs: ids,
                                        delayedPorts: [.init(name: "gossip", ports: gossipPorts), .init(name: "media", ports: mediaPorts)],
                                        rtt: { a, b in
                                            guard let ra = regionOf[a], let rb = regionOf[b], ra != rb else { return nil }
                                            return view.rttMilliseconds(ra, rb)
                                        })
                for n in topo.nodes {
                    let address = plan!.node(n.id.rawValue)!.address
                    endpoints[n.id] = .init(gossip: .init(host: address, port: gossipPorts[n.id.rawValue]!),
                                            http: .init(host: address, port: topo.ports[n.id]?.http ?? 8080),
                                            media: mediaPorts[n.id.rawValue])
                }
            } else {
                var taken = Set(topo.ports.values.flatMap { [$0.gossip, $0.http, $0.media].compactMap { $0 } })
                let needed = topo.nodes.reduce(0) { $0 + (topo.ports[$1.id]?.gossip == nil ? 1 : 0) + (topo.ports[$1.id]?.http == nil ? 1 : 0) }
                var free = LoopbackPorts.free(needed, excluding: taken)[...]
                guard free.count == needed else { throw ClusterError("could not find \(needed) free ports on 127.0.0.1") }
                for n in topo.nodes {
                    let p = topo.ports[n.id]
                    let g = p?.gossip ?? free.popFirst()!, h = p?.http ?? free.popFirst()!
                    taken.formUnion([g, h])
                    endpoints[n.id] = .init(gossip: .init(host: "127.0.0.1", port: g), http: .init(host: "127.0.0.1", port: h), media: p?.media)
                }
                let busy = topo.nodes.flatMap { n in [endpoints[n.id]!.gossip.port, endpoints[n.id]!.http.port].filter { !LoopbackPorts.isFree($0) }.map { "\(n.id): \($0)" } }
                if !busy.isEmpty, !generateOnly {
                    throw ClusterError("ports in use on 127.0.0.1 (another cluster?): \(busy.joined(separator: ", ")); stop it, or remove `ports:` from the topology to pick free ones")
                }
            }

            let files = ClusterFiles(directory: dir, topology: topo, topologyPath: URL(fileURLWithPath: topology).standardizedFileURL.path, catalogPath: catalogPath)
            let namespaces = Dictionary(uniqueKeysWithValues: (plan?.nodes ?? []).map { ($0.id, $0.namespace) })
            let (nodes, _) = try files.write(endpoints: endpoints, tokenLifetimeSeconds: 30 * 86_400, namespaces: namespaces)
            var cluster = ClusterState(name: name, topology: URL(fileURLWithPath: topology).standardizedFileURL.path, stateDirectory: dir,
                                       netns: netns, binary: exe, tool: Self.selfPath, createdAt: Date().formatted(.iso8601),
                                       operatorKey: files.path("operator.key"), tokenKey: files.path("tokens.key"),
                                       operatorToken: files.path("operator.token"), nodes: nodes, lab: plan)
            try cluster.save()
            if generateOnly {
                report(cluster, started: false)
                return
            }

            do {
                try await start(&cluster)
            } catch {
                printError("cluster up failed: \(error)")
                printError("stopping what was started; logs stay in \(dir)/nodes/<id>/ until `demarc cluster down --state-dir \(state.stateDir)`")
                _ = await ProcessRecord.stop(cluster.processes, grace: .seconds(5))
                if let plan = cluster.lab { LabNetwork(plan: plan).destroy().forEach { printError("teardown: \($0)") } }
                throw ExitCode(1)
            }
            report(cluster, started: true)
        }

        func binaryPath() throws -> String {
            if let binary {
                guard FileManager.default.isExecutableFile(atPath: binary) else { throw ClusterError("--binary '\(binary)' is not an executable file") }
                return URL(fileURLWithPath: binary).standardizedFileURL.path
            }
            return Self.selfPath
        }

        static var selfPath: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

        /// Namespaces and relays (with --netns), then the nodes; waits for every /healthz.
        func start(_ cluster: inout ClusterState) async throws {
            let dir = cluster.stateDirectory
            if let plan = cluster.lab {
                try LabNetwork(plan: plan).create(faults: cluster.faults)
                let routesPath = (dir as NSString).appendingPathComponent("relays.json")
                try writeJSON(plan.relays.map(\.route), to: routesPath)
                cluster.relay = try ProcessRecord.spawnDetached(
                    ["ip", "netns", "exec", plan.hubNamespace, cluster.tool, "cluster", "relay", "--routes", routesPath,
                     "--counters", (dir as NSString).appendingPathComponent("relay-counters.json")].withToolPaths,
                    stdout: (dir as NSString).appendingPathComponent("relay.log"), stderr: (dir as NSString).appendingPathComponent("relay.log"))
                try cluster.save()
            }
            for i in cluster.nodes.indices {
                let n = cluster.nodes[i]
                let nodeDir = (n.config as NSString).deletingLastPathComponent
                var command = [cluster.binary, "node", "run", "--config", n.config]
                if let ns = n.namespace { command = ["ip", "netns", "exec", ns].withToolPaths + command }
                cluster.nodes[i].process = try ProcessRecord.spawnDetached(
                    command, stdout: (nodeDir as NSString).appendingPathComponent("stdout.log"), stderr: (nodeDir as NSString).appendingPathComponent("stderr.log"))
                try cluster.save()
            }
            try await waitForHealth(cluster)
        }

        func waitForHealth(_ cluster: ClusterState) async throws {
            let deadline = ContinuousClock.now + .seconds(timeout)
            var pending = Set(cluster.nodes.map(\.id))
            var lastProblem: [String: String] = [:]
            while !pending.isEmpty {
                if let relay = cluster.relay, !relay.isRunning {
                    throw ClusterError("the relay process stopped:\n\(relay.stderrTail())")
                }
                for n in cluster.nodes where pending.contains(n.id) {
                    if let p = n.process, !p.isRunning {
                        throw ClusterError("node \(n.id) exited before answering; its stderr (\(p.stderr)):\n\(p.stderrTail())")
                    }
                    let result = await Self.healthz(n, hub: cluster.lab?.hubNamespace, tool: cluster.tool)
                    if result == nil { pending.remove(n.id) } else { lastProblem[n.id] = result }
                }
                if pending.isEmpty { break }
                if ContinuousClock.now > deadline {
                    let why = pending.sorted().map { "\($0): \(lastProblem[$0] ?? "no answer")" }.joined(separator: "; ")
                    throw ClusterError("not every node answered GET /healthz within \(timeout) s (\(why))")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        /// nil when the node answered 200, else what went wrong. With namespaces the request
        /// is made from the hub namespace (the nodes' addresses exist only there).
        static func healthz(_ n: ClusterState.Node, hub: String?, tool: String) async -> String? {
            if let hub {
                let out = try? CommandRunner().runUnchecked(["ip", "netns", "exec", hub, tool, "cluster", "probe", "http://\(n.http)/healthz"])
                return out?.status == 0 ? nil : (out.map { $0.stdout + $0.stderr } ?? "could not run the probe")
            }
            do {
                let r = try await HTTPProbe.get(host: n.http.host, port: n.http.port, path: "/healthz")
                return r.status == 200 ? nil : "status \(r.status)"
            } catch { return "\(error)" }
        }

        func report(_ cluster: ClusterState, started: Bool) {
            if json {
                print(ClusterCommand.json(cluster))
                return
            }
            let place = cluster.netns ? "in network namespaces (hub \(cluster.lab?.hubNamespace ?? "?"))" : "on 127.0.0.1"
            print(started ? "cluster '\(cluster.name)' is up: \(cluster.nodes.count) nodes \(place)"
                          : "cluster '\(cluster.name)' generated (nothing started): \(cluster.nodes.count) nodes \(place)")
            print(ClusterCommand.table(cluster))
            print("state:          \(cluster.stateDirectory)")
            print("operator token: \(cluster.operatorToken) (role operator, 30 days)")
            if let n = cluster.nodes.first {
                let curl = "curl -H \"Authorization: Bearer $(cat \(cluster.operatorToken))\" http://\(n.http)/v1/tenants"
                print("  e.g.          \(cluster.lab.map { "ip netns exec \($0.hubNamespace) " } ?? "")\(curl)")
            }
            if let lab = cluster.lab, !lab.relays.isEmpty {
                print("latency:        \(lab.relays.count) delaying relays (gossip and media UDP between nodes of different regions)")
            }
            print(started ? "stop with:      demarc cluster down --state-dir \(cluster.stateDirectory)"
                          : "remove with:    demarc cluster down --state-dir \(cluster.stateDirectory)")
        }
    }

    // MARK: down

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the cluster's processes (SIGTERM, then SIGKILL), remove its namespaces and nft table, and its state directory.")
        @OptionGroup var state: StateOption
        @Option(help: "Seconds between SIGTERM and SIGKILL.") var grace = 10
        @Flag(help: "Keep the state directory (keys, configs, logs).") var keepState = false

        func run() async throws {
            let cluster = try state.load()
            let stopped = cluster.processes.filter(\.isRunning).count
            let killed = await ProcessRecord.stop(cluster.processes, grace: .seconds(grace))
            var failures: [String] = []
            if let plan = cluster.lab {
                failures += LabNetwork(plan: plan).destroy().map(\.description)
            }
            let survivors = cluster.processes.filter(\.isRunning).map(\.pid)
            if !survivors.isEmpty { failures.append("processes still running after SIGKILL: \(survivors)") }
            guard failures.isEmpty else {
                throw ClusterError("cluster down did not finish, state kept in \(cluster.stateDirectory):\n" + failures.joined(separator: "\n"))
            }
            if !keepState { try FileManager.default.removeItem(atPath: cluster.stateDirectory) }
            print("cluster '\(cluster.name)' is down: \(stopped) processes stopped\(killed.isEmpty ? "" : " (\(killed.count) needed SIGKILL)")"
                  + (cluster.lab.map { ", namespaces \($0.prefix)-* and nft table inet \($0.table) removed" } ?? "")
                  + (keepState ? "; state kept in \(cluster.stateDirectory)" : "; \(cluster.stateDirectory) removed"))
        }
    }

    // MARK: status

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the cluster's nodes and whether each process runs and answers /healthz.")
        @OptionGroup var state: StateOption
        @Flag(help: "Print the cluster as JSON.") var json = false

        func run() async throws {
            let cluster = try state.load()
            if json { print(ClusterCommand.json(cluster)); return }
            print(ClusterCommand.table(cluster))
            for n in cluster.nodes {
                let health = n.process?.isRunning == true ? (await Up.healthz(n, hub: cluster.lab?.hubNamespace, tool: cluster.tool) ?? "healthy") : "not running"
                print("\(n.id): \(health)")
            }
            if !cluster.faults.partitions.isEmpty || !cluster.faults.lossPercent.isEmpty {
                print("faults: " + ClusterCommand.describe(cluster.faults))
            }
        }
    }

    // MARK: faults (netns only)

    static func applyFaults(_ state: StateOption, _ change: (inout LabFaults, ClusterState) throws -> Void) throws {
        var cluster = try state.load()
        guard let plan = cluster.lab else {
            throw ClusterError("cluster '\(cluster.name)' runs on 127.0.0.1; partitions and loss need `cluster up --netns` (root)")
        }
        try change(&cluster.faults, cluster)
        try LabNetwork(plan: plan).apply(cluster.faults)
        try cluster.save()
        print("faults now: \(describe(cluster.faults))")
    }

    static func checkNodes(_ ids: [String], in cluster: ClusterState) throws {
        let known = Set(cluster.nodes.map(\.id))
        if let bad = ids.first(where: { !known.contains($0) }) {
            throw ClusterError("no node '\(bad)' in cluster '\(cluster.name)' (nodes: \(cluster.nodes.map(\.id).joined(separator: ", ")))")
        }
    }

    struct Partition: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop all traffic between two sets of nodes (--netns clusters).")
        @Argument(help: "Nodes on one side, comma-separated: fra-1,fra-2.") var side: String
        @Option(help: "Nodes on the other side, comma-separated.") var from: String
        @OptionGroup var state: StateOption

        func run() throws {
            let a = side.split(separator: ",").map(String.init), b = from.split(separator: ",").map(String.init)
            guard !a.isEmpty, !b.isEmpty, Set(a).isDisjoint(with: b) else { throw ValidationError("give two disjoint, non-empty sets of nodes") }
            try ClusterCommand.applyFaults(state) { faults, cluster in
                try ClusterCommand.checkNodes(a + b, in: cluster)
                faults.partitions.append(.init(side: a, from: b))
            }
        }
    }

    struct Heal: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every partition (and with --loss, every loss rule).")
        @OptionGroup var state: StateOption
        @Flag(help: "Also remove loss rules.") var loss = false

        func run() throws {
            try ClusterCommand.applyFaults(state) { faults, _ in
                faults.partitions = []
                if loss { faults.lossPercent = [:] }
            }
        }
    }

    struct Loss: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop PERCENT % of the packets NODE sends, at random (0 removes it).")
        @Argument(help: "The node.") var node: String
        @Argument(help: "0...100.") var percent: Int
        @OptionGroup var state: StateOption

        func run() throws {
            guard (0...100).contains(percent) else { throw ValidationError("PERCENT must be between 0 and 100") }
            try ClusterCommand.applyFaults(state) { faults, cluster in
                try ClusterCommand.checkNodes([node], in: cluster)
                faults.lossPercent[node] = percent == 0 ? nil : percent
            }
        }
    }

    // MARK: internal helpers run by `cluster up`

    struct Relay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run delaying UDP relays from a routes file until terminated (started by `cluster up --netns`).", shouldDisplay: false)
        @Option(help: "JSON array of relay routes.") var routes: String
        @Option(help: "Write the relays' counters here every 2 s.") var counters: String?
        @Option(help: "Seed of the loss generators.") var seed: UInt64 = 1

        func run() async throws {
            let list = try JSONDecoder().decode([RelayRoute].self, from: Data(try InputFiles.read(routes, what: "relay routes").utf8))
            let set = RelaySet(routes: list) { i in GossipRandom(seed: seed &+ UInt64(i)) }
            try await set.start()
            print("\(list.count) relays running")
            while true {
                if let counters {
                    var all: [String: RelayCounters] = [:]
                    for r in set.relays { all[r.route.name] = try? await r.counters() }
                    try? writeJSON(all, to: counters)
                }
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "GET a URL once; exit 0 on 200 and print the body (used inside namespaces by `cluster up`).", shouldDisplay: false)
        @Argument(help: "http://host:port/path") var url: String
        @Option(help: "Bearer token file.") var tokenFile: String?

        func run() async throws {
            guard let u = URL(string: url), u.scheme == "http", let host = u.host, let port = u.port else {
                throw ValidationError("'\(url)' is not http://host:port/path")
            }
            var headers: [String: String] = [:]
            if let tokenFile {
                headers["Authorization"] = "Bearer " + (try InputFiles.read(tokenFile, what: "token")).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let r = try await HTTPProbe.get(host: host, port: port, path: u.path.isEmpty ? "/" : u.path, headers: headers)
            print(r.body)
            if r.status != 200 {
                printError("status \(r.status)")
                throw ExitCode(1)
            }
        }
    }

    // MARK: output

    static func table(_ cluster: ClusterState) -> String {
        var rows = [["NODE", "REGION", "JURISDICTION", "GOSSIP", "HTTP", "PID"] + (cluster.netns ? ["NAMESPACE"] : [])]
        for n in cluster.nodes {
            rows.append([n.id, n.region, n.jurisdiction, n.gossip.description, "http://\(n.http)", n.process.map { String($0.pid) } ?? "-"]
                        + (cluster.netns ? [n.namespace ?? "-"] : []))
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
            .joined(separator: "\n")
    }

    static func json(_ cluster: ClusterState) -> String {
        struct Out: Encodable {
            struct Node: Encodable { var id, region, jurisdiction, gossip, http: String; var pid: Int32?; var namespace: String?; var config: String }
            var name: String, stateDirectory: String, netns: Bool, operatorToken: String, hubNamespace: String?
            var nodes: [Node]
            var relays: Int
        }
        let out = Out(name: cluster.name, stateDirectory: cluster.stateDirectory, netns: cluster.netns, operatorToken: cluster.operatorToken,
                      hubNamespace: cluster.lab?.hubNamespace,
                      nodes: cluster.nodes.map { .init(id: $0.id, region: $0.region, jurisdiction: $0.jurisdiction, gossip: $0.gossip.description,
                                                       http: "http://\($0.http)", pid: $0.process?.pid, namespace: $0.namespace, config: $0.config) },
                      relays: cluster.lab?.relays.count ?? 0)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(out)) ?? Data(), as: UTF8.self)
    }

    static func describe(_ f: LabFaults) -> String {
        let parts = f.partitions.map { "partition \($0.side.joined(separator: ",")) | \($0.from.joined(separator: ","))" }
            + f.lossPercent.sorted { $0.key < $1.key }.map { "loss \($0.key) \($0.value)%" }
        return parts.isEmpty ? "none" : parts.joined(separator: "; ")
    }
}

/// FNV-1a, to name a state directory's namespaces the same way on every run.
func fnv1a(_ s: String) -> UInt64 {
    s.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

extension [String] {
    /// The tool (`ip`) by its full path, as `Process` needs one.
    var withToolPaths: [String] {
        guard let first, !first.hasPrefix("/") else { return self }
        let located = ["/usr/sbin/\(first)", "/sbin/\(first)", "/usr/bin/\(first)"].first { FileManager.default.isExecutableFile(atPath: $0) }
        return [located ?? first] + dropFirst()
    }
}
