import Testing
import Residency
import DemarcTestSupport

@Suite struct PolicyParserTests {
    let parser = PolicyParser(catalog: Fixtures.catalog)

    func problems(_ yaml: String) -> [ConfigProblem] { parser.check(yaml, file: "p.yaml").problems }

    func error(_ yaml: String, at line: Int, field: String, containing words: String) {
        let p = problems(yaml)
        let hit = p.first { $0.severity == .error && $0.location.line == line && $0.field == field && $0.message.contains(words) }
        #expect(hit != nil, "no error at line \(line) on \(field) containing '\(words)'; got:\n\(p.map(\.description).joined(separator: "\n"))")
        #expect(parser.check(yaml, file: "p.yaml").policy == nil)
    }

    static let base = """
    tenant: acme
    version: 2
    jurisdictions: [EU]
    """

    @Test func minimalPolicyGetsPrivacyProtectiveDefaults() throws {
        let policy = try parser.parse(Self.base, file: "p.yaml")
        #expect(policy.e2ee == .required)
        #expect(policy.recordings == .disabled)
        #expect(policy.participants.guests == .deny)
        #expect(policy.rule(.logs).retention == .days(7))
        #expect(policy.rule(.recordings).retention == .days(1))
        #expect(policy.rule(.transparency).retention == .days(30))
        #expect(policy.rule(.media).retention == nil)
        #expect(policy.rule(.media).allowed.count == 27)
        #expect(policy.allows(.media, in: CountryCode("IE")!))
        #expect(!policy.allows(.media, in: CountryCode("CH")!))
    }

    @Test func shippedExamplesAreValidAndBrokenIsNot() throws {
        for file in ["eu-only.yaml", "gdpr-adequate.yaml", "swiss-only.json"] {
            let r = parser.check(try Fixtures.text("Topologies/policies/\(file)"), file: file)
            #expect(r.policy != nil, "\(file): \(r.errors)")
        }
        let broken = parser.check(try Fixtures.text("Topologies/policies/broken.yaml"), file: "broken.yaml")
        #expect(broken.policy == nil)
        #expect(broken.errors.count >= 8)
        // Every problem has a line and every error a fix.
        for p in broken.errors { #expect(p.location.line > 0) }
    }

    @Test func jsonAndYamlMeanTheSame() throws {
        let yaml = try parser.parse("tenant: a\nversion: 1\njurisdictions: [DE, FR]\ncategories:\n  logs: { allow: [DE], retention: 12h }\ne2ee: preferred\n", file: "p.yaml")
        let json = try parser.parse(#"{"tenant": "a", "version": 1, "jurisdictions": ["DE", "FR"], "categories": {"logs": {"allow": ["DE"], "retention": "PT12H"}}, "e2ee": "preferred"}"#, file: "p.json")
        #expect(yaml.canonicalText == json.canonicalText)
    }

    @Test func unknownCodeSuggestsTheRightOne() {
        let p = problems("tenant: a\nversion: 1\njurisdictions: [UK]\n")
        #expect(p.contains { $0.location.line == 3 && $0.message.contains("'UK'") && $0.fix.contains("did you mean 'GB'") })
    }

    @Test func eachKindOfMistakeIsReportedWithItsLine() {
        error("tenant: a\nversion: 1\njurisdictions: [XZ]\n", at: 3, field: "jurisdictions[0]", containing: "not an assigned")
        error("tenant: a\nversion: 1\njurisdictions: [Europe]\n", at: 3, field: "jurisdictions[0]", containing: "unknown jurisdiction")
        error("tenant: a\nversion: 1\ncategories:\n  media: { allow: [] }\n  signaling: { allow: [DE] }\n", at: 4, field: "categories.media", containing: "every meeting would be refused")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  logs: { retention: 3 weeks }\n", at: 5, field: "categories.logs.retention", containing: "not a duration")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  media: { retention: 3d }\n", at: 5, field: "categories.media.retention", containing: "not stored")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  logs: { retention: 5000d }\n", at: 5, field: "categories.logs.retention", containing: "longer than the maximum")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  logs: { retention: 0h }\n", at: 5, field: "categories.logs.retention", containing: "zero")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\nrecordings: enabled\ne2ee: off\ncategories:\n  recordings: { allow: [] }\n", at: 4, field: "recordings", containing: "stored nowhere")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\nrecordings: enabled\n", at: 4, field: "recordings", containing: "e2ee is required")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ne2ee: sometimes\n", at: 4, field: "e2ee", containing: "not an E2EE mode")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\nrecodings: enabled\n", at: 4, field: "recodings", containing: "unknown key")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ntenant: b\n", at: 1, field: "tenant", containing: "duplicate key")
        error("tenant: Not Valid\nversion: 1\njurisdictions: [DE]\n", at: 1, field: "tenant", containing: "not a valid tenant")
        error("tenant: a\nversion: -3\njurisdictions: [DE]\n", at: 2, field: "version", containing: "whole number")
        error("version: 1\njurisdictions: [DE]\n", at: 1, field: "tenant", containing: "missing")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\nparticipants:\n  domains: [\"bad domain\"]\n", at: 5, field: "participants.domains", containing: "not a domain")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\nparticipants:\n  guests: maybe\n", at: 5, field: "participants.guests", containing: "not a guest rule")
        error("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  logs: { allow: [] }\n", at: 5, field: "categories.logs", containing: "stored nowhere")
        error("tenant: a\nversion: 1\njurisdictions: [DE, FR\ne2ee: off\n", at: 4, field: "", containing: "syntax error")
        error("tenant: a\nversion: 1\ncategories:\n  media: { allow: [DE] }\n", at: 3, field: "categories.signaling", containing: "every meeting would be refused")
    }

    @Test func warningsDoNotInvalidate() throws {
        let r = parser.check("tenant: a\nversion: 1\njurisdictions: [DE]\ncategories:\n  media: { allow: [DE, FR], deny: [CH] }\n", file: "p.yaml")
        #expect(r.policy != nil)
        #expect(r.warnings.contains { $0.field == "categories.media.deny" && $0.location.line == 5 })
        #expect(r.warnings.contains { $0.field == "categories.logs" && $0.message.contains("FR") })
    }

    @Test func denySubtractsFromAllow() throws {
        let p = try parser.parse("tenant: a\nversion: 1\njurisdictions: [EU]\ncategories:\n  media: { allow: [EEA], deny: [HU, NO] }\n", file: "p.yaml")
        #expect(p.rule(.media).allowed.count == 28)
        #expect(!p.allows(.media, in: CountryCode("HU")!))
        #expect(p.allows(.media, in: CountryCode("IS")!))
    }

    @Test func yamlOnePointOneBooleansAreReadAsCountryCodes() throws {
        // In YAML 1.1, a bare NO is the boolean false; Norway must still be Norway.
        let p = try parser.parse("tenant: a\nversion: 1\njurisdictions: [NO, DE]\n", file: "p.yaml")
        #expect(p.allows(.media, in: CountryCode("NO")!))
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let r = parser.check("tenant: A B\nversion: x\njurisdictions: [QQ, ZZ]\ne2ee: maybe\n", file: "p.yaml")
        // Five mistakes on four lines, plus what follows from them (nothing is allowed for media or signaling).
        #expect(Set(r.errors.map(\.location.line)).isSuperset(of: [1, 2, 3, 4]))
        #expect(Set(r.errors.map(\.field)).isSuperset(of: ["tenant", "version", "jurisdictions[0]", "jurisdictions[1]", "e2ee"]))
    }
}

@Suite struct RetentionTests {
    @Test(arguments: [("30d", 2_592_000), ("12h", 43_200), ("90m", 5_400), ("2w", 1_209_600), ("45s", 45),
                      ("P30D", 2_592_000), ("PT12H", 43_200), ("P1DT6H", 108_000), ("P2W", 1_209_600), ("PT1M30S", 90)])
    func parses(_ text: String, _ seconds: Int64) {
        #expect(Retention(parsing: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "d", "30", "30 days", "3mo", "1y", "P", "PT", "P1M", "P1Y", "-3d", "P1H", "PT1D", "P1DT", "99999999999999999999d", "1.5d"])
    func rejects(_ text: String) {
        #expect(Retention(parsing: text) == nil)
    }

    @Test func printsShortestForm() {
        #expect(Retention.days(30).description == "30d")
        #expect(Retention.hours(36).description == "36h")
        #expect(Retention(seconds: 90).description == "90s")
    }
}

@Suite struct ParticipantRuleTests {
    @Test func domainsAdmitExactAndWildcardSubdomains() {
        let rules = ParticipantRules(domains: ["acme.example", "*.corp.example"])
        #expect(rules.admits(identity: "ana@acme.example"))
        #expect(rules.admits(identity: "ana@ACME.example"))
        #expect(rules.admits(identity: "bo@eu.corp.example"))
        #expect(!rules.admits(identity: "bo@corp.example"))
        #expect(!rules.admits(identity: "eve@evilacme.example"))
        #expect(!rules.admits(identity: "eve@acme.example.evil"))
        #expect(!rules.admits(identity: "no-at-sign"))
        #expect(!rules.admits(identity: "guest@acme.example", isGuest: true))
        #expect(ParticipantRules(domains: [], guests: .allow).admits(identity: "x", isGuest: true))
    }
}
