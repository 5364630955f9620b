import Testing
import Residency
import Placement
import DemarcTestSupport

/// The shipped example topologies and policies, end to end through the parsers.
@Suite struct TopologyPlacementTests {
    let catalog = Fixtures.catalog

    func load(_ topology: String, _ policy: String, _ participants: String) throws -> (Topology, ResidencyPolicy, [Participant]) {
        (try Topology.parse(try Fixtures.text(topology), file: topology, catalog: catalog),
         try PolicyParser(catalog: catalog).parse(try Fixtures.text(policy), file: policy),
         try ParticipantsFile.parse(try Fixtures.text(participants), file: participants, catalog: catalog))
    }

    @Test func euOnlyMeetingOnTheEuropeTopologyStaysInTheEU() throws {
        let (t, policy, people) = try load("Topologies/europe.yaml", "Topologies/policies/eu-only.yaml", "Topologies/participants/europe-meeting.yaml")
        let view = try t.clusterView()
        let d = try PlacementEngine(catalog: catalog).place(people, policy: policy, in: view)
        let eu = try #require(catalog.resolve("EU"))
        for a in d.assignments { #expect(eu.contains(a.jurisdiction)) }
        #expect(d.assignment(of: "p-frankfurt")?.edge == "fra-1")   // fra-2 is busier
        #expect(d.assignment(of: "p-dublin")?.edge == "dub-1")      // dub-2 is draining
        let excluded = Dictionary(uniqueKeysWithValues: d.exclusions.map { ($0.node, $0.reasons) })
        #expect(excluded["zrh-1"]?.contains(.jurisdictionNotAllowed(category: .media, jurisdiction: CountryCode("CH")!)) == true)
        #expect(excluded["lon-2"]?.contains(.certificateInvalid(reason: "expired 2026-10-01")) == true)
        #expect(excluded["dub-2"] == [.draining])
        #expect(excluded["par-2"] == [.full(load: 400, capacity: 400)])
    }

    @Test func swissOnlyMeetingIsRefusedWhenItsOnlyNodeIsLost() throws {
        let (t, policy, people) = try load("Topologies/global.yaml", "Topologies/policies/swiss-only.json", "Topologies/participants/europe-meeting.yaml")
        let view = try t.clusterView()
        let engine = PlacementEngine(catalog: catalog)
        let d = try engine.place(people, policy: policy, in: view)
        #expect(d.nodes == ["zrh-1"])
        #expect(throws: PlacementError.self) {
            _ = try engine.replace(d, participants: people, policy: policy, in: try view.removing(["zrh-1"]))
        }
    }

    @Test func losingANodeMovesOnlyItsParticipants() throws {
        let (t, policy, people) = try load("Topologies/europe.yaml", "Topologies/policies/eu-only.yaml", "Topologies/participants/europe-meeting.yaml")
        let view = try t.clusterView()
        let engine = PlacementEngine(catalog: catalog)
        let d = try engine.place(people, policy: policy, in: view)
        #expect(d.shape == .cascaded)
        let victim = try #require(d.assignment(of: "p-frankfurt")?.edge)
        let after = try engine.replace(d, participants: people, policy: policy, in: try view.removing([victim]))
        for a in d.assignments where a.edge != victim { #expect(after.assignment(of: a.participant)?.edge == a.edge) }
        #expect(Set(after.moves.map(\.participant)) == Set(d.assignments.filter { $0.edge == victim }.map(\.participant)))
        #expect(!after.nodes.contains(victim))
    }

    @Test func allShippedTopologiesParse() throws {
        for name in ["europe", "global", "local"] {
            let t = try Topology.parse(try Fixtures.text("Topologies/\(name).yaml"), file: name, catalog: catalog)
            #expect(t.nodes.count >= 5 && t.regions.count >= 4, "\(name)")
            _ = try t.clusterView()
        }
        let global = try Topology.parse(try Fixtures.text("Topologies/global.yaml"), file: "global", catalog: catalog)
        let codes = Set(global.regions.map(\.jurisdiction.rawValue))
        #expect(codes.isSuperset(of: ["GB", "AU", "CA", "GI", "HK", "CH", "US", "DE", "IE"]))
    }

    @Test func topologyErrorsNameTheLine() {
        let text = """
        name: bad
        regions:
          r1: { jurisdiction: DX, at: [50, 8] }
        nodes:
          - { id: a, region: r2 }
        latency:
          r1: { r1: fast }
        """
        #expect {
            _ = try Topology.parse(text, file: "bad.yaml", catalog: catalog)
        } throws: { error in
            guard let e = error as? ConfigError else { return false }
            let lines = Set(e.errors.map(\.location.line))
            return lines.isSuperset(of: [3, 5])
        }
    }
}
