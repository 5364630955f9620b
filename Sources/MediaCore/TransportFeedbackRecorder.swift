public import MediaPackets

/// Records when packets with a transport-wide sequence number arrive and turns the record into
/// transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3), which the
/// sender's bandwidth estimator consumes. The shell calls ``makeFeedback()`` every 50–100 ms.
public struct TransportFeedbackRecorder<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public let senderSSRC: UInt32
    public let mediaSSRC: UInt32
    private let epoch: Instant
    private var unwrapper = SequenceNumberUnwrapper()
    /// (extended sequence, arrival in µs since `epoch`), in arrival order.
    private var arrivals: [(sequence: Int64, micros: Int64)] = []
    /// The first sequence number not yet reported.
    private var nextUnreported: Int64?
    private var feedbackCount: UInt8 = 0

    /// The most statuses one feedback packet carries before another is started.
    public static var maxStatusesPerPacket: Int { 4096 }

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, epoch: Instant) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.epoch = epoch
        arrivals.reserveCapacity(512)
    }

    public mutating func packetReceived(transportSequenceNumber: UInt16, arrival: Instant) {
        let sequence = unwrapper.unwrap(transportSequenceNumber)
        if let next = nextUnreported, sequence < next { return }  // already reported as lost
        let elapsed = epoch.duration(to: arrival)
        arrivals.append((sequence, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
    }

    /// Feedback for everything recorded since the last call (usually one packet; more when the
    /// span is long or a delta does not fit 16 bits). Empty when nothing arrived.
    public mutating func makeFeedback() -> [TransportFeedback] {
        guard !arrivals.isEmpty else { return [] }
        var bySequence: [Int64: Int64] = [:]
        for arrival in arrivals where bySequence[arrival.sequence] == nil { bySequence[arrival.sequence] = arrival.micros }
        arrivals.removeAll(keepingCapacity: true)
        let ordered = bySequence.keys.sorted()
        var packets: [TransportFeedback] = []
        var index = 0
        var sequence = nextUnreported.map { max($0, ordered[0]) } ?? ordered[0]
        let last = ordered.last!
        while sequence <= last {
            // Start a packet at the next received sequence number.
            while index < ordered.count, ordered[index] < sequence { index += 1 }
            guard index < ordered.count else { break }
            sequence = ordered[index]
            let base = sequence
            let firstArrival = bySequence[base]!
            let reference = Int32(clamping: (firstArrival / 64_000) & 0x7F_FFFF)
            var clock = Int64(reference) * 64_000
            var deltas: [Int16?] = []
            while sequence <= last, deltas.count < Self.maxStatusesPerPacket {
                if let micros = bySequence[sequence] {
                    let ticks = (micros - clock) / 250
                    guard let delta = Int16(exactly: ticks) else { break }  // start a new packet here
                    deltas.append(delta)
                    clock += Int64(delta) * 250
                } else {
                    deltas.append(nil)
                }
                sequence += 1
            }
            // A packet never ends with lost statuses; they are reported by the next one.
            while deltas.last.map({ $0 == nil }) ?? false {
                deltas.removeLast()
                sequence -= 1
            }
            packets.append(TransportFeedback(
                senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, baseSequenceNumber: UInt16(truncatingIfNeeded: base),
                referenceTime: reference, feedbackPacketCount: feedbackCount, receiveDeltas: deltas))
            feedbackCount &+= 1
        }
        nextUnreported = last + 1
        return packets
    }
}
