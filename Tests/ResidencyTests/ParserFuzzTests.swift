import Testing
import Residency
import DemarcTestSupport

/// The policy, topology and catalog parsers fed garbage: never a crash, always
/// either a result or problems (typed), and errors always carry a line.
@Suite struct ParserFuzzTests {
    let parser = PolicyParser(catalog: Fixtures.catalog)

    @Test func randomBytesNeverCrashThePolicyParser() {
        var rng = SeededGenerator(seed: 0xD3_3A_2C)
        for _ in 0..<1_500 {
            let bytes = Mutations.randomBytes(&rng, maxLength: 300)
            let r = parser.check(String(decoding: bytes, as: UTF8.self), file: "fuzz")
            #expect(r.policy != nil || !r.errors.isEmpty)
        }
    }

    @Test func mutatedValidPoliciesNeverCrash() throws {
        var rng = SeededGenerator(seed: 42)
        let seeds = try ["eu-only.yaml", "gdpr-adequate.yaml", "swiss-only.json", "broken.yaml"].map {
            Array(try Fixtures.text("Topologies/policies/\($0)").utf8)
        }
        var stillValid = 0, rejected = 0
        for i in 0..<3_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes = Mutations.mutate(bytes, &rng) }
            let r = parser.check(String(decoding: bytes, as: UTF8.self), file: "fuzz")
            if r.policy != nil { stillValid += 1 } else {
                rejected += 1
                #expect(r.errors.allSatisfy { $0.location.line >= 1 })
            }
        }
        #expect(stillValid > 0 && rejected > 0)
    }

    @Test func truncationsAtEveryByteNeverCrash() throws {
        let text = Array(try Fixtures.text("Topologies/policies/eu-only.yaml").utf8)
        for n in 0...text.count {
            let r = parser.check(String(decoding: text.prefix(n), as: UTF8.self), file: "t")
            #expect(r.policy != nil || !r.errors.isEmpty)
        }
    }

    @Test(arguments: [
        String(repeating: "[", count: 100_000),
        String(repeating: "{a: ", count: 50_000),
        String(repeating: "- ", count: 200_000) + "x",
        "a: &x [1,2]\nb: &y [*x,*x,*x,*x,*x,*x,*x,*x]\nc: &z [*y,*y,*y,*y,*y,*y,*y,*y]\nd: [*z,*z,*z,*z,*z,*z,*z,*z]\n",
        String(repeating: "x", count: 2 << 20),
        "\u{0}\u{0}\u{0}",
        "tenant: [",
    ])
    func hostileDocumentsAreRejectedNotCrashed(_ text: String) {
        let r = parser.check(text, file: "hostile")
        #expect(r.policy == nil)
        #expect(!r.errors.isEmpty)
    }

    @Test func catalogRejectsAGroupWithoutSourceAndCycles() {
        let text = """
        countries:
          DE: { name: Germany }
        groups:
          A: { source: x, members: [B] }
          B: { source: y, members: [A] }
          C: { members: [DE] }
        """
        #expect {
            _ = try JurisdictionCatalog.parse(text, file: "c.yaml")
        } throws: { error in
            guard let e = error as? ConfigError else { return false }
            return e.errors.contains { $0.message.contains("includes itself") } && e.errors.contains { $0.message.contains("no source") && $0.location.line == 6 }
        }
    }
}

@Suite struct CatalogTests {
    let catalog = Fixtures.catalog

    @Test func groupsHaveTheExpectedMembershipAndSources() throws {
        #expect(catalog.countries.count == 249)
        #expect(catalog.resolve("EU")?.count == 27)
        #expect(catalog.resolve("EEA")?.count == 30)
        #expect(catalog.resolve("EEA")?.isSuperset(of: catalog.resolve("EU")!) == true)
        #expect(catalog.resolve("VTC-GUIDANCE") == Set(["GB", "AU", "CA", "GI", "HK", "CH"].map { CountryCode($0)! }))
        #expect(catalog.resolve("GB") == [CountryCode("GB")!])
        #expect(catalog.resolve("UK") == nil)
        #expect(catalog.resolve("GDPR-ADEQUATE")?.contains(CountryCode("US")!) == false)
        for g in catalog.groups.values { #expect(!g.source.isEmpty && !g.asOf.isEmpty, "\(g.name)") }
    }

    @Test func operatorGroupsExtendTheCatalog() throws {
        let more = try catalog.adding(groups: ["DACH": ["DE", "AT", "CH"], "DACH-EU": ["DACH", "EU"]])
        #expect(more.resolve("DACH")?.count == 3)
        #expect(more.resolve("DACH-EU")?.count == 28)
        #expect(throws: ConfigError.self) { _ = try catalog.adding(groups: ["X": ["Atlantis"]]) }
    }
}
