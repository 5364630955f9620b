public import MediaPackets

/// What the forwarding core asks its shell to do. RTP payloads live in the caller's
/// ``ForwardingBatch`` (referenced by range), so a directive never owns a buffer.
public enum ForwardingDirective: Sendable, Equatable {
    /// Send the RTP packet at `packet` in the batch's bytes to `subscriber` (to be SRTP-protected
    /// with that subscriber's context). `retransmission` is true for NACK answers.
    case sendRTP(to: ParticipantID, packet: Range<Int>, retransmission: Bool)
    /// Send this RTCP packet to `participant` (a keyframe request to a publisher).
    case sendRTCP(to: ParticipantID, RTCPPacket)
    /// Send this RTCP packet to `subscriber` on its subscriber connection (the SFU's sender
    /// reports for the streams it sends it).
    case sendSubscriberRTCP(to: ParticipantID, RTCPPacket)
    /// The loudest participant changed (nil: nobody has spoken yet or the speaker left).
    case activeSpeakerChanged(ParticipantID?)
    /// A subscriber's copy of a track now carries another simulcast layer.
    case layerSwitched(subscriber: ParticipantID, track: TrackID, layer: Int)
}

/// A reusable, caller-owned output of one call into ``ForwardingRouter``: the directives and
/// the bytes of the packets they send. Allocated once with room for a fan-out; `reset()`
/// keeps the capacity, so forwarding a packet allocates nothing while it fits (it grows,
/// allocating once, if a call produces more).
public struct ForwardingBatch: Sendable {
    public private(set) var directives: [ForwardingDirective]
    /// Packet bytes; each packet occupies one slot of `slotSize` bytes.
    public private(set) var bytes: [UInt8]
    public let slotSize: Int
    private var usedSlots = 0

    public init(packetCapacity: Int = 64, slotSize: Int = 1500 + 2) {
        self.slotSize = slotSize
        bytes = [UInt8](repeating: 0, count: max(1, packetCapacity) * slotSize)
        directives = []
        directives.reserveCapacity(max(1, packetCapacity) + 8)
    }

    /// Forgets the previous call's output, keeping the storage.
    public mutating func reset() {
        directives.removeAll(keepingCapacity: true)
        usedSlots = 0
    }

    /// The packet bytes of a `sendRTP` directive.
    public func withPacket<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    public func packet(_ range: Range<Int>) -> [UInt8] { Array(bytes[range]) }

    mutating func append(_ directive: ForwardingDirective) { directives.append(directive) }

    /// Reserves the next slot and lets `body` fill it; `body` returns the length written, or
    /// nil to give the slot back. Returns the range written.
    mutating func fillSlot(_ body: (UnsafeMutableRawBufferPointer) -> Int?) -> Range<Int>? {
        let start = usedSlots * slotSize
        if start + slotSize > bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: bytes.count))  // double, rarely
        }
        let written = bytes.withUnsafeMutableBytes { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + slotSize)]))
        }
        guard let written else { return nil }
        usedSlots += 1
        return start..<(start + written)
    }
}
