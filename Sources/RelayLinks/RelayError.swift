/// Why a relay packet or link was refused. Every refusal is counted by the shell; none traps.
public enum RelayError: Error, Equatable, Sendable, CustomStringConvertible {
    case keyAgreementFailed
    case tooShort(Int)
    case unknownVersion(UInt8)
    case wrongLink
    case authenticationFailed
    case replayed(sequence: UInt64)
    case tooOld(sequence: UInt64)
    case unknownPayloadKind(UInt8)
    case tooLarge(Int)
    case sequenceExhausted

    public var description: String {
        switch self {
        case .keyAgreementFailed: "the relay key agreement failed (invalid or low-order X25519 key)"
        case let .tooShort(n): "a relay datagram of \(n) bytes is shorter than its header and tag"
        case let .unknownVersion(v): "relay datagram version byte 0x\(String(v, radix: 16)) is not understood"
        case .wrongLink: "the datagram names another relay link"
        case .authenticationFailed: "the relay datagram does not authenticate under this link's key"
        case let .replayed(s): "relay sequence \(s) was already received"
        case let .tooOld(s): "relay sequence \(s) is older than the replay window"
        case let .unknownPayloadKind(k): "relay payload kind \(k) is not RTP (1), RTCP (2), control (3) or a control fragment (4)"
        case let .tooLarge(n): "a relay payload of \(n) bytes exceeds the \(RelayPacket.maximumPayload)-byte limit"
        case .sequenceExhausted: "the relay link sent 2^64 packets; open a new link"
        }
    }
}
