import Foundation
import Testing
@testable import MediaLoadTest

/// `demarc loadtest --target janus` against a real, running Janus (the one process named
/// `janus`, on 127.0.0.1:8088). Opt-in, and `make test` skips it:
///
///     pid=$(Benchmarks/janus/start-janus.sh) && DEMARC_JANUS_TEST=1 swift test --filter JanusTargetTests; kill $pid
///
/// The test does not start Janus itself: a process the test runner spawns inherits its
/// blocked signals (SIGTERM does not stop it) and was never reaped (`Process.waitUntilExit`
/// hung on the zombie), so the script runs outside.
@Suite("Janus target (opt-in: DEMARC_JANUS_TEST=1, with a running Janus)",
       .enabled(if: ProcessInfo.processInfo.environment["DEMARC_JANUS_TEST"] == "1" && FileManager.default.isExecutableFile(atPath: "/usr/bin/janus")))
struct JanusTargetTests {
    @Test func aSimulcastPublisherReachesEverySubscriberThroughJanus() async throws {
        var configuration = LoadTestConfiguration()
        configuration.subscribersPerMeeting = 3
        configuration.duration = .seconds(1)
        configuration.shape = .simulcastWithAudio(videoBitsPerSecond: 1_000_000)
        let result = try await JanusLoadTest.run(configuration, janus: JanusTargetOptions())
        #expect(result.target == "janus")
        #expect(result.subscribers == 3)
        // Every subscriber connected through full ICE and DTLS, and got audio and the top layer.
        #expect(result.expected > 0)
        #expect(result.deliveredPercent >= 90)
        #expect(result.serverCPUSeconds >= 0)
    }
}
