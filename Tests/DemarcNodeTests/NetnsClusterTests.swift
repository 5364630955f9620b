import Foundation
import Testing
import DemarcTestSupport

/// The end-to-end meeting walk-through (scripts/demo_meeting.py: tenants and policies over
/// HTTP, an EU-only meeting placed from the US node, a join, the home killed and the meeting
/// re-placed on EU nodes only, real aiortc media through the edge, a fail-closed Swiss
/// refusal, every node's report verified) on a cluster in network namespaces: one
/// namespace per node, the topology's RTTs applied between regions by the delaying relays
/// (`demarc cluster up --netns`). Root only (CI runs as root); skipped otherwise.
@Suite(.serialized) struct NetnsClusterTests {
    static var isRoot: Bool {
        getuid() == 0 && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(.enabled(if: NetnsClusterTests.isRoot, "needs root and iproute2 for network namespaces"))
    func theMeetingWalkThroughHoldsInNetworkNamespaces() throws {
        let binary = try #require(LocalCluster.binary)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-netns-\(UUID().uuidString.prefix(8))")
        defer {
            _ = try? ProcessRun.run(binary, ["cluster", "down", "--state-dir", state.path], in: LocalCluster.root)
            try? FileManager.default.removeItem(at: state)
        }
        let up = try ProcessRun.run(binary, ["cluster", "up", "Topologies/local.yaml", "--netns", "--state-dir", state.path], in: LocalCluster.root)
        #expect(up.status == 0, "\(up.out)\(up.err)")
        guard up.status == 0 else { return }
        let cluster = try JSONSerialization.jsonObject(with: Data(contentsOf: state.appendingPathComponent("cluster.json"))) as? [String: Any]
        let hub = try #require((cluster?["lab"] as? [String: Any])?["hubNamespace"] as? String)
        // Run the walk-through from the hub namespace, where every node's HTTP is reachable.
        let walk = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/env"),
                                      ["ip", "netns", "exec", hub, "python3", "scripts/demo_meeting.py", "--demarc", binary.path, "--state", state.path],
                                      in: LocalCluster.root)
        #expect(walk.status == 0, "\(walk.out.suffix(3_000))\(walk.err.suffix(3_000))")
        #expect(walk.out.contains("VERIFIED"))
        #expect(walk.out.contains("no_compliant_node"))
    }
}
