public import SodiumWrapper

/// One direction of a relay link on the wire: RTP and RTCP of the meeting's tracks, sealed
/// with XChaCha20-Poly1305 under the direction's key.
///
///     0xD1 ‖ link id (8) ‖ sequence (u64, big-endian) ‖ ciphertext ‖ tag (16)
///     plaintext = kind (1 = RTP, 2 = RTCP, 3 = control, 4 = control fragment) ‖ packet
///     nonce = 0x00 × 16 ‖ sequence;  associated data = the 17-byte header
///
/// The first byte 0xD1 lies in RFC 7983's unassigned range (192–255), so relay datagrams
/// share a node's media port with STUN, DTLS and SRTP without being mistaken for them. A
/// sequence number is never reused under a key (the sender refuses to wrap), which is what
/// the deterministic nonce needs; the receiver keeps a 1,024-packet replay window.
public enum RelayPacket {
    public static let version: UInt8 = 0xD1
    public static let headerLength = 17
    public static let maximumPayload = 1_500
    public static let overhead = headerLength + 1 + XChaCha20Poly1305.tagLength

    /// 3 carries the media shell's control messages (roster, tracks, keys; docs/relay.md);
    /// 4 one fragment of a control message too large for one datagram (`RelayControlFragment`).
    public enum Kind: UInt8, Sendable { case rtp = 1, rtcp = 2, control = 3, controlFragment = 4 }

    /// Whether a datagram on the media port is a relay datagram (cheap demultiplexing).
    @inlinable public static func isRelay(_ firstByte: UInt8) -> Bool { firstByte == version }
}

/// The sending half of a link: seals packets with increasing sequence numbers.
public struct RelaySealer: Sendable {
    public let linkID: UInt64
    let key: XChaCha20Poly1305.Key
    public private(set) var nextSequence: UInt64 = 0

    public init(linkID: UInt64, key: XChaCha20Poly1305.Key) {
        self.linkID = linkID
        self.key = key
    }

    public mutating func seal(_ packet: [UInt8], kind: RelayPacket.Kind) throws(RelayError) -> [UInt8] {
        guard packet.count <= RelayPacket.maximumPayload else { throw .tooLarge(packet.count) }
        guard nextSequence < UInt64.max else { throw .sequenceExhausted }
        let sequence = nextSequence
        nextSequence += 1
        let header = RelayHeader(linkID: linkID, sequence: sequence).bytes
        let sealed = XChaCha20Poly1305.seal([kind.rawValue] + packet, key: key, nonce: RelayHeader.nonce(sequence), associatedData: header)
        // `seal` returns nonce ‖ ciphertext ‖ tag; the nonce is implied by the sequence.
        return header + sealed.dropFirst(XChaCha20Poly1305.nonceLength)
    }
}

/// The receiving half of a link: authenticates, rejects replays, returns the packet.
public struct RelayOpener: Sendable {
    public let linkID: UInt64
    let key: XChaCha20Poly1305.Key
    var window = RelayReplayWindow()

    public init(linkID: UInt64, key: XChaCha20Poly1305.Key) {
        self.linkID = linkID
        self.key = key
    }

    public mutating func open(_ datagram: [UInt8]) throws(RelayError) -> (kind: RelayPacket.Kind, packet: [UInt8]) {
        let header = try RelayHeader(parsing: datagram)
        guard header.linkID == linkID else { throw .wrongLink }
        try window.check(header.sequence)
        let box = RelayHeader.nonce(header.sequence) + datagram.dropFirst(RelayPacket.headerLength)
        let plain: [UInt8]
        do { plain = try XChaCha20Poly1305.open(box, key: key, associatedData: Array(datagram.prefix(RelayPacket.headerLength))) } catch {
            throw .authenticationFailed
        }
        // Only an authenticated packet moves the window (RFC 3711 §3.3.2's order).
        window.accept(header.sequence)
        guard let first = plain.first, let kind = RelayPacket.Kind(rawValue: first) else {
            throw .unknownPayloadKind(plain.first ?? 0)
        }
        return (kind, Array(plain.dropFirst()))
    }
}

/// The 17-byte clear header.
public struct RelayHeader: Equatable, Sendable {
    public var linkID: UInt64
    public var sequence: UInt64

    public init(linkID: UInt64, sequence: UInt64) {
        self.linkID = linkID
        self.sequence = sequence
    }

    public init(parsing d: [UInt8]) throws(RelayError) {
        guard d.count >= RelayPacket.headerLength + 1 + XChaCha20Poly1305.tagLength else { throw .tooShort(d.count) }
        guard d[0] == RelayPacket.version else { throw .unknownVersion(d[0]) }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(d[at + $1]) } }
        linkID = u64(1)
        sequence = u64(9)
    }

    var bytes: [UInt8] {
        [RelayPacket.version] + (0..<8).map { UInt8(truncatingIfNeeded: linkID >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) }
    }

    static func nonce(_ sequence: UInt64) -> [UInt8] {
        [UInt8](repeating: 0, count: 16) + (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) }
    }
}

/// A 1,024-packet sliding replay window (RFC 4303 §3.4.3 style), 16 words of bitmap.
struct RelayReplayWindow: Sendable, Equatable {
    static let size: UInt64 = 1_024
    private(set) var highest: UInt64?
    private var bits = [UInt64](repeating: 0, count: Int(size / 64))

    func check(_ s: UInt64) throws(RelayError) {
        guard let highest else { return }
        if s > highest { return }
        let age = highest - s
        guard age < Self.size else { throw .tooOld(sequence: s) }
        if bit(s) { throw .replayed(sequence: s) }
    }

    mutating func accept(_ s: UInt64) {
        if let h = highest, s <= h {
            set(s)
            return
        }
        let start = highest.map { $0 + 1 } ?? s
        // Clear the slots the window slides over (at most the whole window).
        if s - start >= Self.size { bits = bits.map { _ in 0 } } else {
            var i = start
            while i < s { clear(i); i += 1 }
        }
        highest = s
        set(s)
    }

    private func bit(_ s: UInt64) -> Bool { bits[Int((s % Self.size) / 64)] & (1 << (s % 64)) != 0 }
    private mutating func set(_ s: UInt64) { bits[Int((s % Self.size) / 64)] |= 1 << (s % 64) }
    private mutating func clear(_ s: UInt64) { bits[Int((s % Self.size) / 64)] &= ~(1 << (s % 64)) }
}
