import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import NodeTrust
@testable import DemarcNode

/// Five `demarc node run` processes on loopback (DE ×2, IE, CH, US), driven over HTTP as an
/// operator, tenant admins and participants would: tenants and policies replicated, meetings
/// placed only in allowed jurisdictions (from any node, including a non-compliant one),
/// defence-in-depth refusal at the node, failover after a SIGKILL, a SIGTERM drain, a
/// fail-closed refusal, and transparency reports checked with `demarc transparency verify`.
@Suite(.serialized) struct ClusterEndToEndTests {
    static let specs: [LocalCluster.NodeSpec] = [
        .init(id: "fra-1", region: "eu-de-fra", jurisdiction: "DE"),
        .init(id: "fra-2", region: "eu-de-fra", jurisdiction: "DE"),
        .init(id: "dub-1", region: "eu-ie-dub", jurisdiction: "IE"),
        .init(id: "zrh-1", region: "eu-ch-zrh", jurisdiction: "CH"),
        .init(id: "iad-1", region: "us-east-iad", jurisdiction: "US"),
    ]
    static let eu: Set<String> = ["fra-1", "fra-2", "dub-1"]

    func members(_ c: LocalCluster, at node: String) async -> [[String: Any]] {
        guard let r = try? await c.http("GET", node, "/v1/cluster"), r.status == 200 else { return [] }
        return r.json["members"] as? [[String: Any]] ?? []
    }

    func meeting(_ c: LocalCluster, _ node: String, _ id: String, token: String) async -> [String: Any]? {
        guard let r = try? await c.http("GET", node, "/v1/meetings/\(id)", token: token), r.status == 200 else { return nil }
        return r.json
    }

    func verify(_ c: LocalCluster, _ aggregate: [String: Any]) throws -> Int {
        var verified = 0
        for (i, entry) in (aggregate["reports"] as? [[String: Any]] ?? []).enumerated() {
            guard let report = entry["report"] else { continue }
            let file = c.path("report-\(i).json")
            try JSONSerialization.data(withJSONObject: report).write(to: URL(fileURLWithPath: file))
            // Exit status 0 or `run` throws: every signature and inclusion proof checked.
            try c.run(["transparency", "verify", file, "--key", c.path("operator.key.pub")])
            verified += 1
        }
        return verified
    }

    /// A node-to-node request signed with `node`'s key, as that node would send it.
    func signedRequest(_ c: LocalCluster, as node: String, _ method: String, to target: String, _ path: String, body: Data) throws -> URLRequest {
        let key = try KeyFile.decodeSecret(try String(contentsOfFile: c.path("\(node).key"), encoding: .utf8))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var req = URLRequest(url: URL(string: c.base(target) + path)!)
        req.httpMethod = method
        req.httpBody = body
        req.setValue(node, forHTTPHeaderField: PeerRequestSignature.nodeHeader)
        req.setValue(String(now), forHTTPHeaderField: PeerRequestSignature.timeHeader)
        req.setValue(PeerRequestSignature.sign(method: method, path: path, unixMilliseconds: now, body: Array(body), key: key),
                     forHTTPHeaderField: PeerRequestSignature.signatureHeader)
        return req
    }

    func send(_ req: URLRequest) async throws -> LocalCluster.Reply {
        let (data, response) = try await URLSession.shared.data(for: req)
        return LocalCluster.Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// The value of an unlabelled metric in a Prometheus text page (0 when absent).
    func metric(_ page: String, _ name: String) -> Double {
        page.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// interop.py's verdict: its last output line, a JSON object.
    func interopVerdict(_ output: String) -> [String: Any] {
        output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any] ?? [:]
    }

    @Test func meetingsStayInAllowedJurisdictionsFailOverDrainAndAreReported() async throws {
        let c = try LocalCluster(Self.specs)
        defer { c.stopAll() }
        try c.startAll()
        for s in Self.specs {
            try await c.eventually("\(s.id) to see all five verified members", within: .seconds(40)) {
                let m = await members(c, at: s.id)
                return m.count == 5 && m.allSatisfy { ($0["verified"] as? Bool) == true && ($0["status"] as? String) == "alive" }
            }
        }

        // Operator creates a tenant at the US node; its admin puts an EU-only policy at fra-1.
        let operatorToken = try c.run(["token", "issue", "--key", c.path("tokens.key"), "--role", "operator", "--subject", "ops@example.org", "--ttl", "600"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await c.http("POST", "iad-1", "/v1/tenants", token: operatorToken, json: ["id": "acme-health"])
        #expect(created.status == 201, "\(created.text)")
        let admin = try #require(created.json["admin_token"] as? String)
        let policy = try String(contentsOf: LocalCluster.root.appendingPathComponent("Topologies/policies/eu-only.yaml"), encoding: .utf8)
        try await c.eventually("the tenant to reach fra-1", within: .seconds(10)) {
            (try? await c.http("PUT", "fra-1", "/v1/tenants/acme-health/policy", token: admin, body: policy))?.status == 200
        }
        for s in Self.specs {
            try await c.eventually("the policy to reach \(s.id)", within: .seconds(10)) {
                (try? await c.http("GET", s.id, "/v1/tenants/acme-health/policy", token: admin))?.json["version"] as? Int == 1
            }
        }
        // Policy history is recorded only where the policy allows transparency records: the
        // EU nodes' logs grow, the US and Swiss nodes' do not.
        for s in Self.specs {
            try await c.eventually("\(s.id)'s policy-history entry", within: .seconds(10)) {
                let appended = metric((try? await c.http("GET", s.id, "/metrics"))?.text ?? "", "demarc_transparency_appends_total")
                return Self.eu.contains(s.id) ? appended >= 1 : appended == 0
            }
        }
        // The operator may not read it (least privilege).
        #expect(try await c.http("GET", "fra-1", "/v1/tenants/acme-health/policy", token: operatorToken).status == 403)

        // A meeting created at the US node runs only on EU nodes; every other node is explained.
        let participants: [[String: Any]] = [
            ["id": "ana@acme-health.example", "country": "DE"],
            ["id": "ben@acme-health.example", "country": "IE"],
            ["id": "chloe@acme-health.example", "at": [48.86, 2.35]],
        ]
        let placed = try await c.http("POST", "iad-1", "/v1/meetings", token: admin, json: ["id": "consult-1", "participants": participants])
        #expect(placed.status == 201, "\(placed.text)")
        let nodes = Set(placed.json["nodes"] as? [String] ?? [])
        #expect(!nodes.isEmpty && nodes.isSubset(of: Self.eu), "placed on \(nodes)")
        let excluded = (placed.json["exclusions"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String }
        #expect(Set(excluded).isSuperset(of: ["iad-1", "zrh-1"]))
        let home = try #require(placed.json["home"] as? String)

        // A participant joins at the US node and is sent to a compliant edge.
        let tokenReply = try await c.http("POST", "dub-1", "/v1/tenants/acme-health/tokens", token: admin,
                                          json: ["identity": "ben@acme-health.example", "meeting": "consult-1"])
        #expect(tokenReply.status == 201, "\(tokenReply.text)")
        let ben = try #require(tokenReply.json["token"] as? String)
        let joined = try await c.http("POST", "iad-1", "/v1/meetings/consult-1/join", token: ben, json: ["country": "IE"])
        #expect(joined.status == 200, "\(joined.text)")
        let edge = joined.json["edge"] as? [String: Any] ?? [:]
        #expect(Self.eu.contains(edge["node"] as? String ?? ""), "edge \(edge)")
        // Outsiders are refused: another domain, a token for another meeting, no token.
        let outsider = try await c.http("POST", "fra-1", "/v1/tenants/acme-health/tokens", token: admin,
                                        json: ["identity": "eve@evil.example", "meeting": "consult-1"])
        #expect(outsider.status == 403 && outsider.json["code"] as? String == "identity_not_allowed")
        #expect(try await c.http("POST", "fra-1", "/v1/meetings/consult-1/join").status == 401)

        // Media in an E2EE-required meeting: an aiortc publisher that does not encrypt declares no
        // identity key, so signaling refuses its publish (`e2ee_required`) and nothing reaches the
        // subscribers. (A client that declares a key and still sends plaintext is refused by the
        // SFU's frame check: MediaNIOTests and the E2EE Chromium test cover that.)
        var consultTokens: [String] = [ben]
        for who in ["ana", "chloe"] {
            let t = try await c.http("POST", "fra-1", "/v1/tenants/acme-health/tokens", token: admin,
                                     json: ["identity": "\(who)@acme-health.example", "meeting": "consult-1"])
            let token = try #require(t.json["token"] as? String)
            #expect(try await c.http("POST", "iad-1", "/v1/meetings/consult-1/join", token: token).status == 200)
            consultTokens.append(token)
        }
        let consultEdge = try #require(edge["node"] as? String)
        let plain = try c.runPythonStatus([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                           "--url", "ws://127.0.0.1:\(c.nodes[consultEdge]!.httpPort)/v1/rtc", "--publisher", consultTokens[0],
                                           "--subscriber", consultTokens[1], "--subscriber", consultTokens[2], "--seconds", "3", "--min-frames", "1"])
        #expect(plain.status != 0, "unencrypted media reached subscribers in an E2EE-required meeting: \(plain.out)")
        #expect((interopVerdict(plain.out)["subscribers"] as? [[String: Any]] ?? []).allSatisfy { ($0["videoFrames"] as? Int ?? 1) == 0 }, "\(plain.out)")
        #expect(plain.out.contains("e2ee_required"), "the plain publisher was not refused at publish: \(plain.out.suffix(2000))")

        // An `e2ee: off` tenant's meeting carries real media (aiortc) through its edge node,
        // and that node's log records that it processed the meeting's media.
        let open = try await c.http("POST", "fra-1", "/v1/tenants", token: operatorToken, json: ["id": "open-clinic"])
        let openAdmin = try #require(open.json["admin_token"] as? String)
        let openPolicy = "tenant: open-clinic\nversion: 1\njurisdictions: [EU]\ne2ee: off\nparticipants: { domains: [open.example] }\n"
        try await c.eventually("open-clinic to accept its policy", within: .seconds(10)) {
            (try? await c.http("PUT", "fra-1", "/v1/tenants/open-clinic/policy", token: openAdmin, body: openPolicy))?.status == 200
        }
        let huddle = try await c.http("POST", "fra-1", "/v1/meetings", token: openAdmin,
                                      json: ["id": "huddle", "participants": ["pia", "quinn", "ravi"].map { ["id": "\($0)@open.example", "country": "DE"] }])
        #expect(huddle.status == 201, "\(huddle.text)")
        var mediaTokens: [String] = []
        var mediaEdge = ""
        for who in ["pia", "quinn", "ravi"] {
            let t = try await c.http("POST", "fra-1", "/v1/tenants/open-clinic/tokens", token: openAdmin, json: ["identity": "\(who)@open.example", "meeting": "huddle"])
            let token = try #require(t.json["token"] as? String)
            let j = try await c.http("POST", "dub-1", "/v1/meetings/huddle/join", token: token)
            mediaEdge = ((j.json["edge"] as? [String: Any])?["node"] as? String) ?? ""
            mediaTokens.append(token)
        }
        #expect(Self.eu.contains(mediaEdge))
        let interop = try c.runPython([LocalCluster.root.appendingPathComponent("Tests/Interop/interop.py").path,
                                       "--url", "ws://127.0.0.1:\(c.nodes[mediaEdge]!.httpPort)/v1/rtc", "--publisher", mediaTokens[0],
                                       "--subscriber", mediaTokens[1], "--subscriber", mediaTokens[2], "--seconds", "4", "--min-frames", "20"])
        // interop.py exits non-zero on too few frames or long gaps; check its verdict too.
        let verdict = interopVerdict(interop)
        let subscribers = verdict["subscribers"] as? [[String: Any]] ?? []
        #expect(subscribers.count == 2 && subscribers.allSatisfy { ($0["videoFrames"] as? Int ?? 0) >= 20 }, "\(interop)")
        #expect((verdict["node"] as? [String: Any])?["node"] as? String == mediaEdge)
        // The edge's metrics count the forwarded media.
        let edgeMetrics = try await c.http("GET", mediaEdge, "/metrics").text
        #expect(metric(edgeMetrics, "demarc_media_rtp_forwarded") > 100, "\(edgeMetrics.prefix(300))")
        let huddleReport = try await c.http("GET", mediaEdge, "/v1/meetings/huddle/transparency", token: openAdmin)
        let edgeSummary = ((huddleReport.json["reports"] as? [[String: Any]])?.first { $0["node"] as? String == mediaEdge }?["report"] as? [String: Any])?["summary"] as? [String: Any]
        #expect(edgeSummary?["mediaEndToEndEncrypted"] as? Bool == false, "\(huddleReport.text.prefix(400))")

        // Defence in depth: asked directly (a correctly signed node request) to serve the
        // meeting, the US node refuses, logs the refusal and counts it.
        let record = try #require(await meeting(c, home, "consult-1", token: admin))
        let body = try JSONSerialization.data(withJSONObject: record)
        let path = "/internal/v1/tenants/acme-health/meetings/consult-1/serve"
        let req = try signedRequest(c, as: "fra-1", "POST", to: "iad-1", path, body: body)
        let refusal = try await send(req)
        #expect(refusal.status == 403)
        #expect(refusal.text.contains("jurisdiction_not_allowed"))
        // The same bytes again are a replay; a user token is no way in either.
        #expect(try await send(req).status == 401)
        #expect(try await c.http("POST", "iad-1", path, token: admin, json: [:]).status == 401)
        // A verified member that is not part of the meeting cannot rewrite it: a record moving
        // consult-1 to the US node, signed by that node, is refused by an EU directory node.
        var forged = record
        forged["nodes"] = ["iad-1"]
        forged["home"] = "iad-1"
        forged["generation"] = 99
        let forgedReply = try await send(try signedRequest(c, as: "iad-1", "PUT", to: "dub-1", "/internal/v1/tenants/acme-health/meetings/consult-1",
                                                           body: try JSONSerialization.data(withJSONObject: forged)))
        #expect(forgedReply.status == 403, "\(forgedReply.text)")
        #expect((await meeting(c, "dub-1", "consult-1", token: admin)?["generation"] as? Int) != 99)

        let metrics = try await c.http("GET", "iad-1", "/metrics").text
        #expect(metrics.contains("demarc_refusals_total{reason=\"jurisdiction_not_allowed\"} 1"))

        // SIGKILL the home: the meeting is re-placed on surviving EU nodes only.
        c.kill(home)
        let survivors = Self.eu.subtracting([home])
        let watcher = survivors.sorted()[0]
        try await c.eventually("the meeting to be re-placed after \(home) died", within: .seconds(30)) {
            guard let m = await meeting(c, watcher, "consult-1", token: admin), m["status"] as? String == "active" else { return false }
            let n = Set(m["nodes"] as? [String] ?? [])
            return !n.isEmpty && !n.contains(home) && n.isSubset(of: Self.eu)
        }

        // The transparency report: one signed report per node that served; each verifies offline.
        let aggregate = try await c.http("GET", watcher, "/v1/meetings/consult-1/transparency", token: admin)
        #expect(aggregate.status == 200, "\(aggregate.text)")
        let reports = aggregate.json["reports"] as? [[String: Any]] ?? []
        #expect(reports.contains { $0["node"] as? String == home && $0["report"] == nil })   // dead: said, not hidden
        #expect(try verify(c, aggregate.json) >= 1)
        // Every node's own log says it processed the meeting only in DE or IE; the US node's says it refused.
        for r in reports {
            let summary = (r["report"] as? [String: Any])?["summary"] as? [String: Any] ?? [:]
            for w in summary["processing"] as? [[String: Any]] ?? [] {
                let j = (w["location"] as? [String: Any])?["jurisdiction"] as? String
                #expect(j == "DE" || j == "IE", "\(r["node"] ?? "?") processed the meeting in \(j ?? "?")")
            }
            if r["node"] as? String == "iad-1" { #expect((summary["refusals"] as? [Any])?.count == 1) }
        }
        #expect(!reports.contains { $0["node"] as? String == "zrh-1" && $0["report"] != nil })
        // A participant may read it too; a tenant admin of another tenant may not.
        #expect(try await c.http("GET", watcher, "/v1/meetings/consult-1/transparency", token: ben).status == 200)

        // SIGTERM drains: the new home moves the meeting before it exits.
        let newHome = try #require(await meeting(c, watcher, "consult-1", token: admin)?["home"] as? String)
        c.terminate(newHome)
        let last = Self.eu.subtracting([home, newHome]).sorted()[0]
        try await c.eventually("the drained meeting to move to \(last)", within: .seconds(30)) {
            guard let m = await meeting(c, last, "consult-1", token: admin) else { return false }
            return m["status"] as? String == "active" && (m["nodes"] as? [String]) == [last]
        }
        try await c.eventually("\(newHome) to exit after draining", within: .seconds(40)) { !(c.nodes[newHome]?.process?.isRunning ?? false) }
        #expect(c.nodes[newHome]?.process?.terminationStatus == 0)

        // Fail closed: a Swiss-only tenant whose only Swiss node is gone gets a typed error, never another country.
        let swiss = try await c.http("POST", last, "/v1/tenants", token: operatorToken, json: ["id": "helvetia-bank"])
        #expect(swiss.status == 201, "\(swiss.text)")
        let swissAdmin = try #require(swiss.json["admin_token"] as? String)
        let swissPolicy = try String(contentsOf: LocalCluster.root.appendingPathComponent("Topologies/policies/swiss-only.json"), encoding: .utf8)
        #expect(try await c.http("PUT", last, "/v1/tenants/helvetia-bank/policy", token: swissAdmin, body: swissPolicy).status == 200)
        // A tenant whose media may run only in CH but whose signaling data may also sit in DE/IE:
        // its meeting runs on zrh-1, and the DE/IE nodes hold directory copies of the record.
        let alpine = try await c.http("POST", last, "/v1/tenants", token: operatorToken, json: ["id": "alpine-clinic"])
        let alpineAdmin = try #require(alpine.json["admin_token"] as? String)
        let alpinePolicy = """
            tenant: alpine-clinic
            version: 1
            jurisdictions: [CH]
            categories:
              signaling:    { allow: [CH, DE, IE] }
              logs:         { allow: [CH, DE, IE], retention: 30d }
              transparency: { allow: [CH, DE, IE], retention: 365d }
            participants: { domains: [alpine.example] }
            """
        try await c.eventually("the alpine-clinic tenant to reach \(last)", within: .seconds(10)) {
            (try? await c.http("PUT", last, "/v1/tenants/alpine-clinic/policy", token: alpineAdmin, body: alpinePolicy))?.status == 200
        }
        try await c.eventually("the alpine-clinic policy to reach zrh-1", within: .seconds(10)) {
            (try? await c.http("GET", "zrh-1", "/v1/tenants/alpine-clinic/policy", token: alpineAdmin))?.json["version"] as? Int == 1
        }
        let checkup = try await c.http("POST", last, "/v1/meetings", token: alpineAdmin,
                                       json: ["id": "checkup", "participants": [["id": "lea@alpine.example", "country": "CH"]]])
        #expect(checkup.status == 201, "\(checkup.text)")
        #expect((checkup.json["nodes"] as? [String]) == ["zrh-1"])
        try await c.eventually("\(last) to hold a directory copy", within: .seconds(10)) { await meeting(c, last, "checkup", token: alpineAdmin) != nil }

        c.kill("zrh-1")
        // No compliant node is left for its media: suspended with the reason, not moved to DE or IE.
        try await c.eventually("the CH-only meeting to be suspended", within: .seconds(30)) {
            guard let m = await meeting(c, last, "checkup", token: alpineAdmin) else { return false }
            return m["status"] as? String == "suspended" && (m["reason"] as? String ?? "").hasPrefix("no_compliant_node")
        }
        let leaToken = try await c.http("POST", last, "/v1/tenants/alpine-clinic/tokens", token: alpineAdmin,
                                        json: ["identity": "lea@alpine.example", "meeting": "checkup"])
        let leaJoin = try await c.http("POST", last, "/v1/meetings/checkup/join", token: try #require(leaToken.json["token"] as? String))
        #expect(leaJoin.status == 409 && leaJoin.json["code"] as? String == "meeting_suspended", "\(leaJoin.text)")
        try await c.eventually("zrh-1 to be seen dead", within: .seconds(30)) {
            await members(c, at: last).contains { $0["node"] as? String == "zrh-1" && ($0["status"] as? String) != "alive" }
        }
        let refused = try await c.http("POST", last, "/v1/meetings", token: swissAdmin,
                                       json: ["id": "board", "participants": [["id": "urs@helvetia.example", "country": "CH"]]])
        #expect(refused.status == 422, "\(refused.text)")
        #expect(refused.json["code"] as? String == "no_compliant_node")
        #expect((refused.json["exclusions"] as? [[String: Any]])?.isEmpty == false)

        // The nodes' logs name no participant, meeting, tenant, token or key.
        var secrets: [String] = ["@acme-health.example", "@helvetia.example", "@alpine.example", "consult-1", "checkup",
                                 "acme-health", "alpine-clinic", String(admin.prefix(40)), String(operatorToken.prefix(40))]
        for file in ["gossip.keyring", "tokens.key", "fra-1.key"] {
            let text = try String(contentsOfFile: c.path(file), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                if let last = line.split(separator: " ").last, last.count > 20 { secrets.append(String(last)) }
            }
        }
        for s in Self.specs {
            let text = c.logText(s.id)
            #expect(!text.isEmpty)
            for secret in secrets { #expect(!text.contains(secret), "\(s.id)'s log contains \(secret.prefix(12))…") }
        }

        // Deleting a tenant destroys its commitment secret on every node: its meetings can no
        // longer be found in any log (the logs themselves stay intact and verifiable).
        #expect(try await c.http("DELETE", last, "/v1/tenants/acme-health", token: operatorToken).status == 204)
        try await c.eventually("acme-health's records to be unlinkable everywhere", within: .seconds(15)) {
            (try? await c.http("GET", last, "/v1/meetings/consult-1/transparency", token: admin))?.status == 404
        }
    }
}
