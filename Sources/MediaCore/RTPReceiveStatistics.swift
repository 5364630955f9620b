public import MediaPackets

/// Receiver statistics for one incoming RTP stream, producing the reception report block an
/// RR or SR carries (RFC 3550 §6.4.1): loss per Appendix A.3, interarrival jitter per A.8,
/// and LSR/DLSR from the last sender report for the sender's round-trip estimate.
public struct RTPReceiveStatistics<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// The payload's RTP clock rate (e.g. 90000 for video, 48000 for Opus).
    public let clockRate: Int
    private var unwrapper = SequenceNumberUnwrapper()
    private var base: Int64?
    private var highest: Int64 = 0
    public private(set) var packetsReceived: Int64 = 0
    private var expectedPrior: Int64 = 0
    private var receivedPrior: Int64 = 0
    /// Jitter times 16, in timestamp units (A.8's fixed-point form).
    private var scaledJitter: Int64 = 0
    private var lastTransit: Int64?
    private var epoch: Instant?
    private var lastSenderReport: (middle: UInt32, arrival: Instant)?

    public init(clockRate: Int) {
        precondition(clockRate > 0)
        self.clockRate = clockRate
    }

    /// Records one packet's arrival.
    public mutating func packetReceived(sequenceNumber: UInt16, rtpTimestamp: UInt32, arrival: Instant) {
        let extended = unwrapper.unwrap(sequenceNumber)
        if base == nil {
            base = extended
            highest = extended
            epoch = arrival
        }
        highest = max(highest, extended)
        packetsReceived += 1
        // A.8: D = (Rj - Ri) - (Sj - Si), with arrival in timestamp units.
        let elapsed = epoch!.duration(to: arrival)
        let arrivalUnits = elapsed.components.seconds * Int64(clockRate)
            + elapsed.components.attoseconds / (1_000_000_000_000_000_000 / Int64(clockRate))
        let transit = arrivalUnits - Int64(Int32(bitPattern: rtpTimestamp))
        if let lastTransit {
            var d = transit - lastTransit
            // Timestamps wrap at 2^32: take the difference modulo 2^32, signed.
            d = Int64(Int32(truncatingIfNeeded: d))
            scaledJitter += abs(d) - ((scaledJitter + 8) >> 4)
        }
        lastTransit = transit
    }

    /// Records a sender report from this stream's source (RFC 3550 §6.4.1 LSR).
    public mutating func senderReportReceived(ntpTimestamp: UInt64, arrival: Instant) {
        lastSenderReport = (UInt32(truncatingIfNeeded: ntpTimestamp >> 16), arrival)
    }

    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32 { UInt32(clamping: scaledJitter >> 4) }

    /// The report block for `ssrc` at `now`; starts a new interval for the fraction lost.
    public mutating func makeReport(ssrc: UInt32, now: Instant) -> ReceptionReport {
        guard let base else { return ReceptionReport(ssrc: ssrc) }
        let expected = highest - base + 1
        let lost = expected - packetsReceived
        let expectedInterval = expected - expectedPrior
        let receivedInterval = packetsReceived - receivedPrior
        expectedPrior = expected
        receivedPrior = packetsReceived
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 = expectedInterval == 0 || lostInterval <= 0 ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)
        var delay: UInt32 = 0
        if let sr = lastSenderReport {
            let since = sr.arrival.duration(to: now)
            delay = UInt32(clamping: since.components.seconds * 65536 + since.components.attoseconds / 15_258_789_062_500)
        }
        return ReceptionReport(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: Int32(clamping: max(-0x80_0000, min(0x7F_FFFF, lost))),
            extendedHighestSequenceNumber: UInt32(truncatingIfNeeded: highest), jitter: jitter,
            lastSenderReport: lastSenderReport?.middle ?? 0, delaySinceLastSenderReport: delay)
    }
}
