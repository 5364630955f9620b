import ArgumentParser
import MediaLoadTest

/// `demarc loadtest`: synthetic WebRTC peers (ICE, DTLS, SRTP over UDP) publish and
/// subscribe through an in-process media service; prints delivery and latency.
struct LoadtestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load the SFU's media path with synthetic peers on loopback and report delivery and latency.")

    @Option(help: "Meetings, each with one publisher.") var meetings = 1
    @Option(help: "Subscribers per meeting.") var subscribers = 4
    @Option(help: "RTP packets per second per publisher.") var rate = 500
    @Option(help: "RTP payload bytes per packet.") var payload = 1_000
    @Option(help: "How long to send, in seconds.") var seconds = 5
    @Flag(help: "Subscribers on a second media server behind a relay link (measures the relay hop).") var relayHop = false
    @Option(help: "Fail (exit 1) when less than this share of packets arrives (0–1).") var minimumDelivery = 0.0

    func validate() throws {
        guard meetings >= 1, subscribers >= 1, rate >= 100, (12...1_400).contains(payload), seconds >= 1 else {
            throw ValidationError("need --meetings ≥ 1, --subscribers ≥ 1, --rate ≥ 100, --payload 12…1400, --seconds ≥ 1")
        }
    }

    func run() async throws {
        var configuration = LoadTestConfiguration()
        configuration.meetings = meetings
        configuration.subscribersPerMeeting = subscribers
        configuration.packetsPerSecond = rate
        configuration.payloadBytes = payload
        configuration.duration = .seconds(seconds)
        configuration.relayHop = relayHop
        let report = try await LoadTest.run(configuration)
        print(report)
        if report.deliveredFraction < minimumDelivery { throw ExitCode(1) }
    }
}
