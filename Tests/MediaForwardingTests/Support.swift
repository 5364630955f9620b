import MediaForwarding
import MediaPackets
import DemarcTestSupport

/// A manual instant for tests: time moves only when the test says so.
struct TestInstant: InstantProtocol, Hashable, Sendable {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

typealias Router = ForwardingRouter<TestInstant>


enum Ext {
    static let mid: UInt8 = 1
    static let rid: UInt8 = 2
    static let repairedRID: UInt8 = 3
    static let audioLevel: UInt8 = 4
    static let map = RTPExtensionMap(mid: mid, rtpStreamID: rid, repairedRTPStreamID: repairedRID, audioLevel: audioLevel)
}

/// VP8 payloads (RFC 7741 §4.2): descriptor with S=1, PID 0, then the frame tag (P bit 0 = key).
enum VP8 {
    static func payload(keyframe: Bool, start: Bool = true, size: Int = 100, fill: UInt8 = 0xAB) -> [UInt8] {
        var bytes: [UInt8] = [start ? 0x10 : 0x00, keyframe ? 0x00 : 0x01]
        bytes += [UInt8](repeating: fill, count: max(0, size - 2))
        return bytes
    }
}

func rtp(ssrc: UInt32, seq: UInt16, ts: UInt32, pt: UInt8 = 96, payload: [UInt8],
         extensions: [(id: UInt8, data: [UInt8])] = [], marker: Bool = false) -> [UInt8] {
    var builder = RTPPacketBuilder(payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: ssrc, payload: payload)
    builder.extensions = extensions
    builder.marker = marker
    return try! builder.build()
}

/// The RTP packets a batch sends, parsed, by recipient.
struct Sent {
    var to: ParticipantID
    var bytes: [UInt8]
    var header: RTPHeader
    var retransmission: Bool
    var payload: [UInt8] { Array(bytes[header.payloadRange]) }
}

extension ForwardingBatch {
    var sentRTP: [Sent] {
        directives.compactMap {
            guard case .sendRTP(let to, let range, let retransmission) = $0 else { return nil }
            let bytes = packet(range)
            return Sent(to: to, bytes: bytes, header: try! RTPHeader.parse(bytes), retransmission: retransmission)
        }
    }

    var sentRTCP: [(to: ParticipantID, packet: RTCPPacket)] {
        directives.compactMap {
            guard case .sendRTCP(let to, let packet) = $0 else { return nil }
            return (to, packet)
        }
    }

    var speakerChanges: [ParticipantID?] {
        directives.compactMap {
            guard case .activeSpeakerChanged(let who) = $0 else { return nil }
            return .some(who)
        }
    }
}

func videoTrack(_ id: UInt32, mid: String, ssrc: UInt32?, rtxSSRC: UInt32? = nil) -> PublishedTrackDescription {
    PublishedTrackDescription(id: TrackID(id), mid: mid, kind: .video,
                              payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8, rtxPayloadType: 97)],
                              layers: [SimulcastLayerDescription(ssrc: ssrc, rtxSSRC: rtxSSRC)])
}

func audioTrack(_ id: UInt32, mid: String, ssrc: UInt32?) -> PublishedTrackDescription {
    PublishedTrackDescription(id: TrackID(id), mid: mid, kind: .audio,
                              payloadTypes: [PayloadTypeDescription(payloadType: 111, codec: .opus)],
                              layers: [SimulcastLayerDescription(ssrc: ssrc)])
}
