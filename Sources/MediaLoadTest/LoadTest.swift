import Foundation
import MediaCrypto
public import MediaNIO
import MediaPackets
import SodiumWrapper
import NIOPosix

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
    /// Pins the SFU's event-loop thread to this CPU (`taskset -p`), so that with the rest of
    /// the process kept off it (`taskset -c 1 demarc loadtest --sfu-cpu 0`) "per core" means
    /// the SFU alone. Nil leaves scheduling to the kernel.
    public var sfuCPU: Int?
    /// With `relayHop`, pins the far (subscribers') server's event-loop thread to this CPU;
    /// its thread CPU time is measured either way (the receiving side of the link).
    public var farCPU: Int?
    public var shape = LoadShape.singleStream
    /// How subscribers receive: every packet decrypted by a Swift task, or counted on the
    /// event loop with a decrypted sample (``FastReceiver``), for loads above ~40,000–50,000/s.
    public var receiveMode = LoadReceiveMode.decryptEvery

    public init() {}
}

/// What each publisher sends.
public enum LoadShape: Sendable, Equatable {
    /// One VP8 stream of `packetsPerSecond` packets of `payloadBytes`.
    case singleStream
    /// Issue 6's publisher: VP8 in three simulcast layers (rid `l`, `m`, `h`, carrying 8 %,
    /// 24 % and 68 % of `videoBitsPerSecond` in `payloadBytes` packets) plus Opus audio at
    /// 50 packets/s of 120 bytes. Each subscriber gets the audio and one layer (the highest,
    /// as no subscriber sends a bandwidth estimate).
    case simulcastWithAudio(videoBitsPerSecond: Int)
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
    /// CPU time the SFU's event-loop thread (all of the SFU's media work) used while the
    /// load ran and drained, and the RTP packets it forwarded meanwhile.
    public var sfuCPUSeconds = 0.0
    public var sfuForwarded = 0
    public var subscribers = 0
    /// Inside the SFU, from a publisher packet unprotected to its last copy's write flushed
    /// (all subscribers), in milliseconds.
    public var forwardingDelayP50 = 0.0
    public var forwardingDelayP99 = 0.0
    /// Whether the SFU thread was pinned as asked.
    public var sfuPinned: Int?
    /// With a relay hop, the far server's thread: its CPU time over the run, and the RTP it
    /// received over the link (opened, remapped, routed) and forwarded to its subscribers.
    public var farCPUSeconds = 0.0
    public var farRelayReceived = 0
    public var farForwarded = 0
    public var farPinned: Int?
    /// Relay packets received per second of one core on the far server (open + route +
    /// protect + send to its subscribers).
    public var relayReceivedPerFarCoreSecond: Double { farCPUSeconds > 0 ? Double(farRelayReceived) / farCPUSeconds : 0 }
    /// With ``LoadReceiveMode/sampled(every:)``: one packet in this many was decrypted (and
    /// timed); `received` then counts RTP datagrams, of which `decryptedSamples` authenticated
    /// and decrypted and `sampleDecryptFailures` did not. Nil: every packet was decrypted.
    public var sampledEvery: Int?
    /// Times the SFU thread was preempted (involuntary context switches) during the run.
    public var sfuPreemptions: Int?
    public var decryptedSamples = 0
    public var sampleDecryptFailures = 0
    /// Why those failed, by reason.
    public var sampleFailureReasons: [String: Int] = [:]

    /// RTP packets the SFU forwarded per second of wall-clock time over the run.
    public var sfuForwardedPerSecond: Double { seconds > 0 ? Double(sfuForwarded) / seconds : 0 }

    /// Packets the SFU could forward per second of one core at the measured cost per packet.
    public var packetsPerSFUCoreSecond: Double { sfuCPUSeconds > 0 ? Double(sfuForwarded) / sfuCPUSeconds : 0 }
    /// The SFU thread's share of one core, in percent, over the run.
    public var sfuCorePercent: Double { seconds > 0 ? sfuCPUSeconds / seconds * 100 : 0 }

    public var deliveredFraction: Double { expected == 0 ? 0 : Double(received) / Double(expected) }

    public var description: String {
        let rate = seconds > 0 ? Double(received) / seconds : 0
        return """
            sent \(sent) packets, delivered \(received) of \(expected) (\(String(format: "%.2f", deliveredFraction * 100)) %) in \(String(format: "%.1f", seconds)) s
            forwarded \(Int(rate)) packets/s to subscribers; latency p50 \(String(format: "%.2f", latencyP50)) ms, p99 \(String(format: "%.2f", latencyP99)) ms, max \(String(format: "%.2f", latencyMax)) ms
            SFU\(relayHop ? " (subscribers' node)" : ""): \(statistics.rtpForwarded) RTP forwarded\(relayHop ? ", \(statistics.relayRTPForwarded) RTP over the relay link" : ""), \(statistics.srtpFailures) SRTP failures, \(statistics.datagramsReceived) datagrams in, \(statistics.datagramsSent) out
            SFU thread\(sfuPinned.map { " (pinned to CPU \($0))" } ?? ""): \(String(format: "%.2f", sfuCPUSeconds)) s CPU = \(String(format: "%.1f", sfuCorePercent)) % of a core, \(String(format: "%.3f", subscribers > 0 ? sfuCorePercent / Double(subscribers) : 0)) % per subscriber; \(Int(packetsPerSFUCoreSecond)) packets out per SFU-core-second
            SFU forwarding delay (packet unprotected → last subscriber's write flushed): p50 \(String(format: "%.3f", forwardingDelayP50)) ms, p99 \(String(format: "%.3f", forwardingDelayP99)) ms
            SFU out, wall clock: \(Int(sfuForwardedPerSecond)) packets/s; SFU thread preempted \(sfuPreemptions.map { "\($0)" } ?? "?") times
            """ + receiveDescription + farDescription
    }

    private var farDescription: String {
        (relayHop ? "\nfar server thread\(farPinned.map { " (pinned to CPU \($0))" } ?? ""): \(String(format: "%.2f", farCPUSeconds)) s CPU for \(farRelayReceived) RTP received over the link and \(farForwarded) forwarded: \(Int(relayReceivedPerFarCoreSecond)) relayed packets received per far-core-second" : "")
    }

    private var receiveDescription: String {
        guard let sampledEvery else { return "\nreceivers: every delivered packet SRTP-decrypted and timed" }
        let reasons = sampleFailureReasons.isEmpty ? "" : " [" + sampleFailureReasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
        let share = received > 0 ? Double(decryptedSamples + sampleDecryptFailures) / Double(received) * 100 : 0
        return "\nreceivers: every RTP datagram counted; 1 in \(sampledEvery) SRTP-decrypted and timed (\(decryptedSamples) decrypted, \(sampleDecryptFailures) failed\(reasons) = \(String(format: "%.2f", share)) % of delivered); latency is of the decrypted sample"
    }
}

public enum LoadTest {
    /// Runs the load and returns what was measured. Each packet's payload carries its send
    /// time, so receivers measure latency without clock agreement (one process, one clock).
    public static func run(_ configuration: LoadTestConfiguration) async throws -> LoadTestReport {
        var media = configuration.media
        media.bindHost = "127.0.0.1"
        // The SFU gets a loop of its own so its thread's CPU time is the SFU's alone.
        let sfuLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { sfuLoops.shutdownGracefully { _ in } }
        let server = try MediaServer(configuration: media, eventLoop: sfuLoops.next())
        var pinned: Int?
        let tid = try await server.onMediaThread { currentThreadID() }
        if let tid {
            // For a profiler: `perf record -t TID` or `perf report --tid TID`.
            FileHandle.standardError.write(Data("demarc loadtest: SFU event-loop thread id \(tid)\n".utf8))
        }
        if let cpu = configuration.sfuCPU {
            guard let tid, pin(thread: tid, to: cpu) else { throw SyntheticPeerError("could not pin the SFU thread to CPU \(cpu) (taskset -p)") }
            pinned = cpu
        }
        // With a relay hop, subscribers connect to a second server linked to the first.
        let farLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { farLoops.shutdownGracefully { _ in } }
        let far = configuration.relayHop ? try MediaServer(configuration: media, eventLoop: farLoops.next()) : server
        var farPinned: Int?
        if configuration.relayHop, let cpu = configuration.farCPU {
            guard let tid = try await far.onMediaThread({ currentThreadID() }), pin(thread: tid, to: cpu) else {
                throw SyntheticPeerError("could not pin the far server's thread to CPU \(cpu) (taskset -p)")
            }
            farPinned = cpu
        }
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
                let ssrc = UInt32(10_000 + meetingIndex * 8)
                let offer = configuration.shape == .singleStream
                    ? publisher.publisherOffer(ssrc: ssrc, rtxSSRC: ssrc + 1)
                    : publisher.simulcastPublisherOffer(audioSSRC: ssrc + SentStream.audioSSRCOffset)
                let answer = try SessionDescription.parse(try await server.publish(meeting: meeting, participant: "publisher", offer: offer))
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

            // Receivers: count and time every packet until told to stop; or count every packet
            // on the event loop and decrypt a sample.
            var fast: FastReceivers?
            if case .sampled(let every) = configuration.receiveMode {
                fast = try await FastReceivers.attach(to: subscribers, sampleEvery: every, origin: origin)
            }
            let collectors = fast != nil ? [] : subscribers.map { peer in
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

            // Senders: per stream a keyframe every 100 packets (so a subscriber can start on
            // any layer), deltas between, paced in 10 ms bursts with fractional credit.
            var streams: [[SentStream]] = publishers.map { _, ssrc in SentStream.streams(for: configuration, ssrc: ssrc) }
            try await server.recordForwardingDelays()
            let cpuBefore = try await server.onMediaThread { threadCPUSeconds() }
            let preemptedBefore = try await server.onMediaThread { involuntaryContextSwitches() }
            let forwardedBefore = await server.statistics().rtpForwarded
            let farCPUBefore = configuration.relayHop ? try await far.onMediaThread { threadCPUSeconds() } : 0
            let farBefore = await far.statistics()
            let start = clock.now
            let sent = try await SentStream.sendPaced(publishers, streams: &streams, for: configuration.duration, clock: clock, origin: origin) {
                try $0.nextPacket(stamp: $1)
            }
            let seconds = Double(start.duration(to: clock.now).components.seconds)
                + Double(start.duration(to: clock.now).components.attoseconds) / 1e18
            // Let the last packets drain (a bounded grace period), then stop the receivers.
            try await clock.sleep(for: .milliseconds(300))
            let cpuAfter = try await server.onMediaThread { threadCPUSeconds() }
            let farCPUAfter = configuration.relayHop ? try await far.onMediaThread { threadCPUSeconds() } : 0
            let preemptedAfter = try await server.onMediaThread { involuntaryContextSwitches() }
            let delays = try await server.takeForwardingDelays().sorted()
            for peer in subscribers { peer.stopReceiving() }
            var latencies: [Double] = []
            for collector in collectors { latencies += await collector.value }
            var report = LoadTestReport()
            var counted: Int?
            if let fast, case .sampled(let every) = configuration.receiveMode {
                let tally = try await fast.collect()
                latencies = tally.latencies
                counted = tally.rtpPackets
                report.sampledEvery = every
                report.decryptedSamples = tally.decrypted
                report.sampleDecryptFailures = tally.decryptFailures
                report.sampleFailureReasons = tally.failureReasons
            }
            latencies.sort()
            report.sent = sent
            // With simulcast each subscriber gets one layer: count against what the SFU sent.
            report.expected = configuration.shape == .singleStream ? sent * configuration.subscribersPerMeeting : 0
            report.received = counted ?? latencies.count
            report.seconds = seconds
            if !latencies.isEmpty {
                report.latencyP50 = latencies[latencies.count / 2]
                report.latencyP99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
                report.latencyMax = latencies.last!
            }
            report.statistics = await far.statistics()
            report.relayHop = configuration.relayHop
            report.sfuCPUSeconds = cpuAfter - cpuBefore
            if let preemptedBefore, let preemptedAfter { report.sfuPreemptions = preemptedAfter - preemptedBefore }
            report.sfuForwarded = await server.statistics().rtpForwarded - forwardedBefore
            report.subscribers = subscribers.count
            report.sfuPinned = pinned
            if configuration.relayHop {
                let farAfter = await far.statistics()
                report.farCPUSeconds = farCPUAfter - farCPUBefore
                report.farRelayReceived = farAfter.relayRTPForwarded - farBefore.relayRTPForwarded
                report.farForwarded = farAfter.rtpForwarded - farBefore.rtpForwarded
                report.farPinned = farPinned
            }
            if !delays.isEmpty {
                report.forwardingDelayP50 = Double(delays[delays.count / 2]) / 1e6
                report.forwardingDelayP99 = Double(delays[min(delays.count - 1, delays.count * 99 / 100)]) / 1e6
            }
            if report.expected == 0 { report.expected = report.sfuForwarded }
            for (publisher, _) in publishers { await publisher.close() }
            for peer in subscribers { await peer.close() }
            group.cancelAll()
            return report
        }
    }
}
