public import OpenSSLWrapper

/// Builds a STUN message attribute by attribute (RFC 8489 §5, §14), keeping the header's
/// length field current so MESSAGE-INTEGRITY and FINGERPRINT can be appended last.
public struct STUNMessageBuilder: Sendable {
    public private(set) var bytes: [UInt8]

    public init(type: STUNMessageType, transactionID: STUNTransactionID) {
        bytes = []
        bytes.reserveCapacity(128)
        bytes.append16(type.wire)
        bytes.append16(0)
        bytes.append32(STUNMessage.magicCookie)
        bytes.append32(transactionID.high)
        bytes.append64(transactionID.low)
    }

    /// Appends a raw attribute, padding its value to 32 bits.
    public mutating func append(type: UInt16, value: some Collection<UInt8>) throws(STUNError) {
        guard value.count <= 0xFFFF - 4, bytes.count + 4 + value.count <= 0xFFFF + STUNMessage.headerLength else {
            throw .unencodable("attribute 0x\(String(type, radix: 16)) makes the message too long")
        }
        bytes.append16(type)
        bytes.append16(UInt16(value.count))
        bytes.append(contentsOf: value)
        bytes.padToWord()
        bytes.set16(UInt16(bytes.count - STUNMessage.headerLength), at: 2)
    }

    /// USERNAME (RFC 8489 §14.3): at most 509 bytes of UTF-8.
    public mutating func appendUsername(_ username: String) throws(STUNError) {
        let value = Array(username.utf8)
        guard value.count <= 509 else { throw .unencodable("USERNAME longer than 509 bytes") }
        try append(type: STUNAttributeType.username, value: value)
    }

    public mutating func appendPriority(_ priority: UInt32) throws(STUNError) {
        var value: [UInt8] = []
        value.append32(priority)
        try append(type: STUNAttributeType.priority, value: value)
    }

    public mutating func appendUseCandidate() throws(STUNError) {
        try append(type: STUNAttributeType.useCandidate, value: [])
    }

    public mutating func appendICEControlling(_ tieBreaker: UInt64) throws(STUNError) {
        var value: [UInt8] = []
        value.append64(tieBreaker)
        try append(type: STUNAttributeType.iceControlling, value: value)
    }

    public mutating func appendICEControlled(_ tieBreaker: UInt64) throws(STUNError) {
        var value: [UInt8] = []
        value.append64(tieBreaker)
        try append(type: STUNAttributeType.iceControlled, value: value)
    }

    public mutating func appendSoftware(_ software: String) throws(STUNError) {
        try append(type: STUNAttributeType.software, value: Array(software.utf8.prefix(763)))
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    public mutating func appendXORMappedAddress(_ address: TransportAddress) throws(STUNError) {
        let mask = Array(bytes[4..<20])
        var value: [UInt8] = [0, address.isIPv4 ? 1 : 2]
        value.append16(address.port ^ UInt16(STUNMessage.magicCookie >> 16))
        for (i, byte) in address.address.enumerated() { value.append(byte ^ mask[i]) }
        try append(type: STUNAttributeType.xorMappedAddress, value: value)
    }

    /// ERROR-CODE (RFC 8489 §14.8): `code` in 300...699.
    public mutating func appendErrorCode(_ code: Int, reason: String) throws(STUNError) {
        guard (300...699).contains(code) else { throw .unencodable("error code \(code) outside 300...699") }
        var value: [UInt8] = [0, 0, UInt8(code / 100), UInt8(code % 100)]
        value.append(contentsOf: reason.utf8.prefix(763))
        try append(type: STUNAttributeType.errorCode, value: value)
    }

    /// MESSAGE-INTEGRITY (RFC 8489 §14.5): HMAC-SHA1 over the message so far, with the length
    /// field already counting this attribute.
    public mutating func appendMessageIntegrity(key: [UInt8]) throws(OpenSSLError) {
        bytes.set16(UInt16(bytes.count + 24 - STUNMessage.headerLength), at: 2)
        let mac = try HMAC.authenticate(bytes, key: key, algorithm: .sha1)
        bytes.append16(STUNAttributeType.messageIntegrity)
        bytes.append16(20)
        bytes.append(contentsOf: mac)
    }

    /// FINGERPRINT (RFC 8489 §14.7); must be the last attribute.
    public mutating func appendFingerprint() {
        let offset = bytes.count
        let crc = bytes.withUnsafeBytes { STUNMessage.computeFingerprint($0, upTo: offset) }
        bytes.append16(STUNAttributeType.fingerprint)
        bytes.append16(4)
        bytes.append32(crc)
        bytes.set16(UInt16(bytes.count - STUNMessage.headerLength), at: 2)
    }
}
