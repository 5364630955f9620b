public import Foundation
import MediaPackets

/// Where the Janus for `demarc loadtest --target janus` runs.
public struct JanusTargetOptions: Sendable {
    /// The HTTP API's base URL.
    public var url = URL(string: "http://127.0.0.1:8088/janus")!
    /// Janus's process id, for its CPU time; nil looks for the one process named `janus`.
    public var pid: Int32?
    /// Where the synthetic peers bind their sockets (0.0.0.0 reaches any candidate Janus
    /// announces; libnice leaves loopback out of its host candidates).
    public var peerHost = "0.0.0.0"
    public init() {}
}

/// `demarc loadtest --target janus`: the same meetings, publisher shape and subscribers as
/// ``LoadTest``, against a Janus VideoRoom (https://janus.conf.meetecho.com/docs/videoroom.html):
/// per meeting a room (VP8 + Opus), a publisher that `join`s and `configure`s with our offer,
/// and N subscribers that `join` as `subscriber` to its feed, take Janus's offer and `start`
/// with our answer. Janus runs full ICE, so the peers use ``SyntheticPeer/connectFullICE``.
///
/// Measured like the in-process run: packets delivered (decrypted by a subscriber) per
/// second, one-way latency, and the server's CPU, here the Janus process's
/// `utime + stime` from `/proc/PID/stat` over the sending window and the drain after it.
public enum JanusLoadTest {
    public static func run(_ configuration: LoadTestConfiguration, janus options: JanusTargetOptions) async throws -> BenchmarkResult {
        let pid = try options.pid ?? findJanusProcess()
        let session = try await JanusSession.create(base: options.url)
        let clock = ContinuousClock()
        let origin = clock.now
        var publishers: [(SyntheticPeer, UInt32)] = []
        var subscribers: [SyntheticPeer] = []
        var rooms: [(handle: UInt64, room: UInt64)] = []
        do {
            for meetingIndex in 0..<configuration.meetings {
                let ssrc = UInt32(10_000 + meetingIndex * 8)
                let (handle, events) = try await session.attachVideoRoom()
                let room = UInt64.random(in: 100_000_000...999_999_999)
                _ = try await session.message(handle, [
                    "request": "create", "room": room, "description": "demarc loadtest \(meetingIndex)", "publishers": 1,
                    "videocodec": "vp8", "audiocodec": "opus", "bitrate": 0, "fir_freq": 0, "notify_joining": false,
                    "audiolevel_event": false, "is_private": true,
                ])
                rooms.append((handle, room))
                _ = try await session.message(handle, ["request": "join", "ptype": "publisher", "room": room, "display": "publisher"])
                let feed = try await nextJanusEvent(events, "the publisher's joined event") {
                    $0.plugindata?.data.videoroom == "joined" ? $0.plugindata?.data.id : nil
                }
                let publisher = try await SyntheticPeer.make(host: options.peerHost)
                let offer = configuration.shape == .singleStream
                    ? publisher.publisherOffer(ssrc: ssrc, rtxSSRC: ssrc + 1)
                    : janusSimulcastOrder(publisher.simulcastPublisherOffer(audioSSRC: ssrc + SentStream.audioSSRCOffset))
                _ = try await session.message(handle, ["request": "configure", "audio": true, "video": true],
                                              jsep: .init(type: "offer", sdp: offer))
                let answer = try await nextJanusEvent(events, "Janus's answer to the publisher") { $0.jsep?.type == "answer" ? $0.jsep?.sdp : nil }
                try await session.trickleCompleted(handle)
                publishers.append((publisher, ssrc))
                try await publisher.connectFullICE(remote: try SessionDescription.parse(answer))

                for index in 0..<configuration.subscribersPerMeeting {
                    let (handle, events) = try await session.attachVideoRoom()
                    _ = try await session.message(handle, ["request": "join", "ptype": "subscriber", "room": room, "streams": [["feed": feed]]])
                    let offerText = try await nextJanusEvent(events, "Janus's offer to subscriber \(index)") {
                        $0.jsep?.type == "offer" ? $0.jsep?.sdp : nil
                    }
                    let offer = try SessionDescription.parse(offerText)
                    let peer = try await SyntheticPeer.make(host: options.peerHost)
                    subscribers.append(peer)  // closed by the tear-down below if anything fails
                    _ = try await session.message(handle, ["request": "start"], jsep: .init(type: "answer", sdp: try peer.fullICESubscriberAnswer(to: offer)))
                    try await session.trickleCompleted(handle)
                    try await peer.connectFullICE(remote: offer)
                }
            }
        } catch {
            await tearDown(session, rooms, publishers.map(\.0) + subscribers)
            throw error
        }

        // Receivers: count and time every packet (the send time is the payload's last 8 bytes).
        let collectors = subscribers.map { peer in
            Task { () -> [Double] in
                var latencies: [Double] = []
                for await datagram in peer.datagrams {
                    guard PacketClassifier.classify(datagram) == .rtp, let srtp = peer.srtp else { continue }
                    var packet = datagram
                    guard (try? srtp.inbound.unprotectRTP(&packet)) != nil, let header = try? RTPHeader.parse(packet),
                          header.payloadLength >= 8 else { continue }
                    let end = header.payloadOffset + header.payloadLength
                    let stamp = packet[end - 8..<end].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let now = origin.duration(to: clock.now)
                    let nanos = UInt64(now.components.seconds) * 1_000_000_000 + UInt64(now.components.attoseconds / 1_000_000_000)
                    latencies.append(Double(nanos &- stamp) / 1e6)
                }
                return latencies
            }
        }

        var streams: [[SentStream]] = publishers.map { _, ssrc in SentStream.streams(for: configuration, ssrc: ssrc) }
        let cpuBefore = try ProcessCPUTime.seconds(pid: pid)
        let start = clock.now
        let sent = try await SentStream.sendPaced(publishers, streams: &streams, for: configuration.duration, clock: clock, origin: origin) {
            try $0.nextPacketWithTrailingStamp(stamp: $1)
        }
        let elapsed = start.duration(to: clock.now)
        try await clock.sleep(for: .milliseconds(300))  // the same bounded drain as the in-process run
        let cpuAfter = try ProcessCPUTime.seconds(pid: pid)
        for peer in subscribers { peer.stopReceiving() }
        var latencies: [Double] = []
        for collector in collectors { latencies += await collector.value }
        latencies.sort()

        var result = BenchmarkResult(target: .janus)
        result.meetings = configuration.meetings
        result.subscribers = subscribers.count
        result.shape = configuration.shape.name
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        result.sent = sent
        result.delivered = latencies.count
        // What each subscriber should get: the single stream, or audio plus the top layer.
        let perSubscriber = streams.reduce(0) { total, streams in
            total + (configuration.shape == .singleStream ? streams[0].count : streams[2].count + streams[3].count)
        }
        result.expected = perSubscriber * configuration.subscribersPerMeeting
        if !latencies.isEmpty {
            result.latencyP50Ms = latencies[latencies.count / 2]
            result.latencyP99Ms = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            result.latencyMaxMs = latencies.last!
        }
        result.serverCPUSeconds = cpuAfter - cpuBefore
        result.serverCPUScope = "janus process (pid \(pid), all threads)"
        result.derive()
        await tearDown(session, rooms, publishers.map(\.0) + subscribers)
        return result
    }

    /// The same three layers, announced highest first: Janus takes a rid offer's layers in
    /// SDP order as high, medium, low (janus-gateway PR #2385 describes the assumption), so
    /// the lowest-first order our SFU is offered would make its "highest" substream `l`.
    static func janusSimulcastOrder(_ offer: String) -> String {
        offer.replacingOccurrences(of: "a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\na=simulcast:send l;m;h",
                                   with: "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\na=simulcast:send h;m;l")
    }

    private static func tearDown(_ session: JanusSession, _ rooms: [(handle: UInt64, room: UInt64)], _ peers: [SyntheticPeer]) async {
        for (handle, room) in rooms { _ = try? await session.message(handle, ["request": "destroy", "room": room]) }
        await session.destroy()
        for peer in peers { await peer.close() }
    }

    /// The one process whose `/proc/PID/comm` is `janus`.
    static func findJanusProcess() throws -> Int32 {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let matches = entries.compactMap(Int32.init).filter { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "janus"
        }
        guard matches.count == 1 else {
            throw JanusError(matches.isEmpty
                ? "no janus process found: start one (Benchmarks/janus/start-janus.sh) or pass --janus-pid"
                : "\(matches.count) janus processes (\(matches.map(String.init).joined(separator: ", "))): pass --janus-pid")
        }
        return matches[0]
    }
}

extension LoadShape {
    /// For the result line: `single-stream` or `simulcast-<kbps>kbps+opus`.
    public var name: String {
        switch self {
        case .singleStream: "single-stream"
        case .simulcastWithAudio(let bits): "simulcast-\(bits / 1_000)kbps+opus"
        }
    }
}

extension SentStream {
    /// Like ``nextPacket(stamp:)``, but a VP8 keyframe carries a real keyframe header (RFC
    /// 6386 §9.1: frame tag with P = 0, start code 9d 01 2a, 640×480) and the send time sits
    /// in the payload's last 8 bytes: Janus checks the start code before it switches a
    /// subscriber to a simulcast layer, and the header's place is where ``nextPacket``'s
    /// stamp is.
    mutating func nextPacketWithTrailingStamp(stamp: UInt64) throws -> [UInt8] {
        let head: [UInt8]
        if payloadType == 111 {
            head = []
        } else if count % 100 == 0 {
            head = [0x10, 0x10, 0x00, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]
        } else {
            head = [0x10, 0x11, 0x00, 0x00]
        }
        let stampBytes = (0..<8).map { UInt8(truncatingIfNeeded: stamp >> (56 - 8 * UInt64($0))) }
        return try nextPacket(payload: head + [UInt8](repeating: 0x5A, count: max(0, payloadBytes - head.count - 8)) + stampBytes)
    }
}
