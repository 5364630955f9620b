/// The kinds of data a meeting produces, each with its own residency rule (DESIGN.md vocabulary).
public enum DataCategory: String, CaseIterable, Hashable, Sendable, Codable, Comparable {
    /// RTP in transit through a node.
    case media
    /// Room state and participant sessions.
    case signaling
    /// Node-to-node media links.
    case relay
    /// Stored: operational logs that mention the meeting.
    case logs
    /// Stored: recordings (off unless the tenant enables them and the meeting consents).
    case recordings
    /// Stored: the transparency records of the meeting.
    case transparency

    /// Categories that are stored artifacts and so have a retention.
    public var isStored: Bool { self == .logs || self == .recordings || self == .transparency }

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// How long a stored artifact may be kept, in whole seconds.
public struct Retention: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static func days(_ d: Int64) -> Retention { .init(seconds: d * 86_400) }
    public static func hours(_ h: Int64) -> Retention { .init(seconds: h * 3_600) }

    public static func < (a: Self, b: Self) -> Bool { a.seconds < b.seconds }

    /// Shortest human form: `30d`, `12h`, `90m`, `45s`.
    public var description: String {
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    /// Parses `30d`, `12h`, `90m`, `2w`, `45s`, or ISO 8601 `P30D`, `PT12H`, `P2W`, `P1DT6H`.
    /// nil for anything else (months and years are ambiguous and rejected).
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let last = t.last, let unit = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800][String(last)] {
            guard let n = Int64(t.dropLast()), n >= 0, n <= Int64.max / Int64(unit) else { return nil }
            self.init(seconds: n * Int64(unit))
            return
        }
        guard t.hasPrefix("P"), t.count > 1 else { return nil }
        var total: Int64 = 0, number = "", inTime = false, sawAny = false, sawTimePart = false
        for ch in t.dropFirst() {
            if ch.isASCII, ch.isNumber { number.append(ch); continue }
            if ch == "T" { guard number.isEmpty, !inTime else { return nil }; inTime = true; continue }
            if inTime { sawTimePart = true }
            guard let n = Int64(number) else { return nil }
            let unit: Int64
            switch (ch, inTime) {
            case ("W", false): unit = 604_800
            case ("D", false): unit = 86_400
            case ("H", true): unit = 3_600
            case ("M", true): unit = 60
            case ("S", true): unit = 1
            default: return nil
            }
            guard n <= (Int64.max - total) / unit else { return nil }
            total += n * unit
            number = ""
            sawAny = true
        }
        guard number.isEmpty, sawAny, !inTime || sawTimePart else { return nil }
        self.init(seconds: total)
    }
}

/// End-to-end encryption requirement for a tenant's meetings.
public enum E2EEMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Every publisher must encrypt media end to end (SFrame); the default.
    case required
    /// Encrypt when every client can; otherwise allow unencrypted media.
    case preferred
    /// No end-to-end encryption (transport encryption only).
    case off
}

/// Whether recordings are made at all.
public enum RecordingMode: String, Hashable, Sendable, Codable {
    case disabled, enabled
}

/// Whether identities outside the allowed domains may join.
public enum GuestAccess: String, Hashable, Sendable, Codable {
    case deny, allow
}

/// Where one category of data may be, and for how long if stored.
public struct CategoryRule: Hashable, Sendable {
    /// The jurisdictions allowed, fully expanded (`allow` minus `deny`).
    public var allowed: Set<CountryCode>
    /// The names as the tenant wrote them, for explanations (`EU`, `CH`).
    public var allowExpression: [String]
    public var denyExpression: [String]
    /// Set for stored categories; nil otherwise.
    public var retention: Retention?

    public init(allowed: Set<CountryCode>, allowExpression: [String], denyExpression: [String] = [], retention: Retention? = nil) {
        self.allowed = allowed
        self.allowExpression = allowExpression
        self.denyExpression = denyExpression
        self.retention = retention
    }

    public func allows(_ code: CountryCode) -> Bool { allowed.contains(code) }
}

/// Who may join: identity domains (from the token's identity, `user@domain`).
public struct ParticipantRules: Hashable, Sendable {
    /// Exact domains (`example.com`) or wildcard subdomains (`*.example.com`). Empty: any domain.
    public var domains: [String]
    public var guests: GuestAccess

    public init(domains: [String] = [], guests: GuestAccess = .deny) {
        self.domains = domains
        self.guests = guests
    }

    /// True when an identity such as `ana@eu.example.com` may join.
    /// Matching is case-insensitive; `*.example.com` matches subdomains, not `example.com` itself.
    public func admits(identity: String, isGuest: Bool = false) -> Bool {
        if isGuest { return guests == .allow }
        if domains.isEmpty { return true }
        guard let at = identity.lastIndex(of: "@") else { return false }
        let domain = identity[identity.index(after: at)...].lowercased()
        guard !domain.isEmpty else { return false }
        return domains.contains { rule in
            let rule = rule.lowercased()
            if rule.hasPrefix("*.") { return domain.hasSuffix(String(rule.dropFirst(1))) }
            return domain == rule
        }
    }
}

/// A tenant's residency policy: for each data category the jurisdictions allowed,
/// retention for stored artifacts, the E2EE requirement, and who may join. Versioned.
///
/// Defaults are privacy-protective: recordings disabled, E2EE required, the
/// shortest retention per stored category (`ResidencyPolicy.defaultRetention`).
public struct ResidencyPolicy: Hashable, Sendable {
    public var tenant: String
    public var version: Int
    public var description: String
    public var rules: [DataCategory: CategoryRule]
    public var recordings: RecordingMode
    public var e2ee: E2EEMode
    public var participants: ParticipantRules

    public init(tenant: String, version: Int, description: String = "", rules: [DataCategory: CategoryRule],
                recordings: RecordingMode = .disabled, e2ee: E2EEMode = .required, participants: ParticipantRules = .init()) {
        self.tenant = tenant
        self.version = version
        self.description = description
        self.rules = rules
        self.recordings = recordings
        self.e2ee = e2ee
        self.participants = participants
    }

    /// Retention used when a stored category gives none: deliberately short.
    public static let defaultRetention: [DataCategory: Retention] = [
        .logs: .days(7), .recordings: .days(1), .transparency: .days(30),
    ]
    /// Retention longer than this is refused (ten years).
    public static let maximumRetention = Retention.days(3_653)

    /// The rule for `category`; a missing rule allows nothing (fail closed).
    public func rule(_ category: DataCategory) -> CategoryRule {
        rules[category] ?? CategoryRule(allowed: [], allowExpression: [])
    }

    public func allows(_ category: DataCategory, in code: CountryCode) -> Bool {
        rule(category).allows(code)
    }

    /// A deterministic text form (sorted keys, expanded sets) whose digest identifies
    /// exactly what was enforced; the transparency log records that digest.
    public var canonicalText: String {
        var lines = ["demarc-policy-v1", "tenant=\(tenant)", "version=\(version)", "e2ee=\(e2ee.rawValue)",
                     "recordings=\(recordings.rawValue)", "guests=\(participants.guests.rawValue)",
                     "domains=\(participants.domains.map { $0.lowercased() }.sorted().joined(separator: ","))"]
        for c in DataCategory.allCases {
            let r = rule(c)
            lines.append("\(c.rawValue).allow=\(r.allowed.sorted().map(\.rawValue).joined(separator: ","))")
            if let ret = r.retention { lines.append("\(c.rawValue).retention=\(ret.seconds)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
