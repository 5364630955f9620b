import MediaPackets
import MediaCore

extension ForwardingRouter {
    /// A compound RTCP packet from `publisher` (SRTCP-decrypted): its sender reports are
    /// kept per layer, for the LSR/DLSR of the SFU's receiver reports (RFC 3550 §6.4.1) and
    /// to map the SFU's own sender reports onto the publisher's clock (lip sync).
    public mutating func receivePublisherRTCP(from publisher: ParticipantID, packet: UnsafeRawBufferPointer, now: Instant) {
        guard let packets = try? RTCPCompound.parse(packet) else {
            counters.malformedRTCP += 1
            return
        }
        for case .senderReport(let report) in packets {
            guard let key = sources[report.ssrc], !key.isRTX, let track = tracks[key.track], track.publisher == publisher,
                  track.layers.indices.contains(key.layer) else { continue }
            tracks[key.track]!.layers[key.layer].reception.senderReportReceived(ntpTimestamp: report.ntpTimestamp, arrival: now)
            tracks[key.track]!.layers[key.layer].senderReport = (report.ntpTimestamp, report.rtpTimestamp, now)
        }
    }

    public mutating func receivePublisherRTCP(from publisher: ParticipantID, packet: [UInt8], now: Instant) {
        packet.withUnsafeBytes { receivePublisherRTCP(from: publisher, packet: $0, now: now) }
    }

    /// The SFU's own RTCP, for the shell to call about once a second (RFC 3550 §6.2):
    /// a receiver report to each publisher for every layer it has sent (loss, jitter,
    /// LSR/DLSR), and a sender report to each subscriber for every stream it receives, in
    /// the subscriber's numbering (its SSRC, the RTP timestamp mapped through the rewrite,
    /// packet and payload-octet counts). `ntp` is the wall clock now as a 64-bit NTP
    /// timestamp (RFC 3550 §4).
    ///
    /// A sender report's (NTP, RTP) pair comes from the publisher's own latest sender report
    /// for the layer, advanced to `now`, when there is one — so a subscriber can align a
    /// publisher's audio and video as the publisher's clock does; else from `ntp` and the
    /// newest forwarded packet's timestamp advanced by the time since it was forwarded.
    public mutating func reports(now: Instant, ntp: UInt64, into batch: inout ForwardingBatch) {
        var receiverBlocks: [ParticipantID: [ReceptionReport]] = [:]
        for slot in tracks.indices where tracks[slot] != nil {
            let publisher = tracks[slot]!.publisher
            for layer in tracks[slot]!.layers.indices {
                guard let ssrc = tracks[slot]!.layers[layer].description.ssrc,
                      tracks[slot]!.layers[layer].reception.packetsReceived > 0 else { continue }
                receiverBlocks[publisher, default: []].append(tracks[slot]!.layers[layer].reception.makeReport(ssrc: ssrc, now: now))
            }
            let clockRate = tracks[slot]!.description.clockRate
            for subscription in tracks[slot]!.subscriptions {
                guard let current = subscription.current, let last = subscription.rewriter.lastOutput,
                      let forwardedAt = subscription.lastForwardedAt else { continue }
                let report: SenderReport
                if let source = tracks[slot]!.layers[current].senderReport, let sourceTimestamp = subscription.lastSourceTimestamp {
                    let elapsed = source.arrival.duration(to: now)
                    // Outgoing = source + (offset of the rewrite for the current source).
                    let offset = last.timestamp &- sourceTimestamp
                    report = SenderReport(ssrc: subscription.description.ssrc,
                                          ntpTimestamp: source.ntp &+ Self.ntpUnits(elapsed),
                                          rtpTimestamp: source.rtp &+ Self.rtpUnits(elapsed, clockRate: clockRate) &+ offset,
                                          packetCount: subscription.packetsSent, octetCount: subscription.octetsSent)
                } else {
                    let elapsed = forwardedAt.duration(to: now)
                    report = SenderReport(ssrc: subscription.description.ssrc, ntpTimestamp: ntp,
                                          rtpTimestamp: last.timestamp &+ Self.rtpUnits(elapsed, clockRate: clockRate),
                                          packetCount: subscription.packetsSent, octetCount: subscription.octetsSent)
                }
                batch.append(.sendSubscriberRTCP(to: subscription.subscriber, .senderReport(report)))
                counters.senderReportsSent += 1
                senderReportSent(to: subscription.subscriber, ntp: report.ntpTimestamp, now: now)
            }
        }
        for publisher in receiverBlocks.keys.sorted() {
            var blocks = receiverBlocks[publisher]![...]
            while !blocks.isEmpty {  // at most 31 blocks per report (RFC 3550 §6.4.2)
                let chunk = Array(blocks.prefix(31))
                blocks = blocks.dropFirst(chunk.count)
                batch.append(.sendRTCP(to: publisher, .receiverReport(ReceiverReport(ssrc: feedbackSSRC, reports: chunk))))
                counters.receiverReportsSent += 1
            }
        }
    }

    /// A non-negative duration in NTP units (2^-32 s).
    static func ntpUnits(_ duration: Duration) -> UInt64 {
        let c = duration.components
        guard c.seconds >= 0 else { return 0 }
        return UInt64(c.seconds) << 32 + UInt64(Double(c.attoseconds) / 1e18 * 4_294_967_296)
    }

    /// A non-negative duration in RTP clock units (integer arithmetic: exact at whole ticks).
    static func rtpUnits(_ duration: Duration, clockRate: Int) -> UInt32 {
        let c = duration.components
        guard c.seconds >= 0 else { return 0 }
        let nanoseconds = c.attoseconds / 1_000_000_000
        let units = c.seconds.multipliedReportingOverflow(by: Int64(clockRate)).partialValue
            &+ nanoseconds * Int64(clockRate) / 1_000_000_000
        return UInt32(truncatingIfNeeded: units)
    }
}
