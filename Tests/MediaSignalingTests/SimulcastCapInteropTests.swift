import Foundation
import MediaNIO
import Testing

extension ChromiumInteropTests {
    /// Simulcast under a bandwidth cap (issue 6): headless Chromium publishes three layers;
    /// an aiortc subscriber's downlink goes through a rate-limiting relay
    /// (Tests/Interop/simulcast_cap.py). With the cap on, the loss in the subscriber's
    /// receiver reports lowers the SFU's estimate and the subscriber is moved to a lower
    /// layer; with the cap lifted it is moved back up.
    ///
    /// Opt-in (`DEMARC_SIMULCAST_CAP_TEST=1`): on this 2-core machine the switch down took
    /// 25 s in one run and more than the 45 s allowed in two others (the target layer's
    /// keyframe is lost in the full queue and NACK repairs keep it full; docs/media.md), so in
    /// `make test` it would fail at random rather than catch regressions. Issue 6 stays open on it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DEMARC_SIMULCAST_CAP_TEST"] == "1"))
    func simulcastLayerFollowsADownlinkBandwidthCap() async throws {
        let node = try TestNode()
        let tokens = (try node.token("camera@acme.example"), try node.token("capped@acme.example", grants: ["subscribe"]))
        try await node.application(webClient: true).test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("simulcast_cap.py", [
                "--http", "http://localhost:\(port)", "--browser", tokens.0, "--subscriber", tokens.1, "--cap-kbps", "150",
            ], deadline: .seconds(240))
            let statistics = await node.media.statistics()
            print("simulcast cap report: \(result.stdout)statistics: \(statistics)")
            #expect(result.status == 0, "simulcast_cap.py: \(result.stdout)\n\(result.stderr.suffix(3000))\n\(statistics)")
            // The first layer chosen, one switch down under the cap, one back up at least.
            #expect(statistics.layerSwitches >= 3, "\(statistics)")
        }
    }
}
