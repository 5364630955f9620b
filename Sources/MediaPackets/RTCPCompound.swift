/// Parsing and building compound RTCP packets (RFC 3550 §6.1).
public enum RTCPCompound {
    /// Walks the packets of the compound packet in `bytes` without decoding their bodies.
    /// `body` receives each header and the byte range of its body (after the header, without padding).
    public static func forEachPacket(
        _ bytes: UnsafeRawBufferPointer, _ body: (RTCPHeader, Range<Int>) throws(RTCPError) -> Void
    ) throws(RTCPError) {
        var offset = 0
        let count = bytes.count
        guard count >= 4 else { throw .truncated(offset: 0, needed: 4, available: count) }
        while offset < count {
            guard count - offset >= 4 else { throw .truncated(offset: offset, needed: 4, available: count - offset) }
            let b0 = bytes[offset]
            let version = b0 >> 6
            guard version == 2 else { throw .unsupportedVersion(offset: offset, version: version) }
            let length = (Int(bytes.u16(offset + 2)) + 1) * 4
            guard offset + length <= count else { throw .truncated(offset: offset, needed: length, available: count - offset) }
            let hasPadding = b0 & 0x20 != 0
            var end = offset + length
            if hasPadding {
                let pad = Int(bytes[end - 1])
                guard pad >= 1, pad <= length - 4 else { throw .invalidPadding(offset: offset) }
                end -= pad
            }
            let header = RTCPHeader(padding: hasPadding, count: b0 & 0x1F, packetType: bytes[offset + 1], length: length)
            try body(header, (offset + 4)..<end)
            offset += length
        }
    }

    /// Parses every packet of the compound packet in `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTCPError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        try forEachPacket(bytes) { (header, range) throws(RTCPError) in
            packets.append(try decode(header: header, body: range, in: bytes))
        }
        return packets
    }

    public static func parse(_ bytes: [UInt8]) throws(RTCPError) -> [RTCPPacket] {
        try withBytes(bytes) { (raw) throws(RTCPError) in try parse(raw) }
    }

    /// Encodes `packets` as one compound packet.
    public static func serialize(_ packets: [RTCPPacket]) throws(RTCPError) -> [UInt8] {
        var out: [UInt8] = []
        for packet in packets { try packet.append(to: &out) }
        return out
    }

    static func decode(header: RTCPHeader, body: Range<Int>, in b: UnsafeRawBufferPointer) throws(RTCPError) -> RTCPPacket {
        let start = body.lowerBound
        let end = body.upperBound
        let available = end - start
        func need(_ n: Int) throws(RTCPError) {
            guard available >= n else { throw .truncated(offset: start - 4, needed: n + 4, available: available + 4) }
        }
        func reports(at offset: Int, count: Int) -> [ReceptionReport] {
            (0..<count).map { i in
                let o = offset + 24 * i
                let lost = b.u24(o + 5)
                return ReceptionReport(
                    ssrc: b.u32(o), fractionLost: b[o + 4],
                    cumulativeLost: lost & 0x80_0000 != 0 ? Int32(lost) - 0x100_0000 : Int32(lost),
                    extendedHighestSequenceNumber: b.u32(o + 8), jitter: b.u32(o + 12),
                    lastSenderReport: b.u32(o + 16), delaySinceLastSenderReport: b.u32(o + 20))
            }
        }
        let count = Int(header.count)
        switch header.packetType {
        case RTCPPacketType.senderReport:
            try need(24 + 24 * count)
            return .senderReport(SenderReport(
                ssrc: b.u32(start), ntpTimestamp: b.u64(start + 4), rtpTimestamp: b.u32(start + 12),
                packetCount: b.u32(start + 16), octetCount: b.u32(start + 20), reports: reports(at: start + 24, count: count)))
        case RTCPPacketType.receiverReport:
            try need(4 + 24 * count)
            return .receiverReport(ReceiverReport(ssrc: b.u32(start), reports: reports(at: start + 4, count: count)))
        case RTCPPacketType.sourceDescription:
            var chunks: [SourceDescription.Chunk] = []
            var o = start
            for _ in 0..<count {
                guard o + 4 <= end else { throw .truncated(offset: o, needed: 4, available: end - o) }
                var chunk = SourceDescription.Chunk(source: b.u32(o), items: [])
                o += 4
                while true {
                    guard o < end else { throw .truncated(offset: o, needed: 1, available: 0) }
                    let type = b[o]
                    if type == 0 {
                        // The null item ends the chunk; pad to the next 32-bit boundary.
                        o += 1
                        while (o - start) % 4 != 0 { o += 1 }
                        break
                    }
                    guard o + 2 <= end else { throw .truncated(offset: o, needed: 2, available: end - o) }
                    let length = Int(b[o + 1])
                    guard o + 2 + length <= end else { throw .truncated(offset: o, needed: 2 + length, available: end - o) }
                    chunk.items.append(.init(type: type, value: b.copy((o + 2)..<(o + 2 + length))))
                    o += 2 + length
                }
                guard o <= end else { throw .truncated(offset: o, needed: o - end, available: 0) }
                chunks.append(chunk)
            }
            return .sourceDescription(SourceDescription(chunks: chunks))
        case RTCPPacketType.goodbye:
            try need(4 * count)
            let sources = (0..<count).map { b.u32(start + 4 * $0) }
            var reason: String?
            let o = start + 4 * count
            if o < end {
                let length = Int(b[o])
                guard o + 1 + length <= end else { throw .truncated(offset: o, needed: 1 + length, available: end - o) }
                reason = String(decoding: b[(o + 1)..<(o + 1 + length)], as: UTF8.self)
            }
            return .goodbye(Goodbye(sources: sources, reason: reason))
        case RTCPPacketType.transportFeedback where count == 1:
            try need(8)
            let pairs = (0..<((available - 8) / 4)).map { i in
                GenericNACK.Pair(packetID: b.u16(start + 8 + 4 * i), bitmask: b.u16(start + 10 + 4 * i))
            }
            return .nack(GenericNACK(senderSSRC: b.u32(start), mediaSSRC: b.u32(start + 4), pairs: pairs))
        case RTCPPacketType.transportFeedback where count == 15:
            return .transportFeedback(try TransportFeedback.decode(b, body: body))
        case RTCPPacketType.payloadFeedback where count == 1:
            try need(8)
            return .pictureLossIndication(PictureLossIndication(senderSSRC: b.u32(start), mediaSSRC: b.u32(start + 4)))
        case RTCPPacketType.payloadFeedback where count == 4:
            try need(8)
            let entries = (0..<((available - 8) / 8)).map { i in
                FullIntraRequest.Entry(ssrc: b.u32(start + 8 + 8 * i), sequenceNumber: b[start + 12 + 8 * i])
            }
            return .fullIntraRequest(FullIntraRequest(senderSSRC: b.u32(start), entries: entries))
        case RTCPPacketType.payloadFeedback where count == 15 && available >= 16 && b.u32(start + 8) == 0x5245_4D42:  // "REMB"
            let ssrcCount = Int(b[start + 12])
            try need(16 + 4 * ssrcCount)
            let exponent = UInt64(b[start + 13] >> 2)
            let mantissa = UInt64(b.u24(start + 13) & 0x3_FFFF)
            guard exponent < 46 || mantissa == 0 else { throw .invalidField(offset: start + 13, field: "REMB exponent") }
            let ssrcs = (0..<ssrcCount).map { b.u32(start + 16 + 4 * $0) }
            return .remb(ReceiverEstimatedMaximumBitrate(senderSSRC: b.u32(start), bitrate: mantissa << exponent, ssrcs: ssrcs))
        default:
            return .other(packetType: header.packetType, count: header.count, body: b.copy(body))
        }
    }
}

extension RTCPPacket {
    /// Appends this packet (header, body and any padding to a 32-bit boundary) to `out`.
    public func append(to out: inout [UInt8]) throws(RTCPError) {
        let start = out.count
        func header(_ count: Int, _ type: UInt8) throws(RTCPError) {
            guard count < 32 else { throw .unencodable("\(count) items exceed the 5-bit count field") }
            out.append(0x80 | UInt8(count))
            out.append(type)
            out.append16(0)
        }
        func append(_ report: ReceptionReport) {
            out.append32(report.ssrc)
            out.append(report.fractionLost)
            out.append24(UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, report.cumulativeLost))) & 0xFF_FFFF)
            out.append32(report.extendedHighestSequenceNumber)
            out.append32(report.jitter)
            out.append32(report.lastSenderReport)
            out.append32(report.delaySinceLastSenderReport)
        }
        switch self {
        case .senderReport(let sr):
            try header(sr.reports.count, RTCPPacketType.senderReport)
            out.append32(sr.ssrc)
            out.append64(sr.ntpTimestamp)
            out.append32(sr.rtpTimestamp)
            out.append32(sr.packetCount)
            out.append32(sr.octetCount)
            sr.reports.forEach(append)
        case .receiverReport(let rr):
            try header(rr.reports.count, RTCPPacketType.receiverReport)
            out.append32(rr.ssrc)
            rr.reports.forEach(append)
        case .sourceDescription(let sdes):
            try header(sdes.chunks.count, RTCPPacketType.sourceDescription)
            for chunk in sdes.chunks {
                out.append32(chunk.source)
                for item in chunk.items {
                    guard item.type != 0, item.value.count <= 255 else { throw .unencodable("SDES item type 0 or longer than 255 bytes") }
                    out.append(item.type)
                    out.append(UInt8(item.value.count))
                    out.append(contentsOf: item.value)
                }
                out.append(0)
                out.padToWord()
            }
        case .goodbye(let bye):
            try header(bye.sources.count, RTCPPacketType.goodbye)
            bye.sources.forEach { out.append32($0) }
            if let reason = bye.reason {
                let bytes = Array(reason.utf8)
                guard bytes.count <= 255 else { throw .unencodable("BYE reason longer than 255 bytes") }
                out.append(UInt8(bytes.count))
                out.append(contentsOf: bytes)
                out.padToWord()
            }
        case .nack(let nack):
            try header(1, RTCPPacketType.transportFeedback)
            out.append32(nack.senderSSRC)
            out.append32(nack.mediaSSRC)
            for pair in nack.pairs {
                out.append16(pair.packetID)
                out.append16(pair.bitmask)
            }
        case .transportFeedback(let feedback):
            try header(15, RTCPPacketType.transportFeedback)
            try feedback.appendBody(to: &out)
        case .pictureLossIndication(let pli):
            try header(1, RTCPPacketType.payloadFeedback)
            out.append32(pli.senderSSRC)
            out.append32(pli.mediaSSRC)
        case .fullIntraRequest(let fir):
            try header(4, RTCPPacketType.payloadFeedback)
            out.append32(fir.senderSSRC)
            out.append32(0)  // media source: unused, RFC 5104 §4.3.1.2
            for entry in fir.entries {
                out.append32(entry.ssrc)
                out.append(entry.sequenceNumber)
                out.append24(0)
            }
        case .remb(let remb):
            try header(15, RTCPPacketType.payloadFeedback)
            guard remb.ssrcs.count <= 255 else { throw .unencodable("REMB lists more than 255 SSRCs") }
            out.append32(remb.senderSSRC)
            out.append32(0)
            out.append32(0x5245_4D42)
            out.append(UInt8(remb.ssrcs.count))
            var exponent: UInt64 = 0
            while remb.bitrate >> exponent > 0x3_FFFF { exponent += 1 }
            let mantissa = remb.bitrate >> exponent
            out.append24(UInt32(exponent << 18 | mantissa))
            remb.ssrcs.forEach { out.append32($0) }
        case .other(let type, let count, let body):
            try header(Int(count), type)
            out.append(contentsOf: body)
        }
        // Pad to a 32-bit boundary, marking padding per RFC 3550 §6.4.1.
        let unpadded = out.count - start
        if unpadded % 4 != 0 {
            let pad = 4 - unpadded % 4
            out.append(contentsOf: repeatElement(0, count: pad - 1))
            out.append(UInt8(pad))
            out[start] |= 0x20
        }
        let words = (out.count - start) / 4 - 1
        guard words <= 0xFFFF else { throw .unencodable("RTCP packet longer than 262144 bytes") }
        out.set16(UInt16(words), at: start + 2)
    }
}
