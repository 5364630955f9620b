import Residency

/// The canonical, versioned byte encoding of `LogEntry` (format version 1).
///
/// Layout, all integers big-endian:
///
///     u8 version (=1) | u8 event kind | u64 timestamp ms | 32 meeting commitment | payload
///
/// Identifiers are `u8 length ‖ bytes` restricted to 1…64 characters of
/// `[A-Za-z0-9._:-]`, so no name, e-mail or IP-with-spaces can slip into the log by
/// mistake; country codes are 2 capital letters; booleans are exactly 0 or 1; sets are
/// written sorted with no duplicates. The decoder enforces every one of these rules and
/// rejects trailing bytes, so each entry has exactly one encoding and `encode(decode(b))
/// == b` for every accepted `b` — the leaf hash commits to the meaning, not to a choice
/// of serialisation.
public enum LogEntryCodec {
    public static let version: UInt8 = 1
    static let maxIdentifierLength = 64
    static let maxListCount = 255

    // MARK: Encoding

    public static func encode(_ entry: LogEntry) throws(LogEntryEncodingError) -> [UInt8] {
        var w = Writer()
        w.u8(version)
        w.u8(entry.event.kind.rawValue)
        w.u64(entry.timestamp.millisecondsSinceEpoch)
        w.bytes(entry.meeting.bytes)
        switch entry.event {
        case let .policyApplied(p):
            guard p.digest.count == 32 else { throw .invalidField("policy digest must be 32 bytes") }
            w.u64(p.version)
            w.bytes(p.digest)
            w.u8(p.e2ee.rawValue)
            let categories = p.allowed.keys.sorted()
            w.u8(UInt8(categories.count))
            for c in categories {
                let codes = p.allowed[c]!.sorted()
                guard codes.count <= maxListCount else { throw .invalidField("too many jurisdictions for \(c)") }
                w.u8(c.rawValue)
                w.u8(UInt8(codes.count))
                for code in codes { w.bytes(Array(code.rawValue.utf8)) }
            }
            let kinds = p.retentionSeconds.keys.sorted()
            w.u8(UInt8(kinds.count))
            for k in kinds {
                w.u8(k.rawValue)
                w.u64(p.retentionSeconds[k]!)
            }
        case let .placementDecided(policyVersion, home, edges):
            guard edges.count <= maxListCount else { throw .invalidField("too many edge nodes") }
            w.u64(policyVersion)
            try w.location(home)
            w.u8(UInt8(edges.count))
            for e in edges { try w.location(e) }
        case let .participantJoined(participant, at), let .participantLeft(participant, at):
            w.bytes(participant.bytes)
            try w.location(at)
        case let .mediaProcessed(at, e2ee):
            try w.location(at)
            w.u8(e2ee ? 1 : 0)
        case let .relayLinkOpened(from, to), let .relayLinkClosed(from, to):
            try w.location(from)
            try w.location(to)
        case let .artifactStored(artifact, kind, at, retainUntil):
            w.bytes(artifact.bytes)
            w.u8(kind.rawValue)
            try w.location(at)
            w.u64(retainUntil.millisecondsSinceEpoch)
        case let .artifactDeleted(artifact, kind, at, reason):
            w.bytes(artifact.bytes)
            w.u8(kind.rawValue)
            try w.location(at)
            w.u8(reason.rawValue)
        case let .nodeRefused(at, reason):
            try w.location(at)
            w.u8(reason.rawValue)
        }
        return w.out
    }

    // MARK: Decoding

    /// Decodes canonical bytes. Never traps; every malformed input is a typed error.
    public static func decode(_ bytes: [UInt8]) throws(LogEntryDecodingError) -> LogEntry {
        var r = Reader(bytes: bytes)
        guard !bytes.isEmpty else { throw .empty }
        let v = try r.u8("version")
        guard v == version else { throw .unsupportedVersion(v) }
        let kindByte = try r.u8("event kind")
        guard let kind = LogEventKind(rawValue: kindByte) else { throw .unknownEventKind(kindByte) }
        let timestamp = LogTimestamp(millisecondsSinceEpoch: try r.u64("timestamp"))
        let meeting = try r.commitment("meeting")
        let event: LogEvent
        switch kind {
        case .policyApplied:
            let version = try r.u64("policy version")
            let digest = try r.take(32, "policy digest")
            let e2ee = try r.enumValue(E2EERequirement.self, "e2ee requirement")
            var allowed: [DataCategory: Set<CountryCode>] = [:]
            let categoryCount = try r.u8("category count")
            var lastCategory: UInt8 = 0
            for _ in 0..<categoryCount {
                let offset = r.offset
                let c = try r.enumValue(DataCategory.self, "category")
                guard c.rawValue > lastCategory else { throw .nonCanonical(field: "category order", offset: offset) }
                lastCategory = c.rawValue
                let n = try r.u8("jurisdiction count")
                guard n > 0 else { throw .nonCanonical(field: "empty jurisdiction list", offset: offset) }
                var codes: [CountryCode] = []
                for _ in 0..<n {
                    let o = r.offset
                    let code = try r.country("jurisdiction")
                    if let last = codes.last, !(last < code) { throw .nonCanonical(field: "jurisdiction order", offset: o) }
                    codes.append(code)
                }
                allowed[c] = Set(codes)
            }
            var retention: [ArtifactKind: UInt64] = [:]
            let kindCount = try r.u8("retention count")
            var lastKind: UInt8 = 0
            for _ in 0..<kindCount {
                let offset = r.offset
                let k = try r.enumValue(ArtifactKind.self, "artifact kind")
                guard k.rawValue > lastKind else { throw .nonCanonical(field: "retention order", offset: offset) }
                lastKind = k.rawValue
                retention[k] = try r.u64("retention seconds")
            }
            event = .policyApplied(PolicySnapshot(version: version, digest: digest, e2ee: e2ee, allowed: allowed, retentionSeconds: retention))
        case .placementDecided:
            let policyVersion = try r.u64("policy version")
            let home = try r.location("home")
            let n = try r.u8("edge count")
            var edges: [NodeLocation] = []
            for _ in 0..<n { edges.append(try r.location("edge")) }
            event = .placementDecided(policyVersion: policyVersion, home: home, edges: edges)
        case .participantJoined:
            event = .participantJoined(participant: try r.commitment("participant"), at: try r.location("node"))
        case .participantLeft:
            event = .participantLeft(participant: try r.commitment("participant"), at: try r.location("node"))
        case .mediaProcessed:
            let at = try r.location("node")
            event = .mediaProcessed(at: at, endToEndEncrypted: try r.bool("e2ee"))
        case .relayLinkOpened:
            event = .relayLinkOpened(from: try r.location("from"), to: try r.location("to"))
        case .relayLinkClosed:
            event = .relayLinkClosed(from: try r.location("from"), to: try r.location("to"))
        case .artifactStored:
            let artifact = try r.commitment("artifact")
            let k = try r.enumValue(ArtifactKind.self, "artifact kind")
            let at = try r.location("node")
            let until = LogTimestamp(millisecondsSinceEpoch: try r.u64("retain until"))
            event = .artifactStored(artifact: artifact, kind: k, at: at, retainUntil: until)
        case .artifactDeleted:
            let artifact = try r.commitment("artifact")
            let k = try r.enumValue(ArtifactKind.self, "artifact kind")
            let at = try r.location("node")
            event = .artifactDeleted(artifact: artifact, kind: k, at: at, reason: try r.enumValue(DeletionReason.self, "deletion reason"))
        case .nodeRefused:
            let at = try r.location("node")
            event = .nodeRefused(at: at, reason: try r.enumValue(RefusalReason.self, "refusal reason"))
        }
        guard r.offset == bytes.count else { throw .trailingBytes(offset: r.offset, count: bytes.count - r.offset) }
        return LogEntry(meeting: meeting, timestamp: timestamp, event: event)
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: "-"), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    private struct Writer {
        var out: [UInt8] = []
        init() { out.reserveCapacity(128) }
        mutating func u8(_ v: UInt8) { out.append(v) }
        mutating func u64(_ v: UInt64) {
            var be = v.bigEndian
            withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
        }
        mutating func bytes(_ b: [UInt8]) { out.append(contentsOf: b) }
        mutating func identifier(_ s: String, _ field: String) throws(LogEntryEncodingError) {
            let u = Array(s.utf8)
            guard (1...LogEntryCodec.maxIdentifierLength).contains(u.count), u.allSatisfy(LogEntryCodec.isIdentifierByte) else {
                throw .invalidField("\(field) '\(s.prefix(80))' must be 1…64 characters of A-Z a-z 0-9 . _ - :")
            }
            out.append(UInt8(u.count))
            out.append(contentsOf: u)
        }
        mutating func location(_ l: NodeLocation) throws(LogEntryEncodingError) {
            try identifier(l.node.rawValue, "node id")
            try identifier(l.region.rawValue, "region id")
            bytes(Array(l.jurisdiction.rawValue.utf8))
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ n: Int, _ field: String) throws(LogEntryDecodingError) -> [UInt8] {
            guard n >= 0, bytes.count - offset >= n else { throw .truncated(field: field, offset: offset) }
            defer { offset += n }
            return Array(bytes[offset..<offset + n])
        }
        mutating func u8(_ field: String) throws(LogEntryDecodingError) -> UInt8 {
            guard offset < bytes.count else { throw .truncated(field: field, offset: offset) }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func u64(_ field: String) throws(LogEntryDecodingError) -> UInt64 {
            var v: UInt64 = 0
            for b in try take(8, field) { v = v << 8 | UInt64(b) }
            return v
        }
        mutating func bool(_ field: String) throws(LogEntryDecodingError) -> Bool {
            let o = offset
            switch try u8(field) {
            case 0: return false
            case 1: return true
            default: throw .invalidValue(field: field, offset: o)
            }
        }
        mutating func enumValue<E: RawRepresentable>(_: E.Type, _ field: String) throws(LogEntryDecodingError) -> E where E.RawValue == UInt8 {
            let o = offset
            guard let v = E(rawValue: try u8(field)) else { throw .invalidValue(field: field, offset: o) }
            return v
        }
        mutating func commitment(_ field: String) throws(LogEntryDecodingError) -> Commitment {
            Commitment(try take(32, field))!
        }
        mutating func identifier(_ field: String) throws(LogEntryDecodingError) -> String {
            let o = offset
            let n = Int(try u8(field))
            guard n >= 1, n <= LogEntryCodec.maxIdentifierLength else { throw .invalidValue(field: field, offset: o) }
            let u = try take(n, field)
            guard u.allSatisfy(LogEntryCodec.isIdentifierByte) else { throw .invalidValue(field: field, offset: o) }
            return String(decoding: u, as: UTF8.self)
        }
        mutating func country(_ field: String) throws(LogEntryDecodingError) -> CountryCode {
            let o = offset
            guard let c = CountryCode(String(decoding: try take(2, field), as: UTF8.self)) else {
                throw .invalidValue(field: field, offset: o)
            }
            return c
        }
        mutating func location(_ field: String) throws(LogEntryDecodingError) -> NodeLocation {
            let node = NodeID(try identifier("\(field) node id"))
            let region = RegionID(try identifier("\(field) region id"))
            return NodeLocation(node: node, region: region, jurisdiction: try country("\(field) jurisdiction"))
        }
    }
}

/// An entry that cannot be encoded (an identifier outside the allowed alphabet, too many items).
public enum LogEntryEncodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidField(String)
    public var description: String {
        switch self {
        case let .invalidField(why): "cannot log this entry: \(why)"
        }
    }
}

/// Why bytes are not a valid canonical log entry. Offsets are byte positions in the input.
public enum LogEntryDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case unsupportedVersion(UInt8)
    case unknownEventKind(UInt8)
    case truncated(field: String, offset: Int)
    case invalidValue(field: String, offset: Int)
    case nonCanonical(field: String, offset: Int)
    case trailingBytes(offset: Int, count: Int)

    public var description: String {
        switch self {
        case .empty: "the entry is empty"
        case let .unsupportedVersion(v): "entry format version \(v) is not supported (this build reads version \(LogEntryCodec.version))"
        case let .unknownEventKind(k): "unknown event kind \(k)"
        case let .truncated(field, offset): "the entry ends at byte \(offset), inside the \(field)"
        case let .invalidValue(field, offset): "invalid \(field) at byte \(offset)"
        case let .nonCanonical(field, offset): "non-canonical encoding (\(field)) at byte \(offset)"
        case let .trailingBytes(offset, count): "\(count) unexpected bytes after the entry at byte \(offset)"
        }
    }
}
