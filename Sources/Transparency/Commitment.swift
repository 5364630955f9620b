public import SodiumWrapper

/// A 32-byte tenant-keyed commitment standing in for a meeting, participant or
/// artifact identifier in the log: `HMAC-SHA256(tenantSecret, domain ‖ 0x00 ‖ id…)`.
///
/// Without the tenant's secret a commitment reveals nothing about the identifier and
/// cannot be linked to commitments of other tenants; destroying the secret (tenant
/// deletion) makes every commitment in the immutable log permanently unlinkable.
public struct Commitment: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public static let length = 32
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Commitment.length else { return nil }
        self.bytes = bytes
    }

    /// Parses the lowercase-or-uppercase hex form used in URLs and reports.
    public init?(hex: String) {
        guard let b = Hex.decode(hex), b.count == Commitment.length else { return nil }
        bytes = b
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
    public static func < (a: Self, b: Self) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let c = Commitment(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a 64-hex-digit commitment"))
        }
        self = c
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// A tenant's commitment secret and the derivations made with it. Domain strings keep
/// a meeting commitment from ever equalling a participant or artifact commitment.
public struct TenantCommitmentKey: Sendable {
    public static let secretLength = 32
    private let secret: SecretBytes

    public init(secret: SecretBytes) { self.secret = secret }

    /// A fresh random secret for a new tenant.
    public static func generate() -> TenantCommitmentKey {
        TenantCommitmentKey(secret: SecretBytes(randomCount: secretLength))
    }

    /// Gives temporary access to the secret bytes (for storing them).
    public func withSecretBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try secret.withUnsafeBytes { try body($0) }
    }

    public func meeting(_ meetingID: String) -> Commitment {
        derive("demarc.transparency.meeting.v1", [meetingID])
    }

    /// Participants are committed per meeting so the same person is unlinkable across meetings.
    public func participant(_ participantID: String, inMeeting meetingID: String) -> Commitment {
        derive("demarc.transparency.participant.v1", [meetingID, participantID])
    }

    public func artifact(_ artifactID: String, inMeeting meetingID: String) -> Commitment {
        derive("demarc.transparency.artifact.v1", [meetingID, artifactID])
    }

    private func derive(_ domain: String, _ parts: [String]) -> Commitment {
        var message = Array(domain.utf8)
        for p in parts {
            // Length-prefix each part so ("ab","c") and ("a","bc") differ.
            let u = Array(p.utf8)
            message.append(0x00)
            withUnsafeBytes(of: UInt32(u.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: u)
        }
        return Commitment(HMACSHA256.authenticate(message, key: secret))!
    }
}
