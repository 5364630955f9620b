public import Yams

/// A country or territory with an ISO 3166-1 alpha-2 code.
public struct Country: Hashable, Sendable {
    public let code: CountryCode
    public let name: String
    /// Approximate capital; used only to estimate latency when nothing better is known.
    public let location: GeoPoint?
}

/// A named set of countries (EU, EEA, an operator's own group), with the source
/// of its membership.
public struct JurisdictionGroup: Hashable, Sendable {
    public let name: String
    public let description: String
    public let source: String
    public let asOf: String
    /// Fully expanded (nested groups resolved), sorted.
    public let members: [CountryCode]
}

/// Every jurisdiction Demarc knows, loaded from `Topologies/jurisdictions.yaml`.
/// Names resolve to sets of country codes; unknown names are errors with a suggestion.
public struct JurisdictionCatalog: Sendable {
    public let countries: [CountryCode: Country]
    public let groups: [String: JurisdictionGroup]

    public init(countries: [CountryCode: Country], groups: [String: JurisdictionGroup]) {
        self.countries = countries
        self.groups = groups
    }

    /// Expands a country code or group name. nil when the name is unknown.
    public func resolve(_ name: String) -> Set<CountryCode>? {
        if let g = groups[name] { return Set(g.members) }
        if let c = CountryCode(name), countries[c] != nil { return [c] }
        return nil
    }

    /// A suggestion for an unknown name: case fix, or the nearest known name.
    public func suggestion(for name: String) -> String? {
        let upper = name.uppercased()
        if upper != name, resolve(upper) != nil { return upper }
        let aliases = ["UK": "GB", "EL": "GR"]
        if let a = aliases[upper] { return a }
        return closest(to: name, in: groups.keys, maxDistance: name.count <= 3 ? 1 : 2)
    }

    public func isKnown(_ code: CountryCode) -> Bool { countries[code] != nil }

    // MARK: Loading

    /// Parses the catalog file. Reports every problem with its line.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> JurisdictionCatalog {
        var r = YAMLReader(file: file)
        guard let root = r.parse(text), let top = r.mapping(root, "", allowed: ["version", "groups", "countries"]) else {
            throw ConfigError(problems: r.problems)
        }
        var countries: [CountryCode: Country] = [:]
        var rawGroups: [(name: String, node: Node, description: String, source: String, asOf: String, members: [(String, Node)])] = []
        for (key, _, value) in top {
            switch key {
            case "version":
                if let v = r.integer(value, "version", range: 1...1000), v != 1 {
                    r.error(value, "version", "catalog version \(v) is not supported by this build (reads 1)")
                }
            case "countries":
                for (code, keyNode, body) in r.mapping(value, "countries") ?? [] {
                    guard let cc = CountryCode(code) else {
                        r.error(keyNode, "countries.\(code)", "'\(code)' is not two capital letters")
                        continue
                    }
                    guard let fields = r.mapping(body, "countries.\(code)", allowed: ["name", "at"]) else { continue }
                    var name = code
                    var at: GeoPoint?
                    for (k, _, v) in fields {
                        if k == "name" { name = r.string(v, "countries.\(code).name") ?? code }
                        if k == "at" { at = readPoint(&r, v, "countries.\(code).at") }
                    }
                    countries[cc] = Country(code: cc, name: name, location: at)
                }
            case "groups":
                for (name, keyNode, body) in r.mapping(value, "groups") ?? [] {
                    let path = "groups.\(name)"
                    guard let fields = r.mapping(body, path, allowed: ["description", "source", "as_of", "members"]) else { continue }
                    var description = "", source = "", asOf = "", members: [(String, Node)] = []
                    for (k, _, v) in fields {
                        switch k {
                        case "description": description = r.string(v, "\(path).description") ?? ""
                        case "source": source = r.string(v, "\(path).source") ?? ""
                        case "as_of": asOf = r.string(v, "\(path).as_of") ?? ""
                        default: members = r.strings(v, "\(path).members") ?? []
                        }
                    }
                    if source.isEmpty {
                        r.error(keyNode, path, "group has no source", fix: "add `source:` citing where its membership comes from")
                    }
                    if members.isEmpty { r.error(keyNode, path, "group has no members") }
                    rawGroups.append((name, keyNode, description, source, asOf, members))
                }
            default: break
            }
        }
        // Groups may name countries and groups defined earlier or later; expand with cycle detection.
        let byName = Dictionary(rawGroups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var expanded: [String: Set<CountryCode>] = [:]
        func expand(_ name: String, _ stack: [String]) -> Set<CountryCode> {
            if let done = expanded[name] { return done }
            guard let g = byName[name] else { return [] }
            var out = Set<CountryCode>()
            for (m, node) in g.members {
                if stack.contains(m) {
                    r.error(node, "groups.\(name).members", "group '\(m)' includes itself (\((stack + [m]).joined(separator: " → ")))")
                } else if byName[m] != nil {
                    out.formUnion(expand(m, stack + [m]))
                } else if let cc = CountryCode(m), countries[cc] != nil {
                    out.insert(cc)
                } else {
                    r.error(node, "groups.\(name).members", "'\(m)' is neither a country code in this file nor a group")
                }
            }
            expanded[name] = out
            return out
        }
        var groups: [String: JurisdictionGroup] = [:]
        for g in rawGroups {
            if let cc = CountryCode(g.name), countries[cc] != nil {
                r.error(g.node, "groups.\(g.name)", "group name '\(g.name)' is an assigned country code", fix: "rename the group")
                continue
            }
            let members = expand(g.name, [g.name]).sorted()
            groups[g.name] = JurisdictionGroup(name: g.name, description: g.description, source: g.source, asOf: g.asOf, members: members)
        }
        if countries.isEmpty { r.error(root, "countries", "no countries defined") }
        if r.problems.contains(where: { $0.severity == .error }) { throw ConfigError(problems: r.problems) }
        return JurisdictionCatalog(countries: countries, groups: groups)
    }

    /// Returns a catalog with more groups (an operator's own), defined over this catalog's names.
    public func adding(groups more: [String: [String]]) throws(ConfigError) -> JurisdictionCatalog {
        var groups = self.groups
        var problems: [ConfigProblem] = []
        for (name, members) in more.sorted(by: { $0.key < $1.key }) {
            var set = Set<CountryCode>()
            for m in members {
                if let s = JurisdictionCatalog(countries: countries, groups: groups).resolve(m) { set.formUnion(s) } else {
                    problems.append(.init(.error, .init(file: "<groups>", line: 1, column: 1), field: "groups.\(name)", "unknown jurisdiction '\(m)'"))
                }
            }
            groups[name] = JurisdictionGroup(name: name, description: "operator-defined", source: "operator configuration", asOf: "", members: set.sorted())
        }
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        return JurisdictionCatalog(countries: countries, groups: groups)
    }
}

/// Reads `[latitude, longitude]`.
public func readPoint(_ r: inout YAMLReader, _ node: Node, _ field: String) -> GeoPoint? {
    guard let items = r.sequence(node, field) else { return nil }
    guard items.count == 2,
          let lat = r.number(items[0], field + "[0]", range: -90...90),
          let lon = r.number(items[1], field + "[1]", range: -180...180) else {
        if items.count != 2 { r.error(node, field, "expected [latitude, longitude]") }
        return nil
    }
    return GeoPoint(latitude: lat, longitude: lon)
}
