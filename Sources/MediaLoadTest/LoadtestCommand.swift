public import ArgumentParser
import Foundation

extension LoadTarget: ExpressibleByArgument {}

/// `demarc loadtest`: synthetic WebRTC peers (ICE, DTLS, SRTP over UDP) publish and
/// subscribe through an in-process media service; prints delivery and latency.
///
/// Lives here rather than in the CLI so that the small `demarc-loadtest` executable (which
/// builds without the node's dependencies) runs the same command.
public struct LoadtestCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load the SFU's media path with synthetic peers on loopback and report delivery and latency.")

    @Option(help: "Meetings, each with one publisher.") var meetings = 1
    @Option(help: "Subscribers per meeting.") var subscribers = 4
    @Option(help: "RTP packets per second per publisher.") var rate = 500
    @Option(help: "RTP payload bytes per packet.") var payload = 1_000
    @Option(help: "How long to send, in seconds.") var seconds = 5
    @Flag(help: "Subscribers on a second media server behind a relay link (measures the relay hop).") var relayHop = false
    @Option(help: "Fail (exit 1) when less than this share of packets arrives (0–1).") var minimumDelivery = 0.0
    @Option(help: "Pin the SFU's event-loop thread to this CPU (run the rest elsewhere: taskset -c 1 demarc loadtest --sfu-cpu 0).")
    var sfuCpu: Int?
    @Option(help: "With --relay-hop, pin the far (subscribers') server's event-loop thread to this CPU.")
    var farCpu: Int?
    @Option(help: "Send issue 6's publisher instead: VP8 in 3 simulcast layers at this many kbit/s in total, plus Opus (--rate is then ignored).")
    var simulcastKbps: Int?
    @Flag(help: "Measure SRTP protect/unprotect alone, per profile (thread CPU time), and exit.") var srtpOnly = false
    @Option(help: "Receivers count every packet on the event loop and SRTP-decrypt (and time) only every Nth: for loads above ~40,000 packets/s (default: decrypt every packet in a task).")
    var sampleEvery: Int?
    @Option(help: "Which media server to load: demarc (in-process, the default) or janus (a running Janus VideoRoom, see --janus-url).")
    var target = LoadTarget.demarc
    @Option(help: "Janus's HTTP API (start one with Benchmarks/janus/start-janus.sh).") var janusUrl = "http://127.0.0.1:8088/janus"
    @Option(help: "Janus's process id, for its CPU time (default: the one process named janus).") var janusPid: Int32?

    public init() {}

    public func validate() throws {
        if target == .janus, relayHop || sfuCpu != nil { throw ValidationError("--relay-hop and --sfu-cpu apply to --target demarc only (pin Janus with taskset)") }
        if target == .janus, URL(string: janusUrl)?.scheme == nil { throw ValidationError("--janus-url \(janusUrl) is not a URL") }
        guard meetings >= 1, subscribers >= 1, rate >= 100, (12...1_400).contains(payload), seconds >= 1, (simulcastKbps ?? 100) >= 100, (sampleEvery ?? 1) >= 1 else {
            throw ValidationError("need --meetings ≥ 1, --subscribers ≥ 1, --rate ≥ 100, --payload 12…1400, --seconds ≥ 1, --simulcast-kbps ≥ 100, --sample-every ≥ 1")
        }
    }

    public func run() async throws {
        if srtpOnly {
            for result in try SRTPThroughput.measureEachProfile(payloadBytes: payload) { print(result) }
            return
        }
        var configuration = LoadTestConfiguration()
        configuration.meetings = meetings
        configuration.subscribersPerMeeting = subscribers
        configuration.packetsPerSecond = rate
        configuration.payloadBytes = payload
        configuration.duration = .seconds(seconds)
        configuration.relayHop = relayHop
        configuration.sfuCPU = sfuCpu
        configuration.farCPU = farCpu
        if let sampleEvery { configuration.receiveMode = .sampled(every: sampleEvery) }
        if let simulcastKbps { configuration.shape = .simulcastWithAudio(videoBitsPerSecond: simulcastKbps * 1_000) }
        switch target {
        case .demarc:
            let report = try await LoadTest.run(configuration)
            print(report)
            print(report.benchmarkResult(meetings: meetings, shape: configuration.shape.name).line)
            if report.deliveredFraction < minimumDelivery { throw ExitCode(1) }
        case .janus:
            var options = JanusTargetOptions()
            options.url = URL(string: janusUrl)!
            options.pid = janusPid
            let result = try await JanusLoadTest.run(configuration, janus: options)
            print(result.summary)
            print(result.line)
            if result.deliveredPercent < minimumDelivery * 100 { throw ExitCode(1) }
        }
    }
}
