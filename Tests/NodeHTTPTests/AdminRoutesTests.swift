import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import AccessTokens
import NodeHTTP
import SodiumWrapper
import TenantDirectory
import DemarcTestSupport

/// Actor so the auditor can be shared with the routes and read by the test.
actor RecordingAuditor: PolicyAuditor {
    var applied: [(String, Int, String)] = []
    func policyApplied(tenant: String, version: Int, digest: String) async throws { applied.append((tenant, version, digest)) }
    func count() -> Int { applied.count }
}

@Suite struct AdminRoutesTests {
    static let clock: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_800_000_000) }
    let key = Ed25519.PrivateKey()
    let auditor = RecordingAuditor()

    func routes() throws -> AdminRoutes {
        let directory = try TenantDirectory(path: ":memory:", catalog: Fixtures.catalog, now: Self.clock)
        _ = try directory.createTenant("acme")
        _ = try directory.putPolicy(tenant: "acme", source: "tenant: acme\nversion: 1\njurisdictions: [EU]\nparticipants:\n  domains: [acme.example]\n")
        _ = try directory.createTenant("other")
        let verifier = AccessTokenVerifier(keys: [nil: key.publicKey], issuers: ["demarc"], audience: "demarc", now: Self.clock)
        return AdminRoutes(directory: directory, verifier: verifier, issuer: AccessTokenIssuer(key: key), issuerName: "demarc",
                           participantTokenSeconds: 3_600, auditor: auditor, now: Self.clock)
    }

    func token(_ role: AccessRole, tenant: String? = nil, key: Ed25519.PrivateKey? = nil, exp: Int64 = 1_800_003_600) throws -> String {
        try AccessTokenIssuer(key: key ?? self.key).issue(AccessClaims(iss: "demarc", sub: "someone@acme.example", aud: "demarc", tenant: tenant,
                                                                       meeting: role == .participant ? "m1" : nil, role: role, iat: 1_800_000_000, nbf: 1_800_000_000, exp: exp))
    }

    func app() throws -> some ApplicationProtocol {
        let router = Router()
        try routes().register(on: router)
        return Application(router: router)
    }

    enum Who: String, CaseIterable { case nobody, operatorRole, acmeAdmin, otherAdmin, acmeParticipant, forged, expired }

    func header(_ who: Who) throws -> HTTPFields {
        let t: String?
        switch who {
        case .nobody: t = nil
        case .operatorRole: t = try token(.operator)
        case .acmeAdmin: t = try token(.tenantAdmin, tenant: "acme")
        case .otherAdmin: t = try token(.tenantAdmin, tenant: "other")
        case .acmeParticipant: t = try token(.participant, tenant: "acme")
        case .forged: t = try token(.operator, key: Ed25519.PrivateKey())
        case .expired: t = try token(.operator, exp: 1_799_999_000)
        }
        return t.map { [.authorization: "Bearer \($0)"] } ?? [:]
    }

    struct Route { let method: HTTPRequest.Method; let uri: String; let body: String; let allowed: Who; let success: HTTPResponse.Status }

    static let matrix: [Route] = [
        Route(method: .post, uri: "/v1/tenants", body: #"{"id": "newco"}"#, allowed: .operatorRole, success: .created),
        Route(method: .get, uri: "/v1/tenants", body: "", allowed: .operatorRole, success: .ok),
        Route(method: .delete, uri: "/v1/tenants/other", body: "", allowed: .operatorRole, success: .noContent),
        Route(method: .put, uri: "/v1/tenants/acme/policy", body: "tenant: acme\nversion: 2\njurisdictions: [DE]\n", allowed: .acmeAdmin, success: .ok),
        Route(method: .get, uri: "/v1/tenants/acme/policy", body: "", allowed: .acmeAdmin, success: .ok),
        Route(method: .post, uri: "/v1/tenants/acme/tokens", body: #"{"identity": "ana@acme.example", "meeting": "m1"}"#, allowed: .acmeAdmin, success: .created),
    ]

    @Test func everyRoleAgainstEveryRoute() async throws {
        for route in Self.matrix {
            for who in Who.allCases {
                let app = try app()
                let h = try header(who)
                try await app.test(.router) { client in
                    try await client.execute(uri: route.uri, method: route.method, headers: h, body: ByteBuffer(string: route.body)) { response in
                        let expected: HTTPResponse.Status
                        switch who {
                        case route.allowed: expected = route.success
                        case .nobody, .forged, .expired: expected = .unauthorized
                        default: expected = .forbidden
                        }
                        #expect(response.status == expected, "\(who) \(route.method) \(route.uri): \(String(buffer: response.body))")
                        if expected != route.success {
                            let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                            #expect(body?["code"] as? String != nil && body?["message"] as? String != nil)
                        }
                    }
                }
            }
        }
    }

    @Test func anInvalidPolicyIsRefusedWithItsProblemsAndChangesNothing() async throws {
        let app = try app()
        let h = try header(.acmeAdmin)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/tenants/acme/policy", method: .put, headers: h,
                                     body: ByteBuffer(string: "tenant: acme\nversion: 2\njurisdictions: [UK]\n")) { response in
                #expect(response.status == .unprocessableContent)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                #expect(body["code"] as? String == "invalid_policy")
                let problems = try #require(body["problems"] as? [[String: Any]])
                #expect(problems.contains { $0["line"] as? Int == 3 && ($0["fix"] as? String ?? "").contains("GB") })
            }
            try await client.execute(uri: "/v1/tenants/acme/policy", method: .get, headers: h) { response in
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(body?["version"] as? Int == 1)
            }
            try await client.execute(uri: "/v1/tenants/acme/policy", method: .put, headers: h,
                                     body: ByteBuffer(string: "tenant: acme\nversion: 1\njurisdictions: [DE]\n")) { response in
                #expect(response.status == .conflict)
            }
        }
        #expect(await auditor.count() == 0, "nothing applied, nothing audited")
    }

    @Test func applyingAPolicyIsAudited() async throws {
        let app = try app()
        let h = try header(.acmeAdmin)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/tenants/acme/policy", method: .put, headers: h,
                                     body: ByteBuffer(string: "tenant: acme\nversion: 7\njurisdictions: [DE]\n")) { response in
                #expect(response.status == .ok)
            }
        }
        let applied = await auditor.applied
        #expect(applied.count == 1 && applied[0].0 == "acme" && applied[0].1 == 7 && applied[0].2.hasPrefix("sha256:"))
    }

    @Test func participantTokensRespectTheTenantsDomains() async throws {
        let app = try app()
        let h = try header(.acmeAdmin)
        let verifier = AccessTokenVerifier(keys: [nil: key.publicKey], issuers: ["demarc"], audience: "demarc", now: Self.clock)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/tenants/acme/tokens", method: .post, headers: h,
                                     body: ByteBuffer(string: #"{"identity": "eve@evil.example", "meeting": "m1"}"#)) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("identity_not_allowed"))
            }
            // A participant token without a meeting would be refused by every verifier: refuse to issue it.
            try await client.execute(uri: "/v1/tenants/acme/tokens", method: .post, headers: h,
                                     body: ByteBuffer(string: #"{"identity": "ana@acme.example"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("meeting"))
            }
            try await client.execute(uri: "/v1/tenants/acme/tokens", method: .post, headers: h,
                                     body: ByteBuffer(string: #"{"identity": "ana@acme.example", "meeting": "m1", "ttl_seconds": 600}"#)) { response in
                #expect(response.status == .created)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                let claims = try verifier.verify(try #require(body["token"] as? String))
                #expect(claims.role == .participant && claims.tenant == "acme" && claims.meeting == "m1" && claims.sub == "ana@acme.example")
                #expect(claims.exp - claims.iat == 600)
            }
            for bad in [#"{"identity": "ana@acme.example", "ttl_seconds": 999999}"#, #"{"identity": "ana@acme.example", "grants": ["root"]}"#,
                        #"{"who": "x"}"#, "not json"] {
                try await client.execute(uri: "/v1/tenants/acme/tokens", method: .post, headers: h, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                }
            }
        }
    }

    @Test func createTenantReturnsAWorkingAdminToken() async throws {
        let app = try app()
        let op = try header(.operatorRole)
        try await app.test(.router) { client in
            let adminToken = try await client.execute(uri: "/v1/tenants", method: .post, headers: op, body: ByteBuffer(string: #"{"id": "newco"}"#)) { response in
                #expect(response.status == .created)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                return try #require(body["admin_token"] as? String)
            }
            try await client.execute(uri: "/v1/tenants/newco/policy", method: .put, headers: [.authorization: "Bearer \(adminToken)"],
                                     body: ByteBuffer(string: "tenant: newco\nversion: 1\njurisdictions: [CH]\n")) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/tenants", method: .post, headers: op, body: ByteBuffer(string: #"{"id": "newco"}"#)) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/v1/tenants", method: .post, headers: op, body: ByteBuffer(string: #"{"id": "Bad Name"}"#)) { response in
                #expect(response.status == .badRequest)
            }
        }
    }
}
