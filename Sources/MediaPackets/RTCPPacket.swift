/// Why an RTCP packet was rejected.
public enum RTCPError: Error, Equatable, Sendable {
    /// The compound packet or one of its fields ends early (`needed` bytes at `offset`).
    case truncated(offset: Int, needed: Int, available: Int)
    /// The version bits are not 2 (RFC 3550 §6.4.1).
    case unsupportedVersion(offset: Int, version: UInt8)
    /// The padding count is zero or exceeds the packet (RFC 3550 §6.4.1).
    case invalidPadding(offset: Int)
    /// A field's value is impossible (named in `field`).
    case invalidField(offset: Int, field: String)
    /// A value cannot be encoded.
    case unencodable(String)
}

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1).
public enum RTCPPacketType {
    public static let senderReport: UInt8 = 200
    public static let receiverReport: UInt8 = 201
    public static let sourceDescription: UInt8 = 202
    public static let goodbye: UInt8 = 203
    public static let application: UInt8 = 204
    public static let transportFeedback: UInt8 = 205
    public static let payloadFeedback: UInt8 = 206
}

/// The 4-byte header every RTCP packet starts with (RFC 3550 §6.4.1).
public struct RTCPHeader: Sendable, Equatable {
    public var padding: Bool
    /// Reception report count, source count or feedback message type (FMT), by packet type.
    public var count: UInt8
    public var packetType: UInt8
    /// The packet's length in bytes, header included.
    public var length: Int
}

/// One reception report block (RFC 3550 §6.4.1).
public struct ReceptionReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction lost since the last report, as a fixed-point fraction of 256.
    public var fractionLost: UInt8
    /// Cumulative packets lost (signed 24-bit).
    public var cumulativeLost: Int32
    public var extendedHighestSequenceNumber: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    public var lastSenderReport: UInt32
    /// Delay since that SR in units of 1/65536 s (DLSR).
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequenceNumber: UInt32 = 0,
                jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequenceNumber = extendedHighestSequenceNumber
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

public struct SenderReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp (RFC 3550 §4).
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    public var reports: [ReceptionReport]

    public init(ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32, reports: [ReceptionReport] = []) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
    }
}

public struct ReceiverReport: Sendable, Equatable {
    public var ssrc: UInt32
    public var reports: [ReceptionReport]

    public init(ssrc: UInt32, reports: [ReceptionReport] = []) {
        self.ssrc = ssrc
        self.reports = reports
    }
}

/// SDES (RFC 3550 §6.5): per-source items such as CNAME (type 1).
public struct SourceDescription: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var type: UInt8
        public var value: [UInt8]
        public init(type: UInt8, value: [UInt8]) { self.type = type; self.value = value }
        public static func cname(_ text: String) -> Item { Item(type: 1, value: Array(text.utf8)) }
    }

    public struct Chunk: Sendable, Equatable {
        public var source: UInt32
        public var items: [Item]
        public init(source: UInt32, items: [Item]) { self.source = source; self.items = items }
    }

    public var chunks: [Chunk]
    public init(chunks: [Chunk]) { self.chunks = chunks }
}

/// BYE (RFC 3550 §6.6).
public struct Goodbye: Sendable, Equatable {
    public var sources: [UInt32]
    public var reason: String?
    public init(sources: [UInt32], reason: String? = nil) { self.sources = sources; self.reason = reason }
}

/// Generic NACK (RFC 4585 §6.2.1): lost packets as (PID, BLP) pairs.
public struct GenericNACK: Sendable, Equatable {
    public struct Pair: Sendable, Equatable {
        public var packetID: UInt16
        /// Bit i set means packetID + i + 1 is lost too.
        public var bitmask: UInt16
        public init(packetID: UInt16, bitmask: UInt16) { self.packetID = packetID; self.bitmask = bitmask }
    }

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var pairs: [Pair]

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, pairs: [Pair]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.pairs = pairs
    }

    /// Packs lost sequence numbers (in sending order, wrapping allowed) into as few pairs as possible.
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lost: [UInt16]) {
        var pairs: [Pair] = []
        for sequence in lost {
            if var last = pairs.last {
                let distance = sequence &- last.packetID
                if distance >= 1, distance <= 16 {
                    last.bitmask |= 1 << (distance - 1)
                    pairs[pairs.count - 1] = last
                    continue
                }
                if distance == 0 { continue }
            }
            pairs.append(Pair(packetID: sequence, bitmask: 0))
        }
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, pairs: pairs)
    }

    /// Every sequence number the pairs report lost, in order.
    public var lostSequenceNumbers: [UInt16] {
        var out: [UInt16] = []
        for pair in pairs {
            out.append(pair.packetID)
            for bit in 0..<16 where pair.bitmask & (1 << bit) != 0 {
                out.append(pair.packetID &+ UInt16(bit + 1))
            }
        }
        return out
    }
}

/// Picture Loss Indication (RFC 4585 §6.3.1).
public struct PictureLossIndication: Sendable, Equatable {
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public init(senderSSRC: UInt32, mediaSSRC: UInt32) { self.senderSSRC = senderSSRC; self.mediaSSRC = mediaSSRC }
}

/// Full Intra Request (RFC 5104 §4.3.1).
public struct FullIntraRequest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var ssrc: UInt32
        public var sequenceNumber: UInt8
        public init(ssrc: UInt32, sequenceNumber: UInt8) { self.ssrc = ssrc; self.sequenceNumber = sequenceNumber }
    }

    public var senderSSRC: UInt32
    public var entries: [Entry]
    public init(senderSSRC: UInt32, entries: [Entry]) { self.senderSSRC = senderSSRC; self.entries = entries }
}

/// Receiver Estimated Maximum Bitrate (draft-alvestrand-rmcat-remb-03 §2.2).
public struct ReceiverEstimatedMaximumBitrate: Sendable, Equatable {
    public var senderSSRC: UInt32
    /// Bits per second. Encoded as an 18-bit mantissa and 6-bit exponent, so large values
    /// lose precision: the encoder rounds down.
    public var bitrate: UInt64
    public var ssrcs: [UInt32]
    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }
}

/// One parsed RTCP packet of a compound packet.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(SenderReport)
    case receiverReport(ReceiverReport)
    case sourceDescription(SourceDescription)
    case goodbye(Goodbye)
    case nack(GenericNACK)
    case transportFeedback(TransportFeedback)
    case pictureLossIndication(PictureLossIndication)
    case fullIntraRequest(FullIntraRequest)
    case remb(ReceiverEstimatedMaximumBitrate)
    /// Any other packet type or feedback format, kept as its body (after the 4-byte header, padding removed).
    case other(packetType: UInt8, count: UInt8, body: [UInt8])
}
