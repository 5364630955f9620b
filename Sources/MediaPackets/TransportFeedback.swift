/// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1),
/// RTPFB with FMT 15.
///
/// `receiveDeltas[k]` is the status of sequence number `baseSequenceNumber + k`: `nil` when the
/// packet was not received, otherwise its receive time relative to the previous received packet
/// (the first relative to `referenceTime`) in ticks of 250 µs.
public struct TransportFeedback: Sendable, Equatable {
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var baseSequenceNumber: UInt16
    /// Signed 24-bit reference time in multiples of 64 ms.
    public var referenceTime: Int32
    public var feedbackPacketCount: UInt8
    public var receiveDeltas: [Int16?]

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, baseSequenceNumber: UInt16, referenceTime: Int32,
                feedbackPacketCount: UInt8, receiveDeltas: [Int16?]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequenceNumber = baseSequenceNumber
        self.referenceTime = referenceTime
        self.feedbackPacketCount = feedbackPacketCount
        self.receiveDeltas = receiveDeltas
    }

    /// The microseconds one delta tick stands for.
    public static let deltaTickMicroseconds = 250

    /// Status symbols (§3.1.1): 0 not received, 1 small delta (one octet), 2 large or negative delta.
    static func symbol(_ delta: Int16?) -> UInt8 {
        guard let delta else { return 0 }
        return (0...255).contains(delta) ? 1 : 2
    }

    static func decode(_ b: UnsafeRawBufferPointer, body: Range<Int>) throws(RTCPError) -> TransportFeedback {
        let start = body.lowerBound
        let end = body.upperBound
        guard end - start >= 16 else { throw .truncated(offset: start - 4, needed: 20, available: end - start + 4) }
        let statusCount = Int(b.u16(start + 10))
        let rawReference = b.u24(start + 12)
        let reference = rawReference & 0x80_0000 != 0 ? Int32(rawReference) - 0x100_0000 : Int32(rawReference)
        var symbols: [UInt8] = []
        symbols.reserveCapacity(statusCount)
        var o = start + 16
        while symbols.count < statusCount {
            guard o + 2 <= end else { throw .truncated(offset: o, needed: 2, available: end - o) }
            let chunk = b.u16(o)
            o += 2
            let remaining = statusCount - symbols.count
            if chunk & 0x8000 == 0 {
                let symbol = UInt8((chunk >> 13) & 0x3)
                let run = Int(chunk & 0x1FFF)
                guard run > 0, symbol != 3 else { throw .invalidField(offset: o - 2, field: "run-length chunk") }
                symbols.append(contentsOf: repeatElement(symbol, count: min(run, remaining)))
            } else if chunk & 0x4000 == 0 {
                for i in 0..<min(14, remaining) { symbols.append(UInt8((chunk >> (13 - i)) & 0x1)) }
            } else {
                for i in 0..<min(7, remaining) {
                    let symbol = UInt8((chunk >> (12 - 2 * i)) & 0x3)
                    guard symbol != 3 else { throw .invalidField(offset: o - 2, field: "status symbol") }
                    symbols.append(symbol)
                }
            }
        }
        var deltas: [Int16?] = []
        deltas.reserveCapacity(statusCount)
        for symbol in symbols {
            switch symbol {
            case 1:
                guard o + 1 <= end else { throw .truncated(offset: o, needed: 1, available: end - o) }
                deltas.append(Int16(b[o]))
                o += 1
            case 2:
                guard o + 2 <= end else { throw .truncated(offset: o, needed: 2, available: end - o) }
                deltas.append(Int16(bitPattern: b.u16(o)))
                o += 2
            default:
                deltas.append(nil)
            }
        }
        return TransportFeedback(
            senderSSRC: b.u32(start), mediaSSRC: b.u32(start + 4), baseSequenceNumber: b.u16(start + 8),
            referenceTime: reference, feedbackPacketCount: b[start + 15], receiveDeltas: deltas)
    }

    func appendBody(to out: inout [UInt8]) throws(RTCPError) {
        guard receiveDeltas.count <= 0xFFFF else { throw .unencodable("more than 65535 packet statuses") }
        guard (-0x80_0000...0x7F_FFFF).contains(referenceTime) else { throw .unencodable("reference time exceeds 24 bits") }
        out.append32(senderSSRC)
        out.append32(mediaSSRC)
        out.append16(baseSequenceNumber)
        out.append16(UInt16(receiveDeltas.count))
        out.append24(UInt32(bitPattern: referenceTime) & 0xFF_FFFF)
        out.append(feedbackPacketCount)
        let symbols = receiveDeltas.map(Self.symbol)
        var i = 0
        while i < symbols.count {
            var run = 1
            while i + run < symbols.count, symbols[i + run] == symbols[i], run < 0x1FFF { run += 1 }
            if run >= 7 || i + run == symbols.count {
                out.append16(UInt16(symbols[i]) << 13 | UInt16(run))
                i += run
            } else if symbols[i..<min(i + 14, symbols.count)].allSatisfy({ $0 <= 1 }) {
                var chunk: UInt16 = 0x8000
                for k in 0..<14 where i + k < symbols.count { chunk |= UInt16(symbols[i + k]) << (13 - k) }
                out.append16(chunk)
                i += 14
            } else {
                var chunk: UInt16 = 0xC000
                for k in 0..<7 where i + k < symbols.count { chunk |= UInt16(symbols[i + k]) << (12 - 2 * k) }
                out.append16(chunk)
                i += 7
            }
        }
        for delta in receiveDeltas {
            guard let delta else { continue }
            if (0...255).contains(delta) { out.append(UInt8(delta)) } else { out.append16(UInt16(bitPattern: delta)) }
        }
    }
}
