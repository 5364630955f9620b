import Foundation
import Testing
@testable import MediaLoadTest

/// `demarc loadtest --target janus` against a real Janus, started from this folder's config
/// (Benchmarks/janus). Opt-in: `DEMARC_JANUS_TEST=1 swift test --filter JanusTargetTests`,
/// and only where Debian's janus is installed; `make test` skips it.
@Suite("Janus target (opt-in: DEMARC_JANUS_TEST=1)",
       .enabled(if: ProcessInfo.processInfo.environment["DEMARC_JANUS_TEST"] == "1" && FileManager.default.isExecutableFile(atPath: "/usr/bin/janus")))
struct JanusTargetTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts Janus with Benchmarks/janus/start-janus.sh (which returns once the HTTP API
    /// answers) and returns its pid.
    static func startJanus() throws -> Int32 {
        let process = Process()
        process.executableURL = repository.appendingPathComponent("Benchmarks/janus/start-janus.sh")
        process.arguments = ["0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0, let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw JanusError("start-janus.sh failed (\(process.terminationStatus)): \(text)")
        }
        return pid
    }

    @Test func aSimulcastPublisherReachesEverySubscriberThroughJanus() async throws {
        let pid = try Self.startJanus()
        defer { kill(pid, SIGTERM) }
        var configuration = LoadTestConfiguration()
        configuration.subscribersPerMeeting = 3
        configuration.duration = .seconds(1)
        configuration.shape = .simulcastWithAudio(videoBitsPerSecond: 1_000_000)
        var options = JanusTargetOptions()
        options.pid = pid
        let result = try await JanusLoadTest.run(configuration, janus: options)
        #expect(result.target == "janus")
        #expect(result.subscribers == 3)
        // Every subscriber connected through full ICE and DTLS, and got audio and the top layer.
        #expect(result.expected > 0)
        #expect(result.deliveredPercent >= 90)
        #expect(result.serverCPUSeconds >= 0)
    }
}
