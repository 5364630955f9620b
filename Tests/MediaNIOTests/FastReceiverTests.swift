import Testing
import MediaLoadTest

/// `demarc loadtest --sample-every N`: the receivers count every RTP datagram on the event
/// loop and decrypt only a sample, and the report says so.
@Suite struct FastReceiverTests {
    @Test func sampledReceiversCountEveryPacketAndDecryptOneInN() async throws {
        var configuration = LoadTestConfiguration()
        configuration.meetings = 2
        configuration.subscribersPerMeeting = 3
        configuration.packetsPerSecond = 200
        configuration.duration = .seconds(1)
        configuration.receiveMode = .sampled(every: 5)
        let report = try await LoadTest.run(configuration)
        #expect(report.sent >= 100)
        #expect(report.statistics.srtpFailures == 0)
        // Every forwarded packet is counted, whether or not it was decrypted.
        #expect(report.statistics.rtpForwarded == report.expected, "\(report)")
        #expect(report.deliveredFraction > 0.95, "\(report)")
        #expect(report.sampledEvery == 5)
        // One in five per subscriber (each subscriber's count rounds down), plus each stream's
        // first packet (one stream per subscriber here), and all authenticate.
        #expect(report.sampleDecryptFailures == 0, "\(report)")
        #expect(report.decryptedSamples <= report.received / 5 + report.subscribers, "\(report)")
        #expect(report.decryptedSamples >= report.received / 5 - report.subscribers, "\(report)")
        #expect(report.latencyP50 > 0 && report.latencyP50 <= report.latencyP99)
        #expect(report.description.contains("1 in 5 SRTP-decrypted"))
    }

    @Test func everyPacketIsDecryptedByDefault() async throws {
        var configuration = LoadTestConfiguration()
        configuration.meetings = 1
        configuration.subscribersPerMeeting = 2
        configuration.packetsPerSecond = 200
        configuration.duration = .seconds(1)
        #expect(configuration.receiveMode == .decryptEvery)
        let report = try await LoadTest.run(configuration)
        #expect(report.sampledEvery == nil)
        #expect(report.decryptedSamples == 0)
        #expect(report.description.contains("every delivered packet SRTP-decrypted"))
        #expect(report.deliveredFraction > 0.95, "\(report)")
    }
}
