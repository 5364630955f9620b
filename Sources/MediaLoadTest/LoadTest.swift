import Foundation
import MediaCrypto
public import MediaNIO
import MediaPackets
import SodiumWrapper

/// What `demarc loadtest` runs: meetings of one publisher and N subscribers, all synthetic
/// WebRTC peers (ICE, DTLS, SRTP) over real UDP sockets on loopback, against an in-process
/// media service. Measures what the SFU forwards, what arrives, and how long it took.
public struct LoadTestConfiguration: Sendable {
    public var meetings = 1
    public var subscribersPerMeeting = 4
    /// RTP packets per second each publisher sends (video-like: one VP8 keyframe, then deltas).
    public var packetsPerSecond = 500
    /// RTP payload bytes per packet.
    public var payloadBytes = 1_000
    public var duration: Duration = .seconds(5)
    public var media = MediaServerConfiguration()
    /// Publishers on one media server, subscribers on a second one joined by a relay link
    /// (docs/relay.md): measures what a relay hop adds.
    public var relayHop = false

    public init() {}
}

public struct LoadTestReport: Sendable, CustomStringConvertible {
    public var sent = 0
    /// Packets subscribers received and could decrypt, over all subscribers.
    public var received = 0
    /// `sent × subscribers`: what a lossless SFU delivers.
    public var expected = 0
    public var seconds = 0.0
    /// One-way publisher → subscriber latency through the SFU, in milliseconds.
    public var latencyP50 = 0.0
    public var latencyP99 = 0.0
    public var latencyMax = 0.0
    public var statistics = MediaServerStatistics()
    public var relayHop = false

    public var deliveredFraction: Double { expected == 0 ? 0 : Double(received) / Double(expected) }

    public var description: String {
        let rate = seconds > 0 ? Double(received) / seconds : 0
        return """
            sent \(sent) packets, delivered \(received) of \(expected) (\(String(format: "%.2f", deliveredFraction * 100)) %) in \(String(format: "%.1f", seconds)) s
            forwarded \(Int(rate)) packets/s to subscribers; latency p50 \(String(format: "%.2f", latencyP50)) ms, p99 \(String(format: "%.2f", latencyP99)) ms, max \(String(format: "%.2f", latencyMax)) ms
            SFU\(relayHop ? " (subscribers' node)" : ""): \(statistics.rtpForwarded) RTP forwarded\(relayHop ? ", \(statistics.relayRTPForwarded) RTP over the relay link" : ""), \(statistics.srtpFailures) SRTP failures, \(statistics.datagramsReceived) datagrams in, \(statistics.datagramsSent) out
            """
    }
}

public enum LoadTest {
    /// Runs the load and returns what was measured. Each packet's payload carries its send
    /// time, so receivers measure latency without clock agreement (one process, one clock).
    public static func run(_ configuration: LoadTestConfiguration) async throws -> LoadTestReport {
        var media = configuration.media
        media.bindHost = "127.0.0.1"
        let server = try MediaServer(configuration: media)
        // With a relay hop, subscribers connect to a second server linked to the first.
        let far = configuration.relayHop ? try MediaServer(configuration: media) : server
        let clock = ContinuousClock()
        let origin = clock.now
        return try await withThrowingTaskGroup(of: LoadTestReport?.self) { group in
            group.addTask { try await server.run(); return nil }
            if configuration.relayHop { group.addTask { try await far.run(); return nil } }
            let port = try await server.boundPort()
            let farPort = try await far.boundPort()
            var publishers: [(SyntheticPeer, UInt32)] = []
            var subscribers: [SyntheticPeer] = []
            for meetingIndex in 0..<configuration.meetings {
                let meeting = "load-\(meetingIndex)"
                if configuration.relayHop {
                    let there = XChaCha20Poly1305.Key(), back = XChaCha20Poly1305.Key()
                    let id = UInt64(meetingIndex + 1)
                    try await server.openRelayLink(RelayLinkSpec(linkID: id, meeting: meeting, remoteNode: "far", remoteHost: "127.0.0.1",
                                                                 remotePort: farPort, sendingKey: there, receivingKey: back))
                    try await far.openRelayLink(RelayLinkSpec(linkID: id, meeting: meeting, remoteNode: "near", remoteHost: "127.0.0.1",
                                                              remotePort: port, sendingKey: back, receivingKey: there))
                }
                let publisher = try await SyntheticPeer.make()
                _ = try await server.join(meeting: meeting, participant: "publisher")
                var pending: [(SyntheticPeer, String, AsyncStream<MediaEvent>)] = []
                for index in 0..<configuration.subscribersPerMeeting {
                    let name = "subscriber-\(index)"
                    pending.append((try await SyntheticPeer.make(), name, try await far.join(meeting: meeting, participant: name)))
                }
                let ssrc = UInt32(10_000 + meetingIndex * 2)
                let answer = try SessionDescription.parse(try await server.publish(
                    meeting: meeting, participant: "publisher", offer: publisher.publisherOffer(ssrc: ssrc, rtxSSRC: ssrc + 1)))
                try await publisher.connect(port: port, remote: answer)
                for (peer, name, events) in pending {
                    let offer = try await nextSubscriberOffer(events, "\(name)'s subscriber offer")
                    try await far.answerSubscriber(meeting: meeting, participant: name, answer: peer.subscriberAnswer(to: offer))
                    try await peer.connect(port: farPort, remote: offer)
                    _ = try await nextEvent(events, "\(name)'s subscriber connection") { $0 == .connectionState(.subscriber, .connected) ? true : nil }
                    subscribers.append(peer)
                }
                publishers.append((publisher, ssrc))
            }

            // Receivers: count and time every packet until told to stop.
            let collectors = subscribers.map { peer in
                Task { () -> [Double] in
                    var latencies: [Double] = []
                    for await datagram in peer.datagrams {
                        if Task.isCancelled { break }
                        guard PacketClassifier.classify(datagram) == .rtp, let srtp = peer.srtp else { continue }
                        var packet = datagram
                        guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, let header = try? RTPHeader.parse(packet),
                              header.payloadLength >= 12 else { continue }
                        let stamp = packet[header.payloadOffset + 4..<header.payloadOffset + 12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                        let now = origin.duration(to: clock.now)
                        let nanos = UInt64(now.components.seconds) * 1_000_000_000 + UInt64(now.components.attoseconds / 1_000_000_000)
                        latencies.append(Double(nanos &- stamp) / 1e6)
                    }
                    return latencies
                }
            }

            // Senders: one keyframe, then deltas, paced in 10 ms bursts.
            let perBurst = max(1, configuration.packetsPerSecond / 100)
            let start = clock.now
            var sent = 0
            var sentBy = [Int](repeating: 0, count: publishers.count)
            var sequence: UInt16 = 1
            while start.duration(to: clock.now) < configuration.duration {
                let burstStart = clock.now
                for (index, (publisher, ssrc)) in publishers.enumerated() {
                    guard let srtp = publisher.srtp else { continue }
                    for _ in 0..<perBurst {
                        let elapsed = origin.duration(to: clock.now)
                        let nanos = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
                        // Each publisher's first packet is a keyframe (subscribers start at one).
                        let descriptor: [UInt8] = sentBy[index] == 0 ? [0x10, 0x00, 0x9D, 0x01] : [0x10, 0x01, 0x00, 0x00]
                        sentBy[index] += 1
                        let stamp = (0..<8).map { UInt8(truncatingIfNeeded: nanos >> (56 - 8 * UInt64($0))) }
                        let payload = descriptor + stamp + [UInt8](repeating: 0x5A, count: max(0, configuration.payloadBytes - 12))
                        var packet = try RTPPacketBuilder(payloadType: 96, sequenceNumber: sequence, timestamp: UInt32(sequence) * 3_000,
                                                          ssrc: ssrc, payload: payload).build()
                        try srtp.outbound.protectRTP(&packet)
                        try await publisher.send(packet)
                        sent += 1
                        sequence &+= 1
                    }
                }
                try await clock.sleep(until: burstStart.advanced(by: .milliseconds(10)))
            }
            let seconds = Double(start.duration(to: clock.now).components.seconds)
                + Double(start.duration(to: clock.now).components.attoseconds) / 1e18
            // Let the last packets drain (a bounded grace period), then stop the receivers.
            try await clock.sleep(for: .milliseconds(300))
            for peer in subscribers { peer.stopReceiving() }
            var latencies: [Double] = []
            for collector in collectors { latencies += await collector.value }
            latencies.sort()
            var report = LoadTestReport()
            report.sent = sent
            report.expected = sent * configuration.subscribersPerMeeting
            report.received = latencies.count
            report.seconds = seconds
            if !latencies.isEmpty {
                report.latencyP50 = latencies[latencies.count / 2]
                report.latencyP99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
                report.latencyMax = latencies.last!
            }
            report.statistics = await far.statistics()
            report.relayHop = configuration.relayHop
            for (publisher, _) in publishers { await publisher.close() }
            for peer in subscribers { await peer.close() }
            group.cancelAll()
            return report
        }
    }
}
