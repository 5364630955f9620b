public import OpenSSLWrapper

/// Why a STUN message was rejected (RFC 8489 §6, §14).
public enum STUNError: Error, Equatable, Sendable {
    case truncated(needed: Int, available: Int)
    /// The top two bits of the first byte are not zero, so this is not STUN (RFC 8489 §5).
    case notSTUN
    /// The magic cookie is not 0x2112A442 (RFC 8489 §5).
    case badMagicCookie(UInt32)
    /// The header's length field disagrees with the datagram or is not a multiple of 4.
    case lengthMismatch(declared: Int, actual: Int)
    /// An attribute at `offset` runs past the message.
    case malformedAttribute(offset: Int)
    /// FINGERPRINT is present but not the last attribute, or its value is wrong (RFC 8489 §14.7).
    case badFingerprint
    /// An attribute's value has the wrong size or content for its type.
    case invalidAttribute(type: UInt16)
    /// A value cannot be encoded.
    case unencodable(String)
}

/// STUN message classes (RFC 8489 §5).
public enum STUNClass: UInt16, Sendable {
    case request = 0, indication = 1, successResponse = 2, errorResponse = 3
}

/// A STUN message type: a 12-bit method and a class, interleaved on the wire (RFC 8489 §5).
public struct STUNMessageType: Hashable, Sendable {
    public static let bindingMethod: UInt16 = 0x001
    public static let bindingRequest = STUNMessageType(method: bindingMethod, class: .request)
    public static let bindingSuccess = STUNMessageType(method: bindingMethod, class: .successResponse)
    public static let bindingError = STUNMessageType(method: bindingMethod, class: .errorResponse)
    public static let bindingIndication = STUNMessageType(method: bindingMethod, class: .indication)

    public var method: UInt16
    public var `class`: STUNClass

    public init(method: UInt16, class: STUNClass) {
        self.method = method & 0xFFF
        self.class = `class`
    }

    public init(wire t: UInt16) {
        method = (t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80)
        `class` = STUNClass(rawValue: ((t >> 4) & 1) | ((t >> 7) & 2))!
    }

    public var wire: UInt16 {
        let c = `class`.rawValue
        return (method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }
}

/// The 96-bit transaction ID (RFC 8489 §5).
public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt32
    public var low: UInt64

    public init(high: UInt32, low: UInt64) { self.high = high; self.low = low }

    /// A random transaction ID (the RFC asks for a cryptographically random one).
    public static func random() -> STUNTransactionID {
        var generator = SystemRandomNumberGenerator()
        return STUNTransactionID(high: generator.next(), low: generator.next())
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.append32(high)
        out.append64(low)
        return out
    }

    public var description: String { bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined() }
}

/// Attribute types used by ICE (RFC 8489 §18.3, RFC 8445 §16.1).
public enum STUNAttributeType {
    public static let mappedAddress: UInt16 = 0x0001
    public static let username: UInt16 = 0x0006
    public static let messageIntegrity: UInt16 = 0x0008
    public static let errorCode: UInt16 = 0x0009
    public static let unknownAttributes: UInt16 = 0x000A
    public static let realm: UInt16 = 0x0014
    public static let nonce: UInt16 = 0x0015
    public static let messageIntegritySHA256: UInt16 = 0x001C
    public static let xorMappedAddress: UInt16 = 0x0020
    public static let priority: UInt16 = 0x0024
    public static let useCandidate: UInt16 = 0x0025
    public static let software: UInt16 = 0x8022
    public static let fingerprint: UInt16 = 0x8028
    public static let iceControlled: UInt16 = 0x8029
    public static let iceControlling: UInt16 = 0x802A
}

/// An IP address and port, as carried in (XOR-)MAPPED-ADDRESS and as ICE pairs are keyed.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let address: [UInt8]
    public let port: UInt16

    public init?(address: [UInt8], port: UInt16) {
        guard address.count == 4 || address.count == 16 else { return nil }
        self.address = address
        self.port = port
    }

    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) -> TransportAddress {
        TransportAddress(address: [a, b, c, d], port: port)!
    }

    public var isIPv4: Bool { address.count == 4 }

    public var description: String {
        if isIPv4 { return address.map(String.init).joined(separator: ".") + ":\(port)" }
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
        return "[" + groups.joined(separator: ":") + "]:\(port)"
    }
}

/// A parsed STUN message (RFC 8489 §5). Holds its own copy of the datagram (STUN is rare next
/// to media), and the location of each attribute.
public struct STUNMessage: Sendable, Equatable {
    public static let magicCookie: UInt32 = 0x2112_A442
    public static let headerLength = 20
    /// XORed into the CRC-32 to form FINGERPRINT (RFC 8489 §14.7).
    public static let fingerprintXOR: UInt32 = 0x5354_554E

    public struct Attribute: Sendable, Equatable {
        public var type: UInt16
        /// Range of the value (without padding) in ``STUNMessage/bytes``.
        public var value: Range<Int>
    }

    public let bytes: [UInt8]
    public let type: STUNMessageType
    public let transactionID: STUNTransactionID
    public let attributes: [Attribute]

    /// Whether the datagram could be STUN at all (RFC 7983 §7: first byte 0...3), before parsing.
    public static func looksLikeSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerLength && bytes[0] < 4 && bytes.u32(4) == magicCookie
    }

    /// Parses a STUN message that fills `bytes`, checking FINGERPRINT if present.
    public static func parse(_ bytes: [UInt8]) throws(STUNError) -> STUNMessage {
        let (type, transactionID, attributes) = try withBytes(bytes) { (raw) throws(STUNError) in try parseFields(raw) }
        return STUNMessage(bytes: bytes, type: type, transactionID: transactionID, attributes: attributes)
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(STUNError) -> STUNMessage {
        try parse(Array(bytes))
    }

    private init(bytes: [UInt8], type: STUNMessageType, transactionID: STUNTransactionID, attributes: [Attribute]) {
        self.bytes = bytes
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    private static func parseFields(_ b: UnsafeRawBufferPointer) throws(STUNError) -> (STUNMessageType, STUNTransactionID, [Attribute]) {
        guard b.count >= headerLength else { throw .truncated(needed: headerLength, available: b.count) }
        guard b[0] & 0xC0 == 0 else { throw .notSTUN }
        let cookie = b.u32(4)
        guard cookie == magicCookie else { throw .badMagicCookie(cookie) }
        let length = Int(b.u16(2))
        guard length % 4 == 0, headerLength + length == b.count else {
            throw .lengthMismatch(declared: length, actual: b.count - headerLength)
        }
        var attributes: [Attribute] = []
        var o = headerLength
        var fingerprintAt: Int?
        while o < b.count {
            guard fingerprintAt == nil else { throw .badFingerprint }  // FINGERPRINT must be last
            guard o + 4 <= b.count else { throw .malformedAttribute(offset: o) }
            let type = b.u16(o)
            let valueLength = Int(b.u16(o + 2))
            let padded = (valueLength + 3) & ~3
            guard o + 4 + padded <= b.count else { throw .malformedAttribute(offset: o) }
            if type == STUNAttributeType.fingerprint { fingerprintAt = o }
            attributes.append(Attribute(type: type, value: (o + 4)..<(o + 4 + valueLength)))
            o += 4 + padded
        }
        if let at = fingerprintAt {
            guard b.u16(at + 2) == 4 else { throw .invalidAttribute(type: STUNAttributeType.fingerprint) }
            guard computeFingerprint(b, upTo: at) == b.u32(at + 4) else { throw .badFingerprint }
        }
        let transactionID = STUNTransactionID(high: b.u32(8), low: b.u64(12))
        return (STUNMessageType(wire: b.u16(0)), transactionID, attributes)
    }

    /// CRC-32 of the message up to `offset`, with the length field covering an 8-byte FINGERPRINT there.
    static func computeFingerprint(_ b: UnsafeRawBufferPointer, upTo offset: Int) -> UInt32 {
        var header = [UInt8](b[0..<4])
        header.set16(UInt16(offset + 8 - headerLength), at: 2)
        var crc = header.withUnsafeBytes { CRC32.update(0, $0) }
        crc = CRC32.update(crc, UnsafeRawBufferPointer(rebasing: b[4..<offset]))
        return crc ^ fingerprintXOR
    }

    // MARK: Attribute access

    /// The first attribute of `type` before MESSAGE-INTEGRITY (later ones are ignored,
    /// RFC 8489 §14.5, except FINGERPRINT).
    public func attribute(_ type: UInt16) -> Attribute? {
        for attribute in attributes {
            if attribute.type == type { return attribute }
            if attribute.type == STUNAttributeType.messageIntegrity && type != STUNAttributeType.fingerprint { return nil }
        }
        return nil
    }

    public func value(_ type: UInt16) -> ArraySlice<UInt8>? {
        attribute(type).map { bytes[$0.value] }
    }

    public var username: String? {
        value(STUNAttributeType.username).map { String(decoding: $0, as: UTF8.self) }
    }

    public var priority: UInt32? {
        guard let v = value(STUNAttributeType.priority), v.count == 4 else { return nil }
        return v.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var useCandidate: Bool { attribute(STUNAttributeType.useCandidate) != nil }

    /// The tie-breaker of ICE-CONTROLLING (RFC 8445 §16.1), if present.
    public var iceControlling: UInt64? { tieBreaker(STUNAttributeType.iceControlling) }
    public var iceControlled: UInt64? { tieBreaker(STUNAttributeType.iceControlled) }

    private func tieBreaker(_ type: UInt16) -> UInt64? {
        guard let v = value(type), v.count == 8 else { return nil }
        return v.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var hasMessageIntegrity: Bool { attribute(STUNAttributeType.messageIntegrity) != nil }
    public var hasFingerprint: Bool { attributes.last?.type == STUNAttributeType.fingerprint }

    /// The XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    public func xorMappedAddress() throws(STUNError) -> TransportAddress? {
        guard let v = value(STUNAttributeType.xorMappedAddress) else { return nil }
        let a = Array(v)
        guard a.count >= 4 else { throw .invalidAttribute(type: STUNAttributeType.xorMappedAddress) }
        let port = (UInt16(a[2]) << 8 | UInt16(a[3])) ^ UInt16(Self.magicCookie >> 16)
        let mask = Array(bytes[4..<20])  // magic cookie then transaction ID
        switch (a[1], a.count) {
        case (1, 8): return TransportAddress(address: (0..<4).map { a[4 + $0] ^ mask[$0] }, port: port)
        case (2, 20): return TransportAddress(address: (0..<16).map { a[4 + $0] ^ mask[$0] }, port: port)
        default: throw .invalidAttribute(type: STUNAttributeType.xorMappedAddress)
        }
    }

    /// The ERROR-CODE (RFC 8489 §14.8).
    public func errorCode() throws(STUNError) -> (code: Int, reason: String)? {
        guard let v = value(STUNAttributeType.errorCode) else { return nil }
        let a = Array(v)
        guard a.count >= 4, (3...6).contains(a[2] & 0x7), a[3] < 100 else { throw .invalidAttribute(type: STUNAttributeType.errorCode) }
        return (Int(a[2] & 0x7) * 100 + Int(a[3]), String(decoding: a[4...], as: UTF8.self))
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with the short-term credential `key`
    /// (for ICE, the password of the agent receiving the request, RFC 8445 §7.2.2).
    /// Returns false when the attribute is missing or wrong.
    public func validateMessageIntegrity(key: [UInt8]) throws(OpenSSLError) -> Bool {
        guard let attribute = attribute(STUNAttributeType.messageIntegrity), attribute.value.count == 20 else { return false }
        let start = attribute.value.lowerBound - 4
        var covered = Array(bytes[0..<start])
        covered.set16(UInt16(start + 24 - Self.headerLength), at: 2)
        let mac = try HMAC.authenticate(covered, key: key, algorithm: .sha1)
        var difference: UInt8 = 0
        for (x, y) in zip(mac, bytes[attribute.value]) { difference |= x ^ y }
        return difference == 0
    }
}
