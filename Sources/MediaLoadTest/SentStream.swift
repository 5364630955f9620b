import MediaPackets

/// One RTP stream a synthetic publisher sends: its SSRC, pacing, sequence and timestamp.
/// Each payload starts with a 4-byte VP8 payload descriptor (a keyframe every 100 packets)
/// and then the send time in nanoseconds, which the subscribers read back for latency.
struct SentStream {
    var ssrc: UInt32
    var payloadType: UInt8
    var packetsPerSecond: Double
    var payloadBytes: Int
    var clockRate: UInt32
    var extensions: [(id: UInt8, data: [UInt8])]
    var sequence: UInt16 = 1
    var count = 0
    var credit = 0.0

    /// Simulcast layers take SSRCs `ssrc`, `ssrc + 1`, `ssrc + 2`; audio this far above.
    static let audioSSRCOffset: UInt32 = 4
    /// RFC 8285 ids the synthetic simulcast offer declares for mid and rid.
    static let midExtensionID: UInt8 = 4
    static let ridExtensionID: UInt8 = 10

    static func streams(for configuration: LoadTestConfiguration, ssrc: UInt32) -> [SentStream] {
        switch configuration.shape {
        case .singleStream:
            return [SentStream(ssrc: ssrc, payloadType: 96, packetsPerSecond: Double(configuration.packetsPerSecond),
                               payloadBytes: configuration.payloadBytes, clockRate: 90_000, extensions: [])]
        case .simulcastWithAudio(let videoBitsPerSecond):
            let packetBits = Double(configuration.payloadBytes * 8)
            var streams = zip(["l", "m", "h"], [0.08, 0.24, 0.68]).enumerated().map { index, layer in
                SentStream(ssrc: ssrc + UInt32(index), payloadType: 96, packetsPerSecond: Double(videoBitsPerSecond) * layer.1 / packetBits,
                           payloadBytes: configuration.payloadBytes, clockRate: 90_000,
                           extensions: [(midExtensionID, Array("0".utf8)), (ridExtensionID, Array(layer.0.utf8))])
            }
            streams.append(SentStream(ssrc: ssrc + audioSSRCOffset, payloadType: 111, packetsPerSecond: 50, payloadBytes: 120,
                                      clockRate: 48_000, extensions: [(midExtensionID, Array("1".utf8))]))
            return streams
        }
    }

    mutating func nextPacket(stamp: UInt64) throws -> [UInt8] {
        let descriptor: [UInt8] = count % 100 == 0 ? [0x10, 0x00, 0x9D, 0x01] : [0x10, 0x01, 0x00, 0x00]
        let stampBytes = (0..<8).map { UInt8(truncatingIfNeeded: stamp >> (56 - 8 * UInt64($0))) }
        return try nextPacket(payload: descriptor + stampBytes + [UInt8](repeating: 0x5A, count: max(0, payloadBytes - 12)))
    }

    /// The stream's next RTP packet around `payload`: its sequence number and a timestamp
    /// advancing at the stream's packet rate.
    mutating func nextPacket(payload: [UInt8]) throws -> [UInt8] {
        let step = UInt32(Double(clockRate) / max(1, packetsPerSecond))
        var builder = RTPPacketBuilder(payloadType: payloadType, sequenceNumber: sequence, timestamp: UInt32(truncatingIfNeeded: count) &* step,
                                       ssrc: ssrc, payload: payload)
        builder.extensions = extensions
        count += 1
        sequence &+= 1
        return try builder.build()
    }
}

extension SentStream {
    /// Sends every publisher's streams for `duration`, paced in 10 ms bursts with fractional
    /// credit, each packet stamped with its send time (nanoseconds since `origin`) by `make`
    /// and SRTP-protected. Returns how many packets were sent. Shared by both targets so they
    /// load their servers the same way.
    static func sendPaced(_ publishers: [(SyntheticPeer, UInt32)], streams: inout [[SentStream]], for duration: Duration,
                          clock: ContinuousClock, origin: ContinuousClock.Instant,
                          make: (inout SentStream, UInt64) throws -> [UInt8]) async throws -> Int {
        let start = clock.now
        var sent = 0
        while start.duration(to: clock.now) < duration {
            let burstStart = clock.now
            for (index, (publisher, _)) in publishers.enumerated() {
                guard let srtp = publisher.srtp else { continue }
                for s in streams[index].indices {
                    streams[index][s].credit += streams[index][s].packetsPerSecond / 100
                    while streams[index][s].credit >= 1 {
                        streams[index][s].credit -= 1
                        let elapsed = origin.duration(to: clock.now)
                        let nanos = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
                        var packet = try make(&streams[index][s], nanos)
                        try srtp.outbound.protectRTP(&packet)
                        try await publisher.send(packet)
                        sent += 1
                    }
                }
            }
            try await clock.sleep(until: burstStart.advanced(by: .milliseconds(10)))
        }
        return sent
    }
}
