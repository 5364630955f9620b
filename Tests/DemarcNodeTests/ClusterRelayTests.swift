import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import DemarcNode

/// A cascaded meeting across three real node processes (DE, IE, CH) with a US node in the
/// same cluster (issue 7): relay links open only between the meeting's nodes, carry real
/// aiortc media from a publisher on one node to subscribers on the others, are logged at
/// both ends and verified in the reports; the US node never sees a packet or a log entry;
/// a relay offer from it is refused and logged; killing the relay node in the middle of
/// the tree re-plans it over compliant nodes and media resumes.
@Suite(.serialized) struct ClusterRelayTests {
    static let specs: [LocalCluster.NodeSpec] = [
        .init(id: "fra-1", region: "eu-de-fra", jurisdiction: "DE"),
        .init(id: "dub-1", region: "eu-ie-dub", jurisdiction: "IE"),
        .init(id: "zrh-1", region: "eu-ch-zrh", jurisdiction: "CH"),
        .init(id: "iad-1", region: "us-east-iad", jurisdiction: "US"),
    ]
    static let allowed: Set<String> = ["fra-1", "dub-1", "zrh-1"]
    let e2e = ClusterEndToEndTests()

    func relaysOpen(_ c: LocalCluster, _ node: String) async -> Double {
        e2e.metric((try? await c.http("GET", node, "/metrics"))?.text ?? "", "demarc_relay_links_open")
    }

    func summaries(_ c: LocalCluster, at node: String, token: String, meeting: String = "rounds") async throws -> [String: [String: Any]] {
        let aggregate = try await c.http("GET", node, "/v1/meetings/\(meeting)/transparency", token: token)
        var out: [String: [String: Any]] = [:]
        for r in aggregate.json["reports"] as? [[String: Any]] ?? [] {
            if let node = r["node"] as? String, let s = (r["report"] as? [String: Any])?["summary"] as? [String: Any] { out[node] = s }
        }
        return out
    }

    @Test func cascadedMeetingRelaysMediaOnlyBetweenCompliantNodes() async throws {
        let c = try LocalCluster(Self.specs)
        defer { c.stopAll() }
        try c.startAll()
        for s in Self.specs {
            try await c.eventually("\(s.id) to see all four verified members", within: .seconds(40)) {
                let m = await e2e.members(c, at: s.id)
                return m.count == 4 && m.allSatisfy { ($0["verified"] as? Bool) == true && ($0["status"] as? String) == "alive" }
            }
        }
        let operatorToken = try c.run(["token", "issue", "--key", c.path("tokens.key"), "--role", "operator", "--subject", "ops@example.org", "--ttl", "600"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await c.http("POST", "fra-1", "/v1/tenants", token: operatorToken, json: ["id": "tri-clinic"])
        let admin = try #require(created.json["admin_token"] as? String, "\(created.text)")
        let policy = "tenant: tri-clinic\nversion: 1\njurisdictions: [DE, IE, CH]\ne2ee: off\nparticipants: { domains: [tri.example] }\n"
        #expect(try await c.http("PUT", "fra-1", "/v1/tenants/tri-clinic/policy", token: admin, body: policy).status == 200)
        for s in Self.specs {
            try await c.eventually("the policy to reach \(s.id)", within: .seconds(10)) {
                (try? await c.http("GET", s.id, "/v1/tenants/tri-clinic/policy", token: admin))?.json["version"] as? Int == 1
            }
        }

        // Two people in each of Ireland, Germany and Switzerland: placement cascades over three nodes.
        let people = [("ida", "IE"), ("ivo", "IE"), ("dora", "DE"), ("dirk", "DE"), ("chiara", "CH"), ("cyril", "CH")]
        let placed = try await c.http("POST", "iad-1", "/v1/meetings", token: admin,
                                      json: ["id": "rounds", "participants": people.map { ["id": "\($0.0)@tri.example", "country": $0.1] }])
        #expect(placed.status == 201, "\(placed.text)")
        let nodes = Set(placed.json["nodes"] as? [String] ?? [])
        #expect(nodes == Self.allowed, "placed on \(nodes)")
        let tree = (placed.json["relay_tree"] as? [[String: Any]] ?? []).compactMap { l -> (String, String)? in
            guard let p = l["parent"] as? String, let ch = l["child"] as? String else { return nil }
            return (p, ch)
        }
        #expect(tree.count == 2, "\(placed.text.prefix(600))")
        // The relay node: the one on both links.
        let middle = try #require(Self.allowed.first { n in tree.filter { $0.0 == n || $0.1 == n }.count == 2 })
        let leaves = Self.allowed.subtracting([middle]).sorted()

        var tokens: [String: String] = [:]
        var edges: [String: String] = [:]
        for (who, _) in people {
            let t = try await c.http("POST", "fra-1", "/v1/tenants/tri-clinic/tokens", token: admin, json: ["identity": "\(who)@tri.example", "meeting": "rounds"])
            tokens[who] = try #require(t.json["token"] as? String)
            let j = try await c.http("POST", "iad-1", "/v1/meetings/rounds/join", token: tokens[who])
            edges[who] = (j.json["edge"] as? [String: Any])?["node"] as? String
        }
        #expect(Set(edges.values) == Self.allowed, "\(edges)")

        // Each tree edge becomes a link, open at both ends.
        for n in Self.allowed {
            let expected = Double(tree.filter { $0.0 == n || $0.1 == n }.count)
            try await c.eventually("\(n) to have its \(Int(expected)) relay link(s) open", within: .seconds(20)) { await relaysOpen(c, n) == expected }
        }
        #expect(await relaysOpen(c, "iad-1") == 0)

        // Defence in depth: a relay offer from the US node, correctly signed, is refused and logged.
        let offer = MeetingService.RelayOffer(generation: 99, link: "00000000000000aa", parent: "iad-1", child: middle,
                                              key: Data(repeating: 9, count: 32).base64EncodedString())
        let forged = try await e2e.send(try e2e.signedRequest(c, as: "iad-1", "POST", to: middle,
                                                              "/internal/v1/tenants/tri-clinic/meetings/rounds/relay", body: JSONEncoder().encode(offer)))
        #expect(forged.status == 403 && forged.text.contains("relay_not_allowed"), "\(forged.text)")
        let middleMetrics = try await c.http("GET", middle, "/metrics").text
        #expect(middleMetrics.contains("demarc_relay_refusals_total{reason=\"jurisdiction_not_allowed\"} 1"), "\(middleMetrics.prefix(200))")

        // Real media: a publisher on one leaf; subscribers on the other leaf and on the relay node.
        let on = { (node: String) in people.map(\.0).filter { edges[$0] == node } }
        let publisher = on(leaves[0])[0], farSubscriber = on(leaves[1])[0], middleSubscriber = on(middle)[0]
        func url(_ node: String) -> String { "ws://127.0.0.1:\(c.nodes[node]!.httpPort)/v1/rtc" }
        let media = try c.runPython([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                     "--url", url(leaves[0]), "--publisher", tokens[publisher]!,
                                     "--subscriber", tokens[farSubscriber]!, "--subscriber-url", url(leaves[1]),
                                     "--subscriber", tokens[middleSubscriber]!, "--subscriber-url", url(middle),
                                     "--seconds", "4", "--min-frames", "20"])
        let subscribers = e2e.interopVerdict(media)["subscribers"] as? [[String: Any]] ?? []
        #expect(subscribers.count == 2 && subscribers.allSatisfy { ($0["videoFrames"] as? Int ?? 0) >= 20 }, "\(media)")
        for n in Self.allowed {
            let page = try await c.http("GET", n, "/metrics").text
            // The publisher's node mostly sends, the others mostly receive; all carry the tracks.
            let carried = e2e.metric(page, "demarc_media_relay_datagrams_received") + e2e.metric(page, "demarc_media_relay_datagrams_sent")
            #expect(carried > 100, "\(n) relayed only \(carried) datagrams")
        }
        // The US node saw no packet of the meeting and logged nothing about it.
        let us = try await c.http("GET", "iad-1", "/metrics").text
        #expect(e2e.metric(us, "demarc_media_datagrams_received") == 0 && e2e.metric(us, "demarc_media_relay_datagrams_received") == 0)
        #expect(e2e.metric(us, "demarc_transparency_appends_total") == 0)

        // Every link is in both ends' reports, and each report verifies offline.
        let before = try await summaries(c, at: leaves[0], token: admin)
        for (parent, child) in tree {
            for end in [parent, child] {
                let relays = before[end]?["relays"] as? [[String: Any]] ?? []
                #expect(relays.contains { (($0["from"] as? [String: Any])?["node"] as? String) == parent && (($0["to"] as? [String: Any])?["node"] as? String) == child },
                        "\(end)'s report lacks \(parent)→\(child): \(relays)")
            }
        }
        #expect(before["iad-1"] == nil)
        let aggregate = try await c.http("GET", leaves[0], "/v1/meetings/rounds/transparency", token: admin)
        #expect(try e2e.verify(c, aggregate.json) == 3)

        // The report says the e2ee: off meeting's media was not end-to-end encrypted: from what
        // the SFUs observed, not from the policy.
        try await c.eventually("the rounds reports to record unencrypted media", within: .seconds(10)) {
            let s = (try? await summaries(c, at: leaves[0], token: admin)) ?? [:]
            return Self.allowed.allSatisfy { s[$0]?["mediaEndToEndEncrypted"] as? Bool == false }
        }

        // End-to-end encryption across the cascade: a tenant whose policy requires it (the
        // default). The native SFrame client publishes on one leaf; an E2EE subscriber on the
        // other leaf decrypts what crossed both links; a wrong-key subscriber on the relay node
        // decodes nothing; the plaintext marker is in no frame any node forwarded; and every
        // node's report says the media was end-to-end encrypted throughout.
        let secure = try await c.http("POST", "fra-1", "/v1/tenants", token: operatorToken, json: ["id": "tri-secure"])
        let secureAdmin = try #require(secure.json["admin_token"] as? String, "\(secure.text)")
        let securePolicy = "tenant: tri-secure\nversion: 1\njurisdictions: [DE, IE, CH]\nparticipants: { domains: [tri.example] }\n"
        #expect(try await c.http("PUT", "fra-1", "/v1/tenants/tri-secure/policy", token: secureAdmin, body: securePolicy).status == 200)
        for s in Self.specs {
            try await c.eventually("tri-secure's policy to reach \(s.id)", within: .seconds(10)) {
                (try? await c.http("GET", s.id, "/v1/tenants/tri-secure/policy", token: secureAdmin))?.json["version"] as? Int == 1
            }
        }
        let vault = try await c.http("POST", "dub-1", "/v1/meetings", token: secureAdmin,
                                     json: ["id": "vault", "participants": people.map { ["id": "\($0.0)@tri.example", "country": $0.1] }])
        #expect(vault.status == 201 && Set(vault.json["nodes"] as? [String] ?? []) == Self.allowed, "\(vault.text)")
        let vaultTree = (vault.json["relay_tree"] as? [[String: Any]] ?? []).compactMap { l -> (String, String)? in
            guard let p = l["parent"] as? String, let ch = l["child"] as? String else { return nil }
            return (p, ch)
        }
        var secureTokens: [String: String] = [:]
        var vaultEdges: [String: String] = [:]
        for (who, _) in people {
            let t = try await c.http("POST", "fra-1", "/v1/tenants/tri-secure/tokens", token: secureAdmin, json: ["identity": "\(who)@tri.example", "meeting": "vault"])
            secureTokens[who] = try #require(t.json["token"] as? String)
            let j = try await c.http("POST", "zrh-1", "/v1/meetings/vault/join", token: secureTokens[who])
            vaultEdges[who] = (j.json["edge"] as? [String: Any])?["node"] as? String
        }
        for n in Self.allowed {
            let expected = Double((tree + vaultTree).filter { $0.0 == n || $0.1 == n }.count)
            try await c.eventually("\(n)'s links for both meetings", within: .seconds(20)) { await relaysOpen(c, n) == expected }
        }
        let vaultMiddle = try #require(Self.allowed.first { n in vaultTree.filter { $0.0 == n || $0.1 == n }.count == 2 })
        let vaultLeaves = Self.allowed.subtracting([vaultMiddle]).sorted()
        let onVault = { (node: String) in people.map(\.0).filter { vaultEdges[$0] == node } }
        let encrypted = try c.runPythonStatus([LocalCluster.root.appendingPathComponent("Tests/Interop/e2ee_client.py").path,
                                               "--url", url(vaultLeaves[0]), "--publisher", secureTokens[onVault(vaultLeaves[0])[0]]!,
                                               "--subscriber", secureTokens[onVault(vaultLeaves[1])[0]]!, "--subscriber-url", url(vaultLeaves[1]),
                                               "--wrong-key-subscriber", secureTokens[onVault(vaultMiddle)[0]]!, "--wrong-key-subscriber-url", url(vaultMiddle),
                                               "--marker", "--seconds", "4", "--min-frames", "20"])
        #expect(encrypted.status == 0, "\(encrypted.out)")
        let e2eeVerdict = e2e.interopVerdict(encrypted.out)
        let far = (e2eeVerdict["subscribers"] as? [[String: Any]] ?? []).first { ($0["wrongKey"] as? Bool) == false } ?? [:]
        #expect((far["videoFrames"] as? Int ?? 0) >= 20 && far["markerInForwardedFrames"] as? Int == 0, "\(encrypted.out)")
        try await c.eventually("every node to record the vault's media as end-to-end encrypted", within: .seconds(10)) {
            let a = try? await c.http("GET", vaultLeaves[0], "/v1/meetings/vault/transparency", token: secureAdmin)
            let s = (a?.json["reports"] as? [[String: Any]] ?? []).compactMap { ($0["report"] as? [String: Any])?["summary"] as? [String: Any] }
            return s.count == 3 && s.allSatisfy { $0["mediaEndToEndEncrypted"] as? Bool == true }
        }
        for n in Self.allowed { #expect(e2e.metric(try await c.http("GET", n, "/metrics").text, "demarc_media_e2ee_violations") == 0) }

        // The tree grows: a meeting of Irish and German participants is cascaded over two
        // nodes; when someone from Switzerland joins, the home re-places it over a third
        // compliant node, the new edge becomes a link, and media reaches the newcomer across it.
        // (A single-node meeting stays on its node when someone joins: placement keeps
        // participants where they are and a single node can take the newcomer.)
        let small = try await c.http("POST", "fra-1", "/v1/meetings", token: admin,
                                     json: ["id": "growth", "participants": [["id": "gail@tri.example", "country": "IE"], ["id": "gus@tri.example", "country": "IE"],
                                                                             ["id": "dana@tri.example", "country": "DE"], ["id": "dov@tri.example", "country": "DE"]]])
        let smallNodes = Set(small.json["nodes"] as? [String] ?? [])
        #expect(small.status == 201 && smallNodes.count == 2 && !smallNodes.contains(where: { $0 == "zrh-1" }), "\(small.text)")
        let smallNode = try #require(small.json["home"] as? String)
        var growthTokens: [String: String] = [:]
        for who in ["gail", "zora"] {
            let t = try await c.http("POST", "fra-1", "/v1/tenants/tri-clinic/tokens", token: admin, json: ["identity": "\(who)@tri.example", "meeting": "growth"])
            growthTokens[who] = try #require(t.json["token"] as? String)
        }
        let gail = try await c.http("POST", smallNode, "/v1/meetings/growth/join", token: growthTokens["gail"], json: ["country": "IE"])
        let gailEdge = try #require((gail.json["edge"] as? [String: Any])?["node"] as? String, "\(gail.text)")
        let zora = try await c.http("POST", smallNode, "/v1/meetings/growth/join", token: growthTokens["zora"], json: ["country": "CH"])
        let zoraEdge = try #require((zora.json["edge"] as? [String: Any])?["node"] as? String, "\(zora.text)")
        let grown = try #require(await e2e.meeting(c, smallNode, "growth", token: admin))
        let grownNodes = Set(grown["nodes"] as? [String] ?? [])
        let grownTree = grown["relay_tree"] as? [[String: Any]] ?? []
        #expect(!smallNodes.contains(zoraEdge) && grownNodes == smallNodes.union([zoraEdge]) && grownNodes.isSubset(of: Self.allowed)
                && grownTree.contains { ($0["parent"] as? String) == zoraEdge || ($0["child"] as? String) == zoraEdge },
                "the tree did not grow to the newcomer's node: \(grownNodes) \(grownTree)")
        let grownMedia = try c.runPythonStatus([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                                "--url", url(gailEdge), "--publisher", growthTokens["gail"]!,
                                                "--subscriber", growthTokens["zora"]!, "--subscriber-url", url(zoraEdge),
                                                "--seconds", "3", "--min-frames", "15"])
        #expect(grownMedia.status == 0, "media did not cross the grown tree: \(grownMedia.out)")
        try await c.eventually("both ends of the grown tree to log its link", within: .seconds(10)) {
            let s = (try? await summaries(c, at: smallNode, token: admin, meeting: "growth")) ?? [:]
            return (s[zoraEdge]?["relays"] as? [[String: Any]] ?? []).contains { (($0["to"] as? [String: Any])?["node"] as? String) == zoraEdge }
        }

        // Kill the relay node while media flows: the tree is re-planned over the compliant
        // survivors (never the US node) and the far subscriber's media resumes.
        let pid = try #require(c.nodes[middle]?.process?.processIdentifier)
        let failover = try c.runPythonStatus([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                              "--url", url(leaves[0]), "--publisher", tokens[publisher]!,
                                              "--subscriber", tokens[farSubscriber]!, "--subscriber-url", url(leaves[1]),
                                              "--subscriber", tokens[middleSubscriber]!, "--subscriber-url", url(middle),
                                              "--reconnect",
                                              "--seconds", "25", "--min-frames", "20", "--max-gap", "30",
                                              "--kill-pid", String(pid), "--kill-after", "2"])
        let verdicts = e2e.interopVerdict(failover.out)["subscribers"] as? [[String: Any]] ?? []
        #expect(verdicts.count == 2, "\(failover.out)")
        // The far subscriber stays connected: its media comes back once the tree is re-planned.
        let resumed = verdicts.first?["resumedAfterKillSeconds"] as? Double
        #expect(resumed != nil, "media did not resume after \(middle) died: \(failover.out)")
        // The one whose edge died reconnects through the alternates its `joined` named: a
        // survivor answers `reconnect` with its new edge, a surviving compliant node.
        let moved = verdicts.last ?? [:]
        #expect(leaves.contains(moved["rejoinedAt"] as? String ?? ""), "\(moved)")
        #expect(moved["resumedAfterKillSeconds"] as? Double != nil, "\(moved)")
        print("relay failover: far subscriber's media resumed \(resumed.map { "\($0)" } ?? "never") s after \(middle) was killed; "
              + "the moved subscriber rejoined at \(moved["rejoinedAt"] ?? "-") after \(moved["signalingDroppedToRejoinedSeconds"] ?? "-") s, media back \(moved["resumedAfterKillSeconds"] ?? "never") s after the kill")
        let replanned = try #require(await e2e.meeting(c, leaves[0], "rounds", token: admin))
        let after = Set(replanned["nodes"] as? [String] ?? [])
        #expect(!after.contains(middle) && after.isSubset(of: Self.allowed) && !after.isEmpty, "\(after)")
        try await c.eventually("the links to \(middle) to be closed in the survivors' logs", within: .seconds(10)) {
            let s = (try? await summaries(c, at: leaves[0], token: admin)) ?? [:]
            return leaves.allSatisfy { leaf in
                (s[leaf]?["relays"] as? [[String: Any]] ?? []).filter {
                    (($0["from"] as? [String: Any])?["node"] as? String) == middle || (($0["to"] as? [String: Any])?["node"] as? String) == middle
                }.allSatisfy { $0["closed"] != nil }
            }
        }
        #expect(e2e.metric(try await c.http("GET", "iad-1", "/metrics").text, "demarc_media_relay_datagrams_received") == 0)

        // SIGTERM a surviving leaf while its subscriber receives: the node drains, the meeting
        // moves to the last compliant node, and the subscriber is told `reconnect` there (it
        // does not wait for its socket to drop).
        let drained = leaves[1], remaining = leaves[0]
        let leafPID = try #require(c.nodes[drained]?.process?.processIdentifier)
        let assignments = try #require(await e2e.meeting(c, remaining, "rounds", token: admin)?["assignments"] as? [[String: Any]])
        let onDrained = try #require(people.map(\.0).first { who in
            who != publisher && assignments.contains { ($0["participant"] as? String) == "\(who)@tri.example" && ($0["edge"] as? String) == drained }
        }, "nobody on \(drained): \(assignments)")
        let drain = try c.runPythonStatus([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                           "--url", url(remaining), "--publisher", tokens[publisher]!,
                                           "--subscriber", tokens[onDrained]!, "--subscriber-url", url(drained), "--reconnect",
                                           "--seconds", "14", "--min-frames", "20", "--max-gap", "30",
                                           "--kill-pid", String(leafPID), "--kill-after", "2", "--kill-signal", "TERM"])
        let drainedVerdict = (e2e.interopVerdict(drain.out)["subscribers"] as? [[String: Any]] ?? []).first ?? [:]
        #expect(drainedVerdict["reconnectMessages"] as? Int ?? 0 >= 1, "no reconnect message during the drain: \(drain.out)")
        #expect(drainedVerdict["rejoinedAt"] as? String == remaining, "\(drain.out)")
        #expect(drainedVerdict["resumedAfterKillSeconds"] as? Double != nil, "\(drain.out)")
        print("drain: the subscriber on \(drained) was told to reconnect and rejoined at \(remaining) "
              + "\(drainedVerdict["signalingDroppedToRejoinedSeconds"] ?? "-") s later; media back \(drainedVerdict["resumedAfterKillSeconds"] ?? "never") s after SIGTERM")
        try await c.eventually("\(drained) to exit after draining", within: .seconds(40)) { !(c.nodes[drained]?.process?.isRunning ?? false) }
        #expect(c.nodes[drained]?.process?.terminationStatus == 0)
    }
}
