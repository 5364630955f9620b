import Yams

/// Reads a residency policy from YAML or JSON and validates it against a
/// jurisdiction catalog, reporting every problem with its line and a fix.
///
/// The format is documented in docs/policy-reference.md. Parsing never traps:
/// any input ends in a policy, or in `ConfigError` listing what is wrong.
public struct PolicyParser: Sendable {
    public let catalog: JurisdictionCatalog

    public init(catalog: JurisdictionCatalog) { self.catalog = catalog }

    /// The outcome: a policy when there are no errors, and all problems (warnings included).
    public struct Result: Sendable {
        public var policy: ResidencyPolicy?
        public var problems: [ConfigProblem]
        public var errors: [ConfigProblem] { problems.filter { $0.severity == .error } }
        public var warnings: [ConfigProblem] { problems.filter { $0.severity == .warning } }
    }

    static let topKeys = ["tenant", "version", "description", "jurisdictions", "categories", "recordings", "e2ee", "participants"]
    static let ruleKeys = ["allow", "deny", "retention"]

    /// Parses and validates; returns problems rather than throwing.
    public func check(_ text: String, file: String) -> Result {
        var r = YAMLReader(file: file)
        guard let root = r.parse(text) else { return Result(policy: nil, problems: r.problems) }
        guard let top = r.mapping(root, "", allowed: Self.topKeys) else { return Result(policy: nil, problems: r.problems) }
        let value = Dictionary(top.map { ($0.key, ($0.keyNode, $0.value)) }, uniquingKeysWith: { a, _ in a })

        var tenant = ""
        if let (_, node) = value["tenant"] {
            if let s = r.string(node, "tenant") {
                if Self.isValidTenantID(s) { tenant = s } else {
                    r.error(node, "tenant", "'\(s.prefix(70))' is not a valid tenant id",
                            fix: "use 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
                }
            }
        } else {
            r.error(root, "tenant", "missing", fix: "add `tenant: your-tenant-id`")
        }
        var version = 0
        if let (_, node) = value["version"] {
            version = r.integer(node, "version", range: 1...Int(Int32.max)) ?? 0
        } else {
            r.error(root, "version", "missing", fix: "add `version: 1` and increase it with every change")
        }
        let description = value["description"].flatMap { r.string($0.1, "description") } ?? ""

        var e2ee = E2EEMode.required
        if let (_, node) = value["e2ee"], let s = r.string(node, "e2ee") {
            if let m = E2EEMode(rawValue: s) { e2ee = m } else {
                r.error(node, "e2ee", "'\(s)' is not an E2EE mode", fix: "use one of: required, preferred, off")
            }
        }
        var recordings = RecordingMode.disabled
        if let (_, node) = value["recordings"], let s = r.string(node, "recordings") {
            if let m = RecordingMode(rawValue: s) { recordings = m } else {
                let hint = ["true": "enabled", "false": "disabled", "yes": "enabled", "no": "disabled", "on": "enabled", "off": "disabled"][s.lowercased()]
                r.error(node, "recordings", "'\(s)' is not a recording mode",
                        fix: hint.map { "write `recordings: \($0)`" } ?? "use `disabled` (the default) or `enabled`")
            }
        }

        // Default jurisdictions for categories not listed.
        var defaultAllow: (names: [String], set: Set<CountryCode>)?
        if let (_, node) = value["jurisdictions"] {
            defaultAllow = resolveList(&r, node, "jurisdictions")
        }

        var rules: [DataCategory: CategoryRule] = [:]
        var ruleNodes: [DataCategory: Node] = [:]
        if let (_, node) = value["categories"] {
            for (key, keyNode, body) in r.mapping(node, "categories", allowed: DataCategory.allCases.map(\.rawValue)) ?? [] {
                let category = DataCategory(rawValue: key)!
                let path = "categories.\(key)"
                ruleNodes[category] = keyNode
                guard let fields = r.mapping(body, path, allowed: Self.ruleKeys) else { continue }
                var allow: (names: [String], set: Set<CountryCode>)?
                var deny: (names: [String], set: Set<CountryCode>, node: Node)?
                var retention: Retention?
                for (k, kNode, v) in fields {
                    switch k {
                    case "allow": allow = resolveList(&r, v, "\(path).allow")
                    case "deny":
                        let d = resolveList(&r, v, "\(path).deny")
                        deny = (d.names, d.set, v)
                    default:
                        guard category.isStored else {
                            r.error(kNode, "\(path).retention", "\(key) is not stored, so it has no retention",
                                    fix: "remove `retention` here; only logs, recordings and transparency are stored")
                            continue
                        }
                        retention = parseRetention(&r, v, "\(path).retention")
                    }
                }
                guard let allowed = allow ?? defaultAllow else {
                    r.error(keyNode, "\(path).allow", "no jurisdictions given",
                            fix: "add `allow: [..]` here or a top-level `jurisdictions: [..]` default")
                    continue
                }
                var set = allowed.set
                if let deny {
                    let useless = deny.set.subtracting(set)
                    if !useless.isEmpty {
                        r.warning(deny.node, "\(path).deny", "denies \(useless.sorted().map(\.rawValue).joined(separator: ", ")) which \(useless.count == 1 ? "is" : "are") not allowed anyway")
                    }
                    set.subtract(deny.set)
                }
                rules[category] = CategoryRule(allowed: set, allowExpression: allowed.names, denyExpression: deny?.names ?? [],
                                               retention: category.isStored ? (retention ?? ResidencyPolicy.defaultRetention[category]) : nil)
            }
        }
        for category in DataCategory.allCases where rules[category] == nil {
            if let d = defaultAllow {
                rules[category] = CategoryRule(allowed: d.set, allowExpression: d.names,
                                               retention: category.isStored ? ResidencyPolicy.defaultRetention[category] : nil)
            }
        }

        // Cross-field checks.
        let at = { (c: DataCategory) -> Node in ruleNodes[c] ?? value["categories"]?.0 ?? root }
        for c in [DataCategory.media, .signaling] {
            if rules[c]?.allowed.isEmpty ?? true {
                r.error(at(c), "categories.\(c.rawValue)", "no jurisdiction is allowed for \(c.rawValue): every meeting would be refused",
                        fix: "allow at least one jurisdiction, e.g. `allow: [EU]`, or set `jurisdictions: [..]`")
            }
        }
        if let relay = rules[.relay], relay.allowed.isEmpty {
            r.warning(at(.relay), "categories.relay", "relay allows no jurisdiction: each meeting is confined to a single node",
                      fix: "allow the jurisdictions where nodes may relay media to each other")
        } else if rules[.relay] == nil {
            r.warning(root, "categories.relay", "relay is not set: each meeting is confined to a single node",
                      fix: "add `categories: { relay: { allow: [..] } }` or a top-level `jurisdictions:` default")
        }
        for c in [DataCategory.logs, .transparency] {
            guard let media = rules[.media], !media.allowed.isEmpty else { continue }
            let stored = rules[c]?.allowed ?? []
            if stored.isEmpty {
                r.error(at(c), "categories.\(c.rawValue)", "\(c.rawValue) may be stored nowhere, but every node serving a meeting keeps them locally",
                        fix: "allow \(c.rawValue) at least where media is allowed (\(media.allowExpression.joined(separator: ", ")))")
            } else if !media.allowed.isSubset(of: stored) {
                let missing = media.allowed.subtracting(stored).sorted().map(\.rawValue)
                r.warning(at(c), "categories.\(c.rawValue)",
                          "media is allowed in \(missing.prefix(8).joined(separator: ", "))\(missing.count > 8 ? ", …" : "") where \(c.rawValue) may not be stored; placement will not use nodes there",
                          fix: "allow \(c.rawValue) wherever media is allowed, or narrow media")
            }
        }
        if recordings == .enabled {
            if rules[.recordings]?.allowed.isEmpty ?? true {
                r.error(value["recordings"]?.1 ?? root, "recordings", "recordings are enabled but may be stored nowhere",
                        fix: "add `categories: { recordings: { allow: [..], retention: 7d } }` or set `recordings: disabled`")
            }
            if e2ee == .required {
                r.error(value["recordings"]?.1 ?? root, "recordings", "recordings are enabled but e2ee is required: the servers could record only ciphertext",
                        fix: "set `e2ee: preferred` or `off` for this tenant, or `recordings: disabled`")
            }
        } else if let node = ruleNodes[.recordings] {
            r.warning(node, "categories.recordings", "rules for recordings have no effect while `recordings: disabled`")
        }

        var participants = ParticipantRules()
        if let (_, node) = value["participants"], let fields = r.mapping(node, "participants", allowed: ["domains", "guests"]) {
            for (k, _, v) in fields {
                if k == "domains" {
                    for (d, dNode) in r.strings(v, "participants.domains") ?? [] {
                        if Self.isValidDomainRule(d) { participants.domains.append(d.lowercased()) } else {
                            r.error(dNode, "participants.domains", "'\(d.prefix(80))' is not a domain",
                                    fix: "write a domain like `example.com`, or `*.example.com` for its subdomains")
                        }
                    }
                } else if let s = r.string(v, "participants.guests") {
                    if let g = GuestAccess(rawValue: s) { participants.guests = g } else {
                        r.error(v, "participants.guests", "'\(s)' is not a guest rule", fix: "use `deny` (the default) or `allow`")
                    }
                }
            }
        }

        let hasErrors = r.problems.contains { $0.severity == .error }
        let policy = hasErrors ? nil : ResidencyPolicy(tenant: tenant, version: version, description: description, rules: rules,
                                                      recordings: recordings, e2ee: e2ee, participants: participants)
        // Report in file order; problems found at the same place keep their check order.
        let ordered = r.problems.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset) < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
        return Result(policy: policy, problems: ordered)
    }

    /// Parses and validates; throws `ConfigError` with every problem when there is any error.
    public func parse(_ text: String, file: String) throws(ConfigError) -> ResidencyPolicy {
        let result = check(text, file: file)
        guard let policy = result.policy else { throw ConfigError(problems: result.problems) }
        return policy
    }

    private func resolveList(_ r: inout YAMLReader, _ node: Node, _ field: String) -> (names: [String], set: Set<CountryCode>) {
        var names: [String] = [], set = Set<CountryCode>()
        for (i, (name, n)) in (r.strings(node, field) ?? []).enumerated() {
            if names.contains(name) {
                r.warning(n, "\(field)[\(i)]", "'\(name)' is listed twice")
                continue
            }
            names.append(name)
            if let s = catalog.resolve(name) { set.formUnion(s); continue }
            var fix = "use an ISO 3166-1 alpha-2 code (DE, IE, CH, …) or a group (\(catalog.groups.keys.sorted().joined(separator: ", ")))"
            if let s = catalog.suggestion(for: name) { fix = "did you mean '\(s)'? " + fix }
            let why = CountryCode(name) != nil ? "'\(name)' is not an assigned ISO 3166-1 code" : "unknown jurisdiction '\(name.prefix(40))'"
            r.error(n, "\(field)[\(i)]", why, fix: fix)
        }
        return (names, set)
    }

    private func parseRetention(_ r: inout YAMLReader, _ node: Node, _ field: String) -> Retention? {
        guard let s = r.string(node, field) else { return nil }
        guard let ret = Retention(parsing: s) else {
            r.error(node, field, "'\(s.prefix(40))' is not a duration",
                    fix: "write a number and a unit: 90m, 12h, 30d, 2w (or ISO 8601 like P30D); months and years are not accepted")
            return nil
        }
        if ret.seconds == 0 {
            r.error(node, field, "retention of zero would delete artifacts as they are written", fix: "use at least 1h")
            return nil
        }
        if ret > ResidencyPolicy.maximumRetention {
            r.error(node, field, "\(ret) is longer than the maximum retention (\(ResidencyPolicy.maximumRetention))",
                    fix: "keep data no longer than needed; use at most 3653d")
            return nil
        }
        return ret
    }

    /// True for a valid tenant id: 1-63 characters of a-z, 0-9 and '-', not starting with '-'.
    public static func isValidTenantID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), u[0] != UInt8(ascii: "-") else { return false }
        return u.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
    }

    static func isValidDomainRule(_ s: String) -> Bool {
        var d = s.lowercased()
        if d.hasPrefix("*.") { d.removeFirst(2) }
        let labels = d.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, d.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            let u = Array(label.utf8)
            guard (1...63).contains(u.count), u.first != UInt8(ascii: "-"), u.last != UInt8(ascii: "-") else { return false }
            return u.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
        }
    }
}
