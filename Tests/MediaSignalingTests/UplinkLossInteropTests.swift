import Foundation
import MediaNIO
import Testing

extension AiortcInteropTests {
    /// 10 % of the aiortc publisher's RTP to the SFU is dropped by a relay in front of it:
    /// the SFU NACKs the publisher, unwraps its RTX (RFC 4588 §4) and forwards the recovered
    /// packets, so the subscriber keeps decoding.
    @Test func nackToThePublisherRecoversUplinkLoss() async throws {
        let node = try TestNode()
        let tokens = (try node.token("up@acme.example"), try node.token("down@acme.example", grants: ["subscribe"]))
        try await node.application().test(.live) { client in
            let port = try #require(client.port)
            let result = try await runPython("interop.py", [
                "--url", "ws://127.0.0.1:\(port)/v1/rtc", "--publisher", tokens.0, "--subscriber", tokens.1,
                "--seconds", "6", "--early-subscribers", "0", "--uplink-loss-percent", "10", "--max-gap", "2.0",
            ])
            let statistics = await node.media.statistics()
            print("uplink loss interop report: \(result.stdout)statistics: \(statistics)")
            #expect(result.status == 0, "interop.py failed: \(result.stdout)\n\(result.stderr.suffix(3000))\n\(statistics)")
            #expect(statistics.nacksSentToPublishers > 0, "\(statistics)")
            #expect(statistics.publisherRetransmissionsReceived > 0, "\(statistics)")
            struct Uplink: Decodable { var uplinkDropped: Int }
            let report = try JSONDecoder().decode(Uplink.self, from: Data(result.stdout.utf8))
            #expect(report.uplinkDropped > 20, "the relay dropped too little to test recovery")
        }
    }
}
