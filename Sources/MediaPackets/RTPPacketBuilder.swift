/// Builds RTP packets (RFC 3550 §5.1) with RFC 8285 header extensions.
///
/// Uses the one-byte extension form when every element fits it (ids 1...14, 1...16 bytes),
/// otherwise the two-byte form. Meant for tests, probes, RTX and the load generator; the
/// forwarding path rewrites received packets in place instead.
public struct RTPPacketBuilder: Sendable, Equatable {
    public var marker = false
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32] = []
    /// Header extension elements in order: (id, data).
    public var extensions: [(id: UInt8, data: [UInt8])] = []
    public var payload: [UInt8] = []
    /// Padding octets to append (0 for none; otherwise 1...255 including the count octet).
    public var paddingLength: UInt8 = 0

    public init(payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8] = []) {
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
    }

    public static func == (a: RTPPacketBuilder, b: RTPPacketBuilder) -> Bool {
        a.marker == b.marker && a.payloadType == b.payloadType && a.sequenceNumber == b.sequenceNumber
            && a.timestamp == b.timestamp && a.ssrc == b.ssrc && a.csrcs == b.csrcs
            && a.extensions.map(\.id) == b.extensions.map(\.id) && a.extensions.map(\.data) == b.extensions.map(\.data)
            && a.payload == b.payload && a.paddingLength == b.paddingLength
    }

    /// Encodes the packet.
    public func build() throws(RTPError) -> [UInt8] {
        guard payloadType < 128 else { throw .unencodable("payload type \(payloadType) exceeds 127") }
        guard csrcs.count <= 15 else { throw .unencodable("\(csrcs.count) CSRCs exceed 15") }
        var out: [UInt8] = []
        out.reserveCapacity(RTPHeader.fixedLength + 4 * csrcs.count + 64 + payload.count + Int(paddingLength))
        let hasExtension = !extensions.isEmpty
        out.append(0x80 | (paddingLength > 0 ? 0x20 : 0) | (hasExtension ? 0x10 : 0) | UInt8(csrcs.count))
        out.append((marker ? 0x80 : 0) | payloadType)
        out.append16(sequenceNumber)
        out.append32(timestamp)
        out.append32(ssrc)
        for csrc in csrcs { out.append32(csrc) }
        if hasExtension {
            let oneByte = extensions.allSatisfy { (1...14).contains($0.id) && (1...16).contains($0.data.count) }
            let start = out.count
            out.append16(oneByte ? RTPHeader.oneByteProfile : RTPHeader.twoByteProfile)
            out.append16(0)  // length, patched below
            for element in extensions {
                if oneByte {
                    out.append(element.id << 4 | UInt8(element.data.count - 1))
                } else {
                    guard element.id != 0 else { throw .unencodable("extension id 0 is reserved for padding") }
                    guard element.data.count <= 255 else { throw .unencodable("extension \(element.id) data exceeds 255 bytes") }
                    out.append(element.id)
                    out.append(UInt8(element.data.count))
                }
                out.append(contentsOf: element.data)
            }
            out.padToWord()
            let words = (out.count - start - 4) / 4
            guard words <= 0xFFFF else { throw .unencodable("header extension block too long") }
            out.set16(UInt16(words), at: start + 2)
        }
        out.append(contentsOf: payload)
        if paddingLength > 0 {
            out.append(contentsOf: repeatElement(0, count: Int(paddingLength) - 1))
            out.append(paddingLength)
        }
        return out
    }
}

/// RTX encapsulation (RFC 4588 §4): the retransmission payload is the original sequence
/// number followed by the original payload, sent on the RTX SSRC and payload type.
public enum RTXPacket {
    /// Builds an RTX packet from the original packet in `original` (header `header`), keeping
    /// its marker, timestamp, CSRCs and header extensions.
    public static func encapsulate(
        _ original: UnsafeRawBufferPointer, header: RTPHeader,
        rtxPayloadType: UInt8, rtxSSRC: UInt32, rtxSequenceNumber: UInt16
    ) throws(RTPError) -> [UInt8] {
        guard rtxPayloadType < 128 else { throw .unencodable("payload type \(rtxPayloadType) exceeds 127") }
        var out: [UInt8] = []
        out.reserveCapacity(header.payloadOffset + 2 + header.payloadLength)
        out.append(contentsOf: original[0..<header.payloadOffset])
        out[0] &= ~0x20  // padding is not carried over
        out[1] = (out[1] & 0x80) | rtxPayloadType
        out.set16(rtxSequenceNumber, at: 2)
        out.set32(rtxSSRC, at: 8)
        out.append16(header.sequenceNumber)
        out.append(contentsOf: original[header.payloadRange])
        return out
    }

    /// The original sequence number carried by an RTX packet, and the range of the original payload.
    public static func decapsulate(_ bytes: UnsafeRawBufferPointer, header: RTPHeader) throws(RTPError) -> (originalSequenceNumber: UInt16, payload: Range<Int>) {
        guard header.payloadLength >= 2 else {
            throw .truncated(needed: header.payloadOffset + 2, available: header.payloadOffset + header.payloadLength)
        }
        return (bytes.u16(header.payloadOffset), (header.payloadOffset + 2)..<header.payloadRange.upperBound)
    }
}
