/// What the SFU saw of one meeting's media (issue 8 §4, for the transparency report's
/// "media end-to-end encrypted"): whether every publisher frame it forwarded started with the
/// SFrame layout of its codec and the publisher's sender slot (`E2EEPayloadValidator`).
///
/// Counted on each frame's first packet only (later packets of a VP8 frame are opaque), for
/// forwarded frames only: in an E2EE-required meeting refused frames never leave the node, so
/// a refused plaintext publisher does not make the meeting's forwarded media unencrypted.
struct EndToEndEncryptionObservation: Sendable, Equatable {
    /// Frame starts forwarded that carried the layout.
    var encryptedFrames = 0
    /// Frame starts forwarded without it (possible only where nothing is refused:
    /// `e2ee: preferred` or `off`).
    var plaintextFrames = 0

    /// nil: no media forwarded yet; false: some forwarded frame lacked the layout.
    var allEncrypted: Bool? {
        if plaintextFrames > 0 { return false }
        return encryptedFrames > 0 ? true : nil
    }
}
