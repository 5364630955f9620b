import OpenSSLWrapper

/// One sender's media-key timeline (docs/e2ee.md, "Rotation and ratchet"): which KID and base
/// key it encrypts with, and what changes when the membership does. A value type with no I/O;
/// the caller installs the result in its `SFrameSender` and seals it to the right recipients.
public struct MediaKeySchedule: Sendable {
    public private(set) var keyID: E2EEKeyID
    /// The current base key. Secret: hand it only to `SFrameSender.rotate` and `MediaKeyEnvelope.seal`.
    public private(set) var baseKey: [UInt8]

    /// Generation 0 with a fresh random key.
    public init(senderSlot: UInt32) {
        keyID = E2EEKeyID(senderSlot: senderSlot, generation: 0)
        baseKey = MediaKey.random()
    }

    public init(keyID: E2EEKeyID, baseKey: [UInt8]) {
        self.keyID = keyID
        self.baseKey = baseKey
    }

    /// Someone joined: ratchet to the next generation. Seal the result to the newcomer only;
    /// everyone else derives it themselves (`SFrameReceiver(ratchetOnDemand:)`).
    public mutating func participantJoined() throws(SFrameError) -> (keyID: E2EEKeyID, baseKey: [UInt8]) {
        let next = keyID.next
        let key = try MediaKey.ratchet(baseKey, to: next)
        secureZero(&baseKey)
        keyID = next
        baseKey = key
        return (keyID, baseKey)
    }

    /// Someone left: a new random key under the next generation. Seal it to every remaining
    /// participant; the leaver cannot derive it.
    public mutating func participantLeft() -> (keyID: E2EEKeyID, baseKey: [UInt8]) {
        secureZero(&baseKey)
        keyID = keyID.next
        baseKey = MediaKey.random()
        return (keyID, baseKey)
    }
}
