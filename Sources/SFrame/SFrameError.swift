/// Why an SFrame operation failed. Receivers drop the frame on any of these (RFC 9605 §4.4.4);
/// only `unknownKeyID` is worth buffering for, until the key arrives.
public enum SFrameError: Error, Equatable, Sendable {
    case malformedHeader(SFrameHeaderError)
    /// The ciphertext is shorter than its header plus the AEAD tag.
    case truncatedCiphertext(needed: Int, available: Int)
    /// No receive key is installed for this KID.
    case unknownKeyID(UInt64)
    /// The tag did not verify: wrong key, tampered bytes or metadata.
    case authenticationFailed(keyID: UInt64, counter: UInt64)
    /// This CTR was already accepted under this key (RFC 9605 §9.3; RFC 3711 §3.3.2 window).
    case replayed(keyID: UInt64, counter: UInt64)
    /// This CTR is older than the replay window and can no longer be told from a replay.
    case outsideReplayWindow(keyID: UInt64, counter: UInt64)
    /// The sender used every CTR value of this key; rotate (RFC 9605 §9.1 forbids reuse).
    case counterExhausted(keyID: UInt64)
    /// A caller-supplied output buffer is too small.
    case outputTooSmall(needed: Int, available: Int)
    /// A key of the wrong length was supplied.
    case invalidKeyLength(Int)
    /// OpenSSL or libsodium reported a failure (not expected in normal operation).
    case cryptoFailure(String)
}
