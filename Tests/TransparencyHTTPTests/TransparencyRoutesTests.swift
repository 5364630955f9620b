import Testing
import Foundation
import Hummingbird
import HummingbirdTesting
import Residency
import SodiumWrapper
import AccessTokens
import Transparency
import TransparencyStore
@testable import TransparencyHTTP

@Suite("Transparency HTTP API")
struct TransparencyRoutesTests {
    static let fra = NodeLocation(node: "fra-1", region: "eu-de-fra", jurisdiction: CountryCode("DE")!)
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    struct Fixture {
        let router: Router<BasicRequestContext>
        let tokens: [String: String]
        let nodeKey: Ed25519.PrivateKey
        let log: TransparencyLog
    }

    static func fixture() async throws -> Fixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try SQLiteTransparencyStore(path: dir.appendingPathComponent("log.sqlite").path)
        let nodeKey = Ed25519.PrivateKey()
        let log = TransparencyLog(store: store, signer: try NoteSigner(keyName: "demarc.test/fra-1", key: nodeKey), now: { now })
        let policy = LogEvent.policyApplied(PolicySnapshot(version: 1, digest: SHA256.hash([1]), e2ee: .required,
                                                           allowed: [.media: [CountryCode("DE")!], .signaling: [CountryCode("DE")!]], retentionSeconds: [:]))
        for (tenant, meetings) in [("acme", ["m1", "m2"]), ("globex", ["g1"])] {
            let key = try #require(try await store.commitmentKey(forTenant: tenant, create: true))
            for m in meetings {
                try await log.record(policy, meeting: key.meeting(m), tenant: tenant)
                try await log.record(.participantJoined(participant: key.participant("p", inMeeting: m), at: fra), meeting: key.meeting(m), tenant: tenant)
                try await log.record(.mediaProcessed(at: fra, endToEndEncrypted: true), meeting: key.meeting(m), tenant: tenant)
            }
        }
        try await log.checkpoint()

        let issuerKey = Ed25519.PrivateKey()
        let issuer = AccessTokenIssuer(key: issuerKey)
        let verifier = AccessTokenVerifier(keys: [nil: issuerKey.publicKey], issuers: ["demarc.test"], audience: "demarc-transparency", now: { now })
        let t = Int64(now.timeIntervalSince1970)
        func token(_ role: AccessRole, tenant: String? = nil, meeting: String? = nil) throws -> String {
            try issuer.issue(AccessClaims(iss: "demarc.test", sub: "someone", aud: "demarc-transparency", tenant: tenant, meeting: meeting,
                                          role: role, iat: t, nbf: t, exp: t + 600))
        }
        let tokens = [
            "participant-m1": try token(.participant, tenant: "acme", meeting: "m1"),
            "participant-g1": try token(.participant, tenant: "globex", meeting: "g1"),
            "admin-acme": try token(.tenantAdmin, tenant: "acme"),
            "admin-globex": try token(.tenantAdmin, tenant: "globex"),
            "operator": try token(.operator),
            "expired": try issuer.issue(AccessClaims(iss: "demarc.test", sub: "x", aud: "demarc-transparency", tenant: "acme", meeting: nil,
                                                     role: .tenantAdmin, iat: t - 7200, nbf: t - 7200, exp: t - 3600)),
            "forged": try AccessTokenIssuer(key: Ed25519.PrivateKey()).issue(AccessClaims(iss: "demarc.test", sub: "x", aud: "demarc-transparency",
                                                                                          tenant: "acme", meeting: nil, role: .tenantAdmin, iat: t, nbf: t, exp: t + 60)),
        ]
        let router = Router(context: BasicRequestContext.self)
        TransparencyRoutes(log: log, tokens: verifier).register(on: router)
        return Fixture(router: router, tokens: tokens, nodeKey: nodeKey, log: log)
    }

    static let routes = [
        "/v1/transparency/checkpoint",
        "/v1/transparency/consistency?from=2&to=9",
        "/v1/transparency/statistics",
        "/v1/transparency/tenants/acme/meetings",
        "/v1/transparency/tenants/acme/meetings/m1/report",
        "/v1/transparency/tenants/acme/meetings/m2/report",
        "/v1/transparency/tenants/globex/meetings/g1/report",
    ]

    /// Expected status per caller, in the order of `routes`.
    static let matrix: [(caller: String?, statuses: [Int])] = [
        (nil, [200, 200, 401, 401, 401, 401, 401]),
        ("participant-m1", [200, 200, 403, 403, 200, 403, 403]),
        ("participant-g1", [200, 200, 403, 403, 403, 403, 200]),
        ("admin-acme", [200, 200, 403, 200, 200, 200, 403]),
        ("admin-globex", [200, 200, 403, 403, 403, 403, 200]),
        ("operator", [200, 200, 200, 403, 403, 403, 403]),
        ("expired", [200, 200, 401, 401, 401, 401, 401]),
        ("forged", [200, 200, 401, 401, 401, 401, 401]),
    ]

    @Test func accessMatrix() async throws {
        let f = try await Self.fixture()
        let tokens = f.tokens
        let app = Application(router: f.router)
        try await app.test(.router) { client in
            for (caller, statuses) in Self.matrix {
                for (route, expected) in zip(Self.routes, statuses) {
                    var headers: HTTPFields = [:]
                    if let caller { headers[.authorization] = "Bearer \(tokens[caller]!)" }
                    try await client.execute(uri: route, method: .get, headers: headers) { response in
                        #expect(Int(response.status.code) == expected, "\(caller ?? "anonymous") GET \(route)")
                        if expected >= 400 {
                            let body = try JSONDecoder().decode(ErrorBody.self, from: Data(buffer: response.body))
                            let code = expected == 401 ? (caller == nil ? "unauthenticated" : "invalid_token") : "forbidden"
                            #expect(body.code == code, "\(caller ?? "anonymous") GET \(route)")
                            #expect(!body.message.isEmpty)
                        }
                    }
                }
            }
        }
    }

    struct ErrorBody: Decodable { let code: String; let message: String }

    @Test func reportsVerifyAndOperatorsSeeNoTenantDetail() async throws {
        let f = try await Self.fixture()
        let tokens = f.tokens, nodeKey = f.nodeKey
        let app = Application(router: f.router)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/transparency/tenants/acme/meetings/m1/report", method: .get,
                                     headers: [.authorization: "Bearer \(tokens["participant-m1"]!)"]) { response in
                let report = try JSONDecoder().decode(MeetingReport.self, from: Data(buffer: response.body))
                let verified = try ReportVerifier(publicKey: nodeKey.publicKey).verify(report)
                #expect(verified.entries.count == 3)
                #expect(verified.summary.compliance.compliant)
            }
            try await client.execute(uri: "/v1/transparency/tenants/acme/meetings/m1/report?format=html", method: .get,
                                     headers: [.authorization: "Bearer \(tokens["admin-acme"]!)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(String(buffer: response.body).contains("<svg"))
            }
            try await client.execute(uri: "/v1/transparency/statistics", method: .get,
                                     headers: [.authorization: "Bearer \(tokens["operator"]!)"]) { response in
                let body = String(buffer: response.body)
                #expect(body.contains("\"treeSize\":9"))
                #expect(!body.contains("acme") && !body.contains("globex"), "operators see no tenant names")
            }
            // A tenant admin asking for a meeting that does not exist gets a 404, not another tenant's data.
            try await client.execute(uri: "/v1/transparency/tenants/acme/meetings/g1/report", method: .get,
                                     headers: [.authorization: "Bearer \(tokens["admin-acme"]!)"]) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("\"code\":\"not_found\""))
            }
        }
    }

    @Test func checkpointsAndConsistencyProofsVerify() async throws {
        let f = try await Self.fixture()
        let verifier = try NoteVerifier(keyName: "demarc.test/fra-1", publicKey: f.nodeKey.publicKey)
        let old = try await f.log.latestCheckpoint()
        try await f.log.record(.mediaProcessed(at: Self.fra, endToEndEncrypted: true), meeting: Commitment([UInt8](repeating: 3, count: 32))!, tenant: "acme")
        try await f.log.checkpoint()
        let app = Application(router: f.router)
        try await app.test(.router) { client in
            let note = try await client.execute(uri: "/v1/transparency/checkpoint", method: .get) { String(buffer: $0.body) }
            let new = try SignedCheckpoint(verifying: note, with: verifier)
            #expect(new.checkpoint.size == old.checkpoint.size + 1)
            let oldNote = try await client.execute(uri: "/v1/transparency/checkpoints/\(old.checkpoint.size)", method: .get) { String(buffer: $0.body) }
            #expect(try SignedCheckpoint(verifying: oldNote, with: verifier) == old)
            try await client.execute(uri: "/v1/transparency/consistency?from=\(old.checkpoint.size)&to=\(new.checkpoint.size)", method: .get) { response in
                struct Body: Decodable { let proof: [String] }
                let proof = try JSONDecoder().decode(Body.self, from: Data(buffer: response.body)).proof.map { MerkleHash(Array(Data(base64Encoded: $0)!))! }
                try MerkleProofVerifier.verifyConsistency(oldSize: old.checkpoint.size, newSize: new.checkpoint.size,
                                                          oldRoot: old.checkpoint.rootHash, newRoot: new.checkpoint.rootHash, proof: proof)
            }
            for (uri, status, code) in [
                ("/v1/transparency/consistency?from=5", 400, "bad_request"),
                ("/v1/transparency/consistency?from=9&to=2", 400, "bad_request"),
                ("/v1/transparency/consistency?from=1&to=999", 404, "not_found"),
                ("/v1/transparency/checkpoints/77", 404, "not_found"),
                ("/v1/transparency/checkpoints/abc", 400, "bad_request"),
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(Int(response.status.code) == status, "\(uri)")
                    #expect(String(buffer: response.body).contains("\"code\":\"\(code)\""), "\(uri)")
                }
            }
            try await client.execute(uri: "/v1/transparency/tenants/acme/meetings", method: .get,
                                     headers: [.authorization: "Basic abc"]) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    @Test func accessDecisionsArePure() {
        let t: Int64 = 0
        let admin = AccessClaims(iss: "i", sub: "s", aud: "a", tenant: "acme", meeting: nil, role: .tenantAdmin, iat: t, nbf: t, exp: t)
        #expect(TransparencyAccess.decide(.meetingReport(tenant: "acme", meeting: "x"), claims: admin) == .allow)
        #expect(TransparencyAccess.decide(.meetingReport(tenant: "globex", meeting: "x"), claims: admin) != .allow)
        #expect(TransparencyAccess.decide(.statistics, claims: nil) == .unauthenticated)
    }
}
