public import ControlPlaneWire
import SodiumWrapper

/// The encrypted envelope around every gossip packet:
///
///     version (1 byte, 0x01) || nonce (24) || XChaCha20-Poly1305(ciphertext || tag 16)
///
/// with associated data `"demarc-gossip" || version`, so a packet sealed for
/// another protocol version or purpose never opens as this one.
public enum PacketEnvelope {
    public static let version: UInt8 = 1
    /// Bytes the envelope adds to the serialized packet.
    public static let overhead = 1 + XChaCha20Poly1305.overhead
    /// A TCP push-pull frame carries at most this many bytes (about 60,000 members' state).
    public static let maximumFrameSize = 32 << 20
    static let associatedData = Array("demarc-gossip".utf8) + [version]
}

/// Seals outgoing and opens incoming packets for one node: keyring, replay
/// protection and drop counters. A value type without I/O; each shell owns one.
///
/// Replay protection (docs/gossip.md): every packet carries, inside the AEAD,
/// the sender's boot epoch, a per-epoch sequence number and its send time.
/// A packet is accepted only if its send time is within `maximumClockSkew` of
/// ours and, per sender, its epoch is not older than the newest seen and its
/// sequence number is new within a sliding window of `replayWindow` numbers.
public struct PacketSecurity: Sendable {
    public var keyring: Keyring
    public let localNodeID: String
    public let epoch: UInt64
    public var maximumClockSkew: Duration = .seconds(60)
    public static let replayWindow = 1_024
    public private(set) var counters = PacketCounters()
    private var nextSequence: UInt64 = 1
    private var windows: [String: ReplayWindow] = [:]

    /// - Parameter epoch: this process's start time in Unix milliseconds (strictly larger after a restart).
    public init(keyring: Keyring, localNodeID: String, epoch: UInt64) {
        self.keyring = keyring
        self.localNodeID = localNodeID
        self.epoch = epoch
    }

    /// Stamps replay fields into `packet`, serializes and seals it with the primary key.
    /// Throws `.tooLarge` (and counts it) rather than send a datagram over `maximumSize`.
    public mutating func seal(_ packet: GossipPacketMessage, nowUnixMilliseconds: Int64, maximumSize: Int) throws(PacketError) -> [UInt8] {
        var packet = packet
        packet.senderEpoch = epoch
        packet.packetSequence = nextSequence
        packet.sentAtUnixMilliseconds = nowUnixMilliseconds
        nextSequence += 1
        let plain: [UInt8]
        do { plain = try packet.serialized() } catch { throw .malformed(error.description) }
        guard plain.count + PacketEnvelope.overhead <= maximumSize else {
            counters.refusedTooLarge += 1
            throw .tooLarge(bytes: plain.count + PacketEnvelope.overhead, limit: maximumSize)
        }
        counters.sealed += 1
        return [PacketEnvelope.version] + XChaCha20Poly1305.seal(plain, key: keyring.entries[0].key, associatedData: PacketEnvelope.associatedData)
    }

    /// Opens, decodes and replay-checks one datagram or frame. Any failure is counted and
    /// thrown; the caller drops the packet. Never traps, whatever the bytes.
    public mutating func open(_ bytes: [UInt8], nowUnixMilliseconds: Int64) throws(PacketError) -> GossipPacketMessage {
        guard bytes.count >= PacketEnvelope.overhead, bytes[0] == PacketEnvelope.version else {
            counters.droppedAuthentication += 1
            throw .authenticationFailed
        }
        let box = Array(bytes[1...])
        var plain: [UInt8]?
        for entry in keyring.entries {
            if let p = try? XChaCha20Poly1305.open(box, key: entry.key, associatedData: PacketEnvelope.associatedData) {
                plain = p
                break
            }
        }
        guard let plain else { counters.droppedAuthentication += 1; throw .authenticationFailed }
        let packet: GossipPacketMessage
        do { packet = try GossipPacketMessage(serialized: plain) } catch {
            counters.droppedMalformed += 1
            throw .malformed(error.description)
        }
        guard packet.protocolVersion == GossipPacketMessage.protocolVersion else {
            counters.droppedMalformed += 1
            throw .unsupportedVersion(packet.protocolVersion)
        }
        let skew = maximumClockSkew.gossipNanoseconds / 1_000_000
        guard abs(packet.sentAtUnixMilliseconds.subtractingReportingOverflow(nowUnixMilliseconds).partialValue) <= skew else {
            counters.droppedStale += 1
            throw .stale(sentAtUnixMilliseconds: packet.sentAtUnixMilliseconds)
        }
        var window = windows[packet.senderNodeID] ?? ReplayWindow(epoch: packet.senderEpoch)
        guard window.accept(epoch: packet.senderEpoch, sequence: packet.packetSequence) else {
            counters.droppedReplay += 1
            throw .replayed(sender: packet.senderNodeID, sequence: packet.packetSequence)
        }
        window.lastSentAt = max(window.lastSentAt, packet.sentAtUnixMilliseconds)
        windows[packet.senderNodeID] = window
        if windows.count > 4_096 { prune(nowUnixMilliseconds: nowUnixMilliseconds) }
        counters.opened += 1
        return packet
    }

    /// Forgets senders whose newest packet is older than the skew window: any replay
    /// of theirs is already rejected as stale.
    private mutating func prune(nowUnixMilliseconds now: Int64) {
        let skew = maximumClockSkew.gossipNanoseconds / 1_000_000
        windows = windows.filter { $0.value.lastSentAt >= now - skew }
    }
}

/// A sliding window over per-sender sequence numbers (as in IPsec, RFC 4303 §3.4.3).
struct ReplayWindow: Sendable {
    var epoch: UInt64
    var highest: UInt64 = 0
    var bits = [UInt64](repeating: 0, count: PacketSecurity.replayWindow / 64)
    var lastSentAt: Int64 = .min

    init(epoch: UInt64) { self.epoch = epoch }

    mutating func accept(epoch e: UInt64, sequence s: UInt64) -> Bool {
        if e < epoch { return false }
        if e > epoch { self = ReplayWindow(epoch: e) }
        guard s > 0 else { return false }
        if s > highest {
            shift(by: s - highest)
            highest = s
            bits[0] |= 1
            return true
        }
        let offset = highest - s
        guard offset < UInt64(PacketSecurity.replayWindow) else { return false }
        let word = Int(offset / 64), bit = UInt64(1) << (offset % 64)
        if bits[word] & bit != 0 { return false }
        bits[word] |= bit
        return true
    }

    /// Bit i means "highest − i was seen"; advancing highest shifts everything up.
    private mutating func shift(by n: UInt64) {
        guard n < UInt64(PacketSecurity.replayWindow) else {
            for i in bits.indices { bits[i] = 0 }
            return
        }
        let words = Int(n / 64), rest = n % 64
        for i in stride(from: bits.count - 1, through: 0, by: -1) {
            let src = i - words
            var v: UInt64 = src >= 0 ? bits[src] << rest : 0
            if rest > 0, src - 1 >= 0 { v |= bits[src - 1] >> (64 - rest) }
            bits[i] = v
        }
    }
}

/// Why a packet was refused. Every case is counted in `PacketCounters`.
public enum PacketError: Error, Equatable, Sendable, CustomStringConvertible {
    case authenticationFailed
    case malformed(String)
    case unsupportedVersion(UInt32)
    case stale(sentAtUnixMilliseconds: Int64)
    case replayed(sender: String, sequence: UInt64)
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .authenticationFailed: "gossip packet failed authentication (wrong cluster key, or tampered)"
        case let .malformed(reason): "gossip packet did not decode: \(reason)"
        case let .unsupportedVersion(v): "gossip protocol version \(v) is not supported (this node speaks 1)"
        case let .stale(t): "gossip packet sent at \(t) ms is outside the accepted clock skew; check NTP"
        case let .replayed(sender, seq): "gossip packet \(seq) from '\(sender)' was already received (replay)"
        case let .tooLarge(bytes, limit): "gossip packet of \(bytes) bytes exceeds the \(limit)-byte limit"
        }
    }
}

/// Packet-level counters, for metrics. Monotonic.
public struct PacketCounters: Sendable, Equatable {
    public var sealed = 0
    public var opened = 0
    public var droppedAuthentication = 0
    public var droppedMalformed = 0
    public var droppedStale = 0
    public var droppedReplay = 0
    public var refusedTooLarge = 0
    public var dropped: Int { droppedAuthentication + droppedMalformed + droppedStale + droppedReplay }
}
