public import OpenSSLWrapper

/// Why an SRTP or SRTCP packet could not be protected or unprotected.
public enum SRTPError: Error, Equatable, Sendable {
    /// A master key or salt (or keying material) of the wrong length for the profile.
    case invalidKeyLength(expected: Int, actual: Int)
    /// Too short to be an (S)RTP or (S)RTCP packet, or a malformed header.
    case malformedPacket
    /// The buffer has no room for the tag (protect needs `length + trailer` bytes).
    case bufferTooSmall(needed: Int, available: Int)
    /// The authentication tag did not verify (RFC 3711 §3.3 step 5): drop the packet.
    case authenticationFailed
    /// The packet index was already received (RFC 3711 §3.3.2).
    case replayed
    /// The packet index is older than the replay window, or before the stream began.
    case tooOld
    /// The SRTCP index would wrap (RFC 3711 §9.2): the session must be re-keyed.
    case indexExhausted
    case crypto(OpenSSLError)

    public static func == (a: SRTPError, b: SRTPError) -> Bool {
        switch (a, b) {
        case let (.invalidKeyLength(x1, y1), .invalidKeyLength(x2, y2)): x1 == x2 && y1 == y2
        case (.malformedPacket, .malformedPacket), (.authenticationFailed, .authenticationFailed),
             (.replayed, .replayed), (.tooOld, .tooOld), (.indexExhausted, .indexExhausted): true
        case let (.bufferTooSmall(x1, y1), .bufferTooSmall(x2, y2)): x1 == x2 && y1 == y2
        case let (.crypto(x), .crypto(y)): x.operation == y.operation
        default: false
        }
    }
}
