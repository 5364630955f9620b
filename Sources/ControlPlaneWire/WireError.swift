/// Why a control-plane message could not be decoded. Decoding never traps:
/// every malformed input ends in one of these.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// protobuf-c rejected the bytes (truncated, bad varint, wrong wire type, ...).
    case malformed(message: String, byteCount: Int)
    /// A string field was not valid UTF-8.
    case invalidUTF8(message: String, field: String)
    /// A field that must be present was absent or empty.
    case missingField(message: String, field: String)
    /// A field held a value outside its range (unknown enum value, too many coordinates, ...).
    case invalidValue(message: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(message, count): "\(message): \(count) bytes are not a valid protobuf encoding"
        case let .invalidUTF8(message, field): "\(message).\(field) is not valid UTF-8"
        case let .missingField(message, field): "\(message).\(field) is required but missing"
        case let .invalidValue(message, field, reason): "\(message).\(field) is invalid: \(reason)"
        }
    }
}
