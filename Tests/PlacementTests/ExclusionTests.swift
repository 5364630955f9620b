import Testing
import Residency
import Placement
import DemarcTestSupport

/// One table row per exclusion reason: a cluster with one good node and one node
/// that fails exactly one rule; the bad node must be excluded for that reason only.
@Suite struct ExclusionTests {
    static let de = CountryCode("DE")!, fr = CountryCode("FR")!, us = CountryCode("US")!
    static let regions = [
        Region(id: "de", jurisdiction: de, location: GeoPoint(latitude: 50.1, longitude: 8.7)),
        Region(id: "fr", jurisdiction: fr, location: GeoPoint(latitude: 48.9, longitude: 2.4)),
        Region(id: "us", jurisdiction: us, location: GeoPoint(latitude: 39.0, longitude: -77.5)),
    ]

    static func policy(media: [CountryCode] = [de, fr], signaling: [CountryCode] = [de, fr], relay: [CountryCode] = [de, fr],
                       logs: [CountryCode] = [de, fr], transparency: [CountryCode] = [de, fr]) -> ResidencyPolicy {
        func rule(_ s: [CountryCode]) -> CategoryRule { CategoryRule(allowed: Set(s), allowExpression: s.map(\.rawValue)) }
        return ResidencyPolicy(tenant: "t", version: 3, rules: [
            .media: rule(media), .signaling: rule(signaling), .relay: rule(relay), .logs: rule(logs),
            .transparency: rule(transparency), .recordings: rule([]),
        ])
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let bad: ClusterNode
        let policy: ResidencyPolicy
        let expected: ExclusionReason
        var testDescription: String { name }
    }

    static let good = ClusterNode(id: "good", region: "de", jurisdiction: de, capacity: 10)

    static let rows: [Row] = [
        Row(name: "media not allowed", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, capacity: 10),
            policy: policy(media: [de]), expected: .jurisdictionNotAllowed(category: .media, jurisdiction: fr)),
        Row(name: "signaling not allowed", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, capacity: 10),
            policy: policy(signaling: [de]), expected: .jurisdictionNotAllowed(category: .signaling, jurisdiction: fr)),
        Row(name: "logs not allowed", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, capacity: 10),
            policy: policy(logs: [de]), expected: .jurisdictionNotAllowed(category: .logs, jurisdiction: fr)),
        Row(name: "transparency not allowed", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, capacity: 10),
            policy: policy(transparency: [de]), expected: .jurisdictionNotAllowed(category: .transparency, jurisdiction: fr)),
        Row(name: "certificate invalid", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, certificate: .invalid(reason: "expired"), capacity: 10),
            policy: policy(), expected: .certificateInvalid(reason: "expired")),
        Row(name: "draining", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, health: .draining, capacity: 10),
            policy: policy(), expected: .draining),
        Row(name: "suspect", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, health: .suspect, capacity: 10),
            policy: policy(), expected: .notAlive(.suspect)),
        Row(name: "dead", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, health: .dead, capacity: 10),
            policy: policy(), expected: .notAlive(.dead)),
        Row(name: "full", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: fr, load: 10, capacity: 10),
            policy: policy(), expected: .full(load: 10, capacity: 10)),
        Row(name: "unknown region", bad: ClusterNode(id: "bad", region: "nowhere", jurisdiction: fr, capacity: 10),
            policy: policy(), expected: .unknownRegion("nowhere")),
        Row(name: "certificate jurisdiction differs from region", bad: ClusterNode(id: "bad", region: "fr", jurisdiction: de, capacity: 10),
            policy: policy(), expected: .regionJurisdictionMismatch(region: "fr", regionJurisdiction: fr, nodeJurisdiction: de)),
    ]

    @Test(arguments: rows)
    func excludedForExactlyThisReason(_ row: Row) throws {
        let view = try ClusterView(nodes: [Self.good, row.bad], regions: Self.regions)
        let engine = PlacementEngine(catalog: Fixtures.catalog)
        // A participant right next to the bad node, so only the rule keeps them apart.
        let p = Participant(id: "p", location: ParticipantLocation(point: GeoPoint(latitude: 48.9, longitude: 2.4)))
        let d = try engine.place([p], policy: row.policy, in: view)
        #expect(d.assignments.map(\.edge) == ["good"])
        #expect(d.home == "good")
        let ex = try #require(d.exclusions.first { $0.node == "bad" })
        #expect(ex.reasons == [row.expected])
        #expect(!row.expected.code.isEmpty && !row.expected.explanation.isEmpty)
        #expect(!d.exclusions.contains { $0.node == "good" })
    }

    @Test func relayNotAllowedExcludesOnlyWhenTheMeetingCascades() throws {
        // FR may serve media but not relay. Two participants far apart: a cascade over DE+US is
        // possible only where relay is allowed.
        let nodes = [ClusterNode(id: "de-1", region: "de", jurisdiction: Self.de, capacity: 10),
                     ClusterNode(id: "fr-1", region: "fr", jurisdiction: Self.fr, capacity: 10),
                     ClusterNode(id: "us-1", region: "us", jurisdiction: Self.us, capacity: 10)]
        let all = [Self.de, Self.fr, Self.us]
        let policy = Self.policy(media: all, signaling: all, relay: [Self.de, Self.us], logs: all, transparency: all)
        let view = try ClusterView(nodes: nodes, regions: Self.regions)
        let engine = PlacementEngine(catalog: Fixtures.catalog)
        // Two people in Paris and two in Washington: a cascade beats any single node
        // (for a mere pair, one node at one end is always as good as relaying).
        let paris = Participant(id: "a1", location: .init(point: GeoPoint(latitude: 48.9, longitude: 2.4)))
        let paris2 = Participant(id: "a2", location: .init(point: GeoPoint(latitude: 48.8, longitude: 2.3)))
        let washington = Participant(id: "b1", location: .init(point: GeoPoint(latitude: 38.9, longitude: -77.0)))
        let washington2 = Participant(id: "b2", location: .init(point: GeoPoint(latitude: 38.8, longitude: -77.1)))
        let d = try engine.place([paris, paris2, washington, washington2], policy: policy, in: view)
        #expect(d.shape == .cascaded)
        #expect(Set(d.nodes) == ["de-1", "us-1"])
        #expect(d.exclusions.first { $0.node == "fr-1" }?.reasons == [.relayNotAllowed(jurisdiction: Self.fr)])
        #expect(d.assignment(of: "a1")?.edge == "de-1" && d.assignment(of: "b2")?.edge == "us-1")
        // Alone, the Paris participant is served in FR, where relay does not matter.
        let alone = try engine.place([paris], policy: policy, in: view)
        #expect(alone.assignments.map(\.edge) == ["fr-1"])
        #expect(alone.exclusions.isEmpty)
    }

    @Test func noCompliantNodeIsATypedErrorNamingEveryNode() throws {
        let nodes = [ClusterNode(id: "us-1", region: "us", jurisdiction: Self.us, capacity: 10),
                     ClusterNode(id: "fr-1", region: "fr", jurisdiction: Self.fr, health: .draining, capacity: 10)]
        let view = try ClusterView(nodes: nodes, regions: Self.regions)
        let engine = PlacementEngine(catalog: Fixtures.catalog)
        let p = Participant(id: "p", location: .init(country: Self.us))
        #expect {
            _ = try engine.place([p], policy: Self.policy(), in: view)
        } throws: { error in
            guard case let PlacementError.noCompliantNode(tenant, version, exclusions) = error else { return false }
            return tenant == "t" && version == 3 && exclusions.map(\.node) == ["fr-1", "us-1"]
                && exclusions[0].reasons == [.draining]
                && exclusions[1].reasons.contains(.jurisdictionNotAllowed(category: .media, jurisdiction: Self.us))
        }
    }

    @Test func insufficientCapacityIsATypedErrorNotAnOverflow() throws {
        let nodes = [ClusterNode(id: "de-1", region: "de", jurisdiction: Self.de, load: 8, capacity: 10),
                     ClusterNode(id: "us-1", region: "us", jurisdiction: Self.us, capacity: 1000)]
        let view = try ClusterView(nodes: nodes, regions: Self.regions)
        let people = (0..<3).map { Participant(id: "p\($0)", location: .init(country: Self.de)) }
        #expect {
            _ = try PlacementEngine(catalog: Fixtures.catalog).place(people, policy: Self.policy(), in: view)
        } throws: { error in
            guard case let PlacementError.insufficientCapacity(needed, available, _) = error else { return false }
            return needed == 3 && available == 2
        }
    }

    @Test func duplicateParticipantsAreRejected() throws {
        let view = try ClusterView(nodes: [Self.good], regions: Self.regions)
        let p = Participant(id: "same", location: .init())
        #expect(throws: PlacementError.duplicateParticipant("same")) {
            _ = try PlacementEngine(catalog: Fixtures.catalog).place([p, p], policy: Self.policy(), in: view)
        }
    }

    @Test func duplicateNodesAreRejected() {
        #expect(throws: PlacementError.self) {
            _ = try ClusterView(nodes: [Self.good, Self.good], regions: Self.regions)
        }
    }
}
