import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import AccessTokens
import SodiumWrapper
import NodeTrust
import Gossip
import GossipNIO
import ControlPlaneWire
import Placement
import Residency
import Transparency
import TransparencyStore
import TenantDirectory
import NIOPosix
import Logging
import DemarcTestSupport
@testable import DemarcNode

/// Least privilege on the meeting routes, as a role × route matrix, on one in-process
/// node (a real MeetingService over a gossip instance that is not started, stores in a
/// temporary directory). Who may do what:
///
///     route                               operator  admin(acme)  admin(other)  participant(acme,m1)  participant(acme,m2)
///     POST /v1/meetings                   403       201          — (own tenant) 403                  403
///     GET  /v1/meetings/m1                403       200          404           200                   403
///     POST /v1/meetings/m1/join           403       403          403           200                   403
///     GET  /v1/meetings/m1/transparency   403       200          404           200                   403
///     DELETE /v1/meetings/m1              403       204          404           403                   403
///     any /internal route                 401 with every user token (peers sign; tokens are no way in)
@Suite struct MeetingRoutesAccessTests {
    static let now = Int64(Date().timeIntervalSince1970)
    let tokenKey = Ed25519.PrivateKey()

    func token(_ role: AccessRole, tenant: String? = nil, meeting: String? = nil, sub: String = "ana@acme.example") throws -> String {
        try AccessTokenIssuer(key: tokenKey).issue(AccessClaims(iss: "demarc", sub: sub, aud: "demarc", tenant: tenant, meeting: meeting, role: role,
                                                                grants: role == .participant ? ["publish", "subscribe"] : [],
                                                                iat: Self.now, nbf: Self.now, exp: Self.now + 600))
    }

    func makeRouter(_ dir: URL) async throws -> Router<BasicRequestContext> {
        let catalog = Fixtures.catalog
        let regions = try Topology.parse(try Fixtures.text("Topologies/regions.yaml"), file: "regions.yaml", catalog: catalog, requireNodes: false)
        let operatorKey = Ed25519.PrivateKey(), nodeKey = Ed25519.PrivateKey()
        let cert = try NodeCertificate.issue(nodeID: "fra-1", nodePublicKey: nodeKey.publicKey, region: "eu-de-fra", jurisdiction: "DE",
                                             notBeforeUnix: Self.now - 60, notAfterUnix: Self.now + 3_600, serial: 1, signer: operatorKey)
        let state = NodeStateMessage(nodeID: "fra-1", address: "127.0.0.1", port: 1, region: "eu-de-fra", jurisdiction: "DE",
                                     certificate: cert.message, status: .alive, incarnation: 0, load: 0, capacity: 10,
                                     softwareVersion: "test", coordinate: nil, apiPort: 1)
        let gossip = GossipNode(instance: try SWIMInstance(localState: state, randomSeed: 1, now: .zero),
                                keyring: Keyring(primary: .init(id: "k", key: XChaCha20Poly1305.Key())), group: MultiThreadedEventLoopGroup.singleton)
        let directory = try TenantDirectory(path: ":memory:", catalog: catalog)
        for t in ["acme", "other"] {
            _ = try directory.createTenant(t)
            _ = try directory.putPolicy(tenant: t, source: "tenant: \(t)\nversion: 1\njurisdictions: [EU]\nparticipants:\n  domains: [\(t).example]\n")
        }
        let log = TransparencyLog(store: try SQLiteTransparencyStore(path: dir.appendingPathComponent("log.sqlite").path),
                                  signer: try NoteSigner(keyName: "fra-1.demarc", key: nodeKey))
        let location = NodeLocation(node: NodeID("fra-1"), region: RegionID("eu-de-fra"), jurisdiction: CountryCode("DE")!)
        let service = try MeetingService(nodeID: "fra-1", location: location, gossip: gossip, directory: directory, log: log,
                                         store: try MeetingStore(path: ":memory:"), engine: PlacementEngine(catalog: catalog),
                                         regions: regions, operators: [operatorKey.publicKey],
                                         client: PeerClient(nodeID: "fra-1", key: nodeKey, timeoutSeconds: 1), metrics: NodeMetrics(),
                                         logger: Logger(label: "test"), apiBase: "http://127.0.0.1:1", mediaEndpoint: nil)
        let verifier = AccessTokenVerifier(keys: [nil: tokenKey.publicKey], issuers: ["demarc"], audience: "demarc")
        let router = Router()
        NodeRoutes(service: service, tokens: verifier, gossip: gossip, metrics: NodeMetrics()).register(on: router)
        return router
    }

    @Test func everyRoleReachesOnlyWhatItMay() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-routes-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let app = Application(router: try await makeRouter(dir))
        let op = try token(.operator), admin = try token(.tenantAdmin, tenant: "acme"), otherAdmin = try token(.tenantAdmin, tenant: "other")
        let p1 = try token(.participant, tenant: "acme", meeting: "m1"), p2 = try token(.participant, tenant: "acme", meeting: "m2")
        let create = ByteBuffer(string: #"{"id": "m1", "participants": [{"id": "ana@acme.example", "country": "DE"}]}"#)

        try await app.test(.router) { client in
            func status(_ method: HTTPRequest.Method, _ uri: String, _ token: String?, _ body: ByteBuffer? = nil) async throws -> HTTPResponse.Status {
                var headers = HTTPFields()
                if let token { headers[.authorization] = "Bearer \(token)" }
                return try await client.execute(uri: uri, method: method, headers: headers, body: body).status
            }
            // Creating: only a tenant admin.
            for t in [op, p1, p2] { #expect(try await status(.post, "/v1/meetings", t, create) == .forbidden) }
            #expect(try await status(.post, "/v1/meetings", nil, create) == .unauthorized)
            #expect(try await status(.post, "/v1/meetings", "garbage", create) == .unauthorized)
            #expect(try await status(.post, "/v1/meetings", admin, create) == .created)
            #expect(try await status(.post, "/v1/meetings", admin, create) == .conflict)   // same id again

            // Reading: the tenant's admin and the meeting's participants; nobody else.
            #expect(try await status(.get, "/v1/meetings/m1", admin) == .ok)
            #expect(try await status(.get, "/v1/meetings/m1", p1) == .ok)
            #expect(try await status(.get, "/v1/meetings/m1", p2) == .forbidden)
            #expect(try await status(.get, "/v1/meetings/m1", op) == .forbidden)
            #expect(try await status(.get, "/v1/meetings/m1", otherAdmin) == .notFound)   // another tenant's meeting does not exist for it
            #expect(try await status(.get, "/v1/meetings/m1/transparency", admin) == .ok)
            #expect(try await status(.get, "/v1/meetings/m1/transparency", p1) == .ok)
            #expect(try await status(.get, "/v1/meetings/m1/transparency", p2) == .forbidden)
            #expect(try await status(.get, "/v1/meetings/m1/transparency", op) == .forbidden)
            #expect(try await status(.get, "/v1/meetings/m1/transparency", otherAdmin) == .notFound)
            #expect(try await status(.get, "/v1/meetings", op) == .forbidden)

            // Joining: only a participant of that meeting.
            for t in [op, admin, otherAdmin, p2] { #expect(try await status(.post, "/v1/meetings/m1/join", t) == .forbidden) }
            #expect(try await status(.post, "/v1/meetings/m1/join", p1) == .ok)
            let outsider = try token(.participant, tenant: "acme", meeting: "m1", sub: "eve@evil.example")
            #expect(try await status(.post, "/v1/meetings/m1/join", outsider) == .forbidden)   // domain not admitted

            // Internal routes open to no user token.
            for t in [op, admin, p1, nil] {
                #expect(try await status(.post, "/internal/v1/tenants/acme/meetings/m1/serve", t, ByteBuffer(string: "{}")) == .unauthorized)
                #expect(try await status(.get, "/internal/v1/tenants", t) == .unauthorized)
            }

            // Ending: only the tenant's admin.
            for t in [op, p1, p2] { #expect(try await status(.delete, "/v1/meetings/m1", t) == .forbidden) }
            #expect(try await status(.delete, "/v1/meetings/m1", otherAdmin) == .notFound)
            #expect(try await status(.delete, "/v1/meetings/m1", admin) == .noContent)
            #expect(try await status(.post, "/v1/meetings/m1/join", p1) == .conflict)   // ended
        }
    }

    @Test func malformedBodiesAreTypedErrors() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-routes-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let app = Application(router: try await makeRouter(dir))
        let admin = try token(.tenantAdmin, tenant: "acme")
        var rng = SeededGenerator(seed: 5)
        let bodies = [#"{"id": "has space", "participants": []}"#, #"{"id": "ok", "participants": [{"id": "a", "country": "Germany"}]}"#,
                      #"{"id": "ok", "participants": [{"id": "a", "at": [100, 0]}]}"#, #"{"id": "ok"}"#, "not json", ""]
            + (0..<50).map { _ in String(decoding: Mutations.randomBytes(&rng, maxLength: 80), as: UTF8.self) }
        try await app.test(.router) { client in
            for b in bodies {
                let r = try await client.execute(uri: "/v1/meetings", method: .post, headers: [.authorization: "Bearer \(admin)"], body: ByteBuffer(string: b))
                #expect(r.status == .badRequest, "\(b)")
                #expect(String(buffer: r.body).contains("\"code\":\"bad_request\""))
            }
        }
    }
}
