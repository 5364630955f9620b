/// Gives one subscriber a continuous RTP stream — sequence numbers and timestamps without
/// jumps — while the SFU changes which incoming stream feeds it (a simulcast layer switch,
/// or a publisher that restarted with a new SSRC). The SFU then writes the result into the
/// packet in place with ``MediaPackets/RTPHeader/rewrite(_:ssrc:sequenceNumber:timestamp:payloadType:marker:)``.
///
/// At a switch the new source is re-based so its first packet follows the last forwarded
/// one: sequence number +1, timestamp + `timestampAdvance` (the wall-clock gap in clock-rate
/// units, which the shell knows). Within a source, reordering passes through unchanged;
/// packets from before the switch point are refused, since their numbers are already used.
/// Not handled here: packets the SFU chooses to drop mid-stream leave gaps the receiver
/// will NACK.
public struct RTPStreamRewriter: Sendable {
    public struct Output: Sendable, Equatable {
        public var sequenceNumber: UInt16
        public var timestamp: UInt32

        public init(sequenceNumber: UInt16, timestamp: UInt32) {
            self.sequenceNumber = sequenceNumber
            self.timestamp = timestamp
        }
    }

    private var source: UInt32?
    private var unwrapper = SequenceNumberUnwrapper()
    private var sequenceOffset: UInt16 = 0
    private var timestampOffset: UInt32 = 0
    /// Extended input sequence number of the first packet after the last switch.
    private var switchPoint: Int64 = 0
    private var highestInput: Int64 = 0
    /// The outgoing numbers of the newest packet forwarded.
    public private(set) var lastOutput: Output?

    /// Starts with the first source's own numbering, offset by `initialSequenceOffset` and
    /// `initialTimestampOffset` (random values hide the publisher's numbering, RFC 3550 §5.1).
    public init(initialSequenceOffset: UInt16 = 0, initialTimestampOffset: UInt32 = 0) {
        sequenceOffset = initialSequenceOffset
        timestampOffset = initialTimestampOffset
    }

    /// The outgoing sequence number and timestamp for a packet of source `ssrc`, or nil when
    /// the packet predates the switch to that source.
    public mutating func rewrite(ssrc: UInt32, sequenceNumber: UInt16, timestamp: UInt32, timestampAdvance: UInt32 = 1) -> Output? {
        if ssrc != source {
            source = ssrc
            unwrapper = SequenceNumberUnwrapper()
            let extended = unwrapper.unwrap(sequenceNumber)
            switchPoint = extended
            highestInput = extended
            if let last = lastOutput {
                sequenceOffset = last.sequenceNumber &+ 1 &- sequenceNumber
                timestampOffset = last.timestamp &+ max(1, timestampAdvance) &- timestamp
            }
            let output = map(sequenceNumber, timestamp)
            lastOutput = output
            return output
        }
        let extended = unwrapper.unwrap(sequenceNumber)
        guard extended >= switchPoint else { return nil }
        let output = map(sequenceNumber, timestamp)
        if extended > highestInput {
            highestInput = extended
            lastOutput = output
        }
        return output
    }

    private func map(_ sequenceNumber: UInt16, _ timestamp: UInt32) -> Output {
        Output(sequenceNumber: sequenceNumber &+ sequenceOffset, timestamp: timestamp &+ timestampOffset)
    }
}
