import SodiumWrapper

/// Demarc's KID assignment (RFC 9605 §9.2 leaves it to the application): the sender's slot,
/// which signaling assigns once per participant in a meeting, in the high bits and the key
/// generation in the low 16. KIDs of different senders never collide, so one base_key is
/// never used by two senders (§4.4.1), and the SFU can check that a publisher's frames carry
/// its own slot. Generation wraps after 65 536 rotations; old keys are gone long before.
public struct E2EEKeyID: Hashable, Sendable, CustomStringConvertible {
    public var senderSlot: UInt32
    public var generation: UInt16

    public init(senderSlot: UInt32, generation: UInt16) {
        self.senderSlot = senderSlot
        self.generation = generation
    }

    public init(_ keyID: UInt64) {
        senderSlot = UInt32(truncatingIfNeeded: keyID >> 16)
        generation = UInt16(truncatingIfNeeded: keyID)
    }

    public var rawValue: UInt64 { UInt64(senderSlot) << 16 | UInt64(generation) }

    public var next: E2EEKeyID { E2EEKeyID(senderSlot: senderSlot, generation: generation &+ 1) }

    public var description: String { "slot \(senderSlot) gen \(generation)" }
}

/// A sender's media key for one KID: 16 random bytes (the SFrame base_key).
public enum MediaKey {
    public static let length = 16

    public static func random() -> [UInt8] { RandomBytes.generate(count: length) }

    /// The key after a participant joins (docs/e2ee.md): one-way, so the newcomer, who gets
    /// only the ratcheted key, cannot decrypt frames sealed under earlier ones.
    /// base' = HKDF-SHA256(IKM = base, salt = "", info = "Demarc E2EE 1 ratchet" ‖ KID'(8), 16).
    public static func ratchet(_ baseKey: [UInt8], to next: E2EEKeyID) throws(SFrameError) -> [UInt8] {
        var info = Array("Demarc E2EE 1 ratchet".utf8)
        info.appendBigEndian(next.rawValue)
        return try HKDF.derive(inputKeyingMaterial: baseKey, salt: [], info: info, length: length)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt64) {
        for i in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(i))) }
    }
}
