public import MediaPackets

/// Sender-side NACK handling for one outgoing RTP stream: remembers sent packets in a
/// ``RetransmissionCache`` and, for each NACKed sequence number still cached, says to resend
/// it, at most once per `minimumResendInterval` so a burst of duplicate NACKs cannot
/// multiply traffic.
public struct NACKResponder<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public private(set) var cache: RetransmissionCache
    public let minimumResendInterval: Duration
    private var lastResent: [Instant?]
    private var lastResentSequence: [UInt16]

    public init(cache: RetransmissionCache = RetransmissionCache(), minimumResendInterval: Duration = .milliseconds(20)) {
        self.cache = cache
        self.minimumResendInterval = minimumResendInterval
        lastResent = Array(repeating: nil, count: cache.capacity)
        lastResentSequence = Array(repeating: 0, count: cache.capacity)
    }

    /// Records a packet as sent.
    public mutating func packetSent(_ packet: UnsafeRawBufferPointer, sequenceNumber: UInt16) {
        if cache.store(packet, sequenceNumber: sequenceNumber) {
            lastResent[Int(sequenceNumber) & (cache.capacity - 1)] = nil
        }
    }

    public mutating func packetSent(_ packet: [UInt8], sequenceNumber: UInt16) {
        packet.withUnsafeBytes { packetSent($0, sequenceNumber: sequenceNumber) }
    }

    /// The sequence numbers of `nack` to retransmit now, in request order. The shell then reads
    /// each from ``cache`` and sends it (wrapped in RTX when negotiated).
    public mutating func retransmissions(for nack: GenericNACK, now: Instant) -> [UInt16] {
        var out: [UInt16] = []
        for sequence in nack.lostSequenceNumbers where cache.contains(sequenceNumber: sequence) {
            let slot = Int(sequence) & (cache.capacity - 1)
            if let last = lastResent[slot], lastResentSequence[slot] == sequence,
               last.duration(to: now) < minimumResendInterval {
                continue
            }
            lastResent[slot] = now
            lastResentSequence[slot] = sequence
            out.append(sequence)
        }
        return out
    }
}
