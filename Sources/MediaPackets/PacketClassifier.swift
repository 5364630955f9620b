/// What a datagram on a bundled WebRTC transport is, from its first bytes (RFC 7983 §7,
/// RFC 5761 §4). ICE, DTLS, SRTP and SRTCP share one 5-tuple and are told apart here,
/// before any parser runs.
public enum DatagramKind: Sendable, Equatable {
    case stun
    case dtls
    case rtp
    case rtcp
    /// ZRTP (16...19), TURN channel data (64...79) or anything else: drop.
    case unknown
}

public enum PacketClassifier {
    public static func classify(_ bytes: UnsafeRawBufferPointer) -> DatagramKind {
        guard let first = bytes.first else { return .unknown }
        switch first {
        case 0...3: return .stun
        case 20...63: return .dtls
        case 128...191:
            guard bytes.count >= 2 else { return .unknown }
            // RTCP packet types 192...223 occupy the marker bit + payload type byte (RFC 5761 §4).
            return RTPHeader.isRTCP(secondByte: bytes[1]) ? .rtcp : .rtp
        default: return .unknown
        }
    }

    public static func classify(_ bytes: [UInt8]) -> DatagramKind {
        bytes.withUnsafeBytes { classify($0) }
    }
}
