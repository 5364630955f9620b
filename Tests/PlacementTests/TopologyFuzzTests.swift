import Testing
import Residency
import Placement
import DemarcTestSupport

/// Topology, participants and catalog files fed mutations of the shipped ones:
/// never a crash; either a value or a `ConfigError` whose problems carry lines.
@Suite struct TopologyFuzzTests {
    let catalog = Fixtures.catalog

    func outcome(_ body: () throws -> Void) -> Bool? {
        do { try body(); return true } catch let e as ConfigError {
            #expect(!e.errors.isEmpty && e.errors.allSatisfy { $0.location.line >= 1 })
            return false
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    @Test func mutatedTopologiesNeverCrash() throws {
        var rng = SeededGenerator(seed: 99)
        let seeds = try ["europe", "global", "local"].map { Array(try Fixtures.text("Topologies/\($0).yaml").utf8) }
        var ok = 0, rejected = 0
        for i in 0..<600 {
            var b = seeds[i % 3]
            for _ in 0..<Int.random(in: 1...3, using: &rng) { b = Mutations.mutate(b, &rng) }
            let text = String(decoding: b, as: UTF8.self)
            switch outcome({ _ = try Topology.parse(text, file: "fuzz", catalog: catalog) }) {
            case true?: ok += 1
            case false?: rejected += 1
            case nil: break
            }
        }
        #expect(ok > 0 && rejected > 0)
    }

    @Test func mutatedParticipantsAndCatalogNeverCrash() throws {
        var rng = SeededGenerator(seed: 5)
        let parts = Array(try Fixtures.text("Topologies/participants/europe-meeting.yaml").utf8)
        let cat = Array(try Fixtures.text("Topologies/jurisdictions.yaml").utf8)
        for _ in 0..<1_000 {
            let p = String(decoding: Mutations.mutate(parts, &rng), as: UTF8.self)
            _ = outcome { _ = try ParticipantsFile.parse(p, file: "fuzz", catalog: catalog) }
        }
        for _ in 0..<40 {
            let c = String(decoding: Mutations.mutate(cat, &rng), as: UTF8.self)
            _ = outcome { _ = try JurisdictionCatalog.parse(c, file: "fuzz") }
        }
        for _ in 0..<500 {
            let junk = String(decoding: Mutations.randomBytes(&rng, maxLength: 200), as: UTF8.self)
            _ = outcome { _ = try Topology.parse(junk, file: "junk", catalog: catalog) }
        }
    }
}
