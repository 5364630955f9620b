public import MediaPackets

/// Coalesces keyframe requests for one published video stream: many subscribers (and the
/// NACK generator) may ask at once, but the publisher gets at most one request per
/// `minimumInterval`, so a burst of PLIs cannot make it send keyframe after keyframe
/// (RFC 4585 §6.3.1; RFC 5104 §4.3.1.2 for FIR's sequence number).
///
/// Requests that arrive inside the interval are remembered and sent when it ends, so none
/// is lost. Value type with injected time: call ``request(now:)`` when a keyframe is needed,
/// ``keyframeReceived(now:)`` when one arrives, and ``tick(now:)`` on a timer.
public struct KeyframeRequester<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// How the publisher is asked.
    public enum Method: Sendable { case pli, fir }

    public let senderSSRC: UInt32
    public let mediaSSRC: UInt32
    public let method: Method
    public let minimumInterval: Duration
    private var lastSent: Instant?
    private var pending = false
    private var firSequence: UInt8 = 0

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, method: Method = .pli, minimumInterval: Duration = .milliseconds(300)) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.method = method
        self.minimumInterval = minimumInterval
    }

    /// Asks for a keyframe; returns the feedback packet to send now, or nil if one was sent
    /// too recently (it will come from ``tick(now:)``).
    public mutating func request(now: Instant) -> RTCPPacket? {
        if let lastSent, lastSent.duration(to: now) < minimumInterval {
            pending = true
            return nil
        }
        return send(now: now)
    }

    /// A keyframe arrived: outstanding requests are satisfied.
    public mutating func keyframeReceived(now: Instant) {
        pending = false
    }

    /// Sends a deferred request once the interval has passed.
    public mutating func tick(now: Instant) -> RTCPPacket? {
        guard pending, let lastSent, lastSent.duration(to: now) >= minimumInterval else { return nil }
        return send(now: now)
    }

    /// When ``tick(now:)`` next has something to do, if anything.
    public var nextDeadline: Instant? {
        guard pending, let lastSent else { return nil }
        return lastSent.advanced(by: minimumInterval)
    }

    private mutating func send(now: Instant) -> RTCPPacket {
        lastSent = now
        pending = false
        switch method {
        case .pli:
            return .pictureLossIndication(PictureLossIndication(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC))
        case .fir:
            // A new request increments the sequence number; retransmissions would repeat it.
            firSequence &+= 1
            return .fullIntraRequest(FullIntraRequest(senderSSRC: senderSSRC, entries: [.init(ssrc: mediaSSRC, sequenceNumber: firSequence)]))
        }
    }
}
