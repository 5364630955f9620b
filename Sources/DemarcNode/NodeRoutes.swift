import Hummingbird
import HTTPTypes
import AccessTokens
import NodeHTTP
import GossipNIO
import MediaNIO
import Gossip
import Foundation

/// The node's own routes (docs/node-api.md): health, the cluster view, meetings, and the
/// signed node-to-node routes under /internal (never reachable with a user token).
struct NodeRoutes: Sendable {
    let service: MeetingService
    let tokens: AccessTokenVerifier
    let gossip: GossipNode
    let metrics: NodeMetrics
    var media: MediaServer? = nil
    static let maximumBodyBytes = 1 << 20

    struct MemberBody: Codable {
        var node: String, region: String, jurisdiction: String, status: String
        var verified: Bool, reason: String?, load: Int?, capacity: Int?
    }
    struct ClusterBody: Codable { var node: String; var draining: Bool; var members: [MemberBody] }
    struct MeetingList: Codable { var meetings: [MeetingRecord] }
    struct Location: Codable { var country: String?; var at: [Double]? }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("readyz") { _, _ in
            let draining = await service.draining
            let members = await gossip.instance.members.values.filter { $0.status == .alive }.count
            let ready = !draining
            return Response(status: ready ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: ready ? "ready (\(members) peers alive)\n" : "draining\n")))
        }
        router.get("metrics") { _, _ in
            let text = await metrics.scrape(gossip: gossip, media: media)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        // Node-level facts only (what gossip already spreads): ids, regions, status, load.
        router.get("v1/cluster") { _, _ in
            let view = try await service.placementView()
            let gossipView = await service.gossipView()
            var members = view.nodes.map {
                MemberBody(node: $0.id.rawValue, region: $0.region.rawValue, jurisdiction: $0.jurisdiction.rawValue,
                           status: $0.health.rawValue, verified: true, reason: nil, load: $0.load, capacity: $0.capacity)
            }
            members += gossipView.unverified.map {
                MemberBody(node: $0.nodeID, region: $0.claimedRegion, jurisdiction: $0.claimedJurisdiction, status: "unverified",
                           verified: false, reason: $0.reason, load: nil, capacity: nil)
            }
            return try jsonResponse(ClusterBody(node: service.nodeID, draining: await service.draining, members: members))
        }

        router.post("v1/meetings") { request, _ in
            let claims = try authorize(request, .tenantAdmin)
            let body = try await decode(MeetingService.CreateRequest.self, request)
            return try jsonResponse(try await service.create(tenant: try tenant(claims), body), status: .created)
        }
        router.get("v1/meetings") { request, _ in
            let claims = try authorize(request, .tenantAdmin)
            return try jsonResponse(MeetingList(meetings: await service.meetings(ofTenant: try tenant(claims))))
        }
        router.get("v1/meetings/:meeting") { request, context in
            let meeting = try context.parameters.require("meeting")
            let claims = try authorizeMeeting(request, meeting)
            guard let record = await service.holds(tenant: try tenant(claims), id: meeting) else {
                throw MeetingError.notFound("no meeting '\(meeting)' known at this node; ask a node of its jurisdictions")
            }
            return try jsonResponse(record)
        }
        router.post("v1/meetings/:meeting/join") { request, context in
            let meeting = try context.parameters.require("meeting")
            let claims = try authorize(request, .participant)
            guard claims.meeting == meeting else { throw MeetingError.forbidden("this token is for another meeting") }
            guard !Set(claims.grants).isDisjoint(with: ["publish", "subscribe"]) else {
                throw MeetingError.forbidden("this token grants neither publish nor subscribe")
            }
            let location = try await decodeIfPresent(Location.self, request) ?? Location()
            let answer = try await service.join(tenant: try tenant(claims), meeting: meeting,
                                                .init(participant: claims.sub, country: location.country, at: location.at,
                                                      guest: claims.grants.contains(AdminRoutes.guestGrant)), forwarded: false)
            return try jsonResponse(answer)
        }
        router.delete("v1/meetings/:meeting") { request, context in
            let meeting = try context.parameters.require("meeting")
            let claims = try authorize(request, .tenantAdmin)
            try await service.end(tenant: try tenant(claims), meeting: meeting, forwarded: false)
            return Response(status: .noContent)
        }
        router.get("v1/meetings/:meeting/transparency") { request, context in
            let meeting = try context.parameters.require("meeting")
            let claims = try authorizeMeeting(request, meeting)
            return try jsonResponse(try await service.aggregateReport(tenant: try tenant(claims), meeting: meeting))
        }
        registerInternal(on: router)
    }

    // MARK: Node-to-node

    func registerInternal<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("internal/v1")
        group.get("tenants") { request, _ in
            _ = try await peer(request, body: [])
            return try jsonResponse(try await service.exportTenants())
        }
        group.put("tenants/:tenant") { request, context in
            _ = try await peer(request, body: try await bytes(request))
            await service.importTenant(try context.parameters.require("tenant"), policy: nil)
            return Response(status: .noContent)
        }
        group.put("tenants/:tenant/policy") { request, context in
            let body = try await bytes(request)
            _ = try await peer(request, body: body)
            await service.importTenant(try context.parameters.require("tenant"), policy: String(decoding: body, as: UTF8.self))
            return Response(status: .noContent)
        }
        group.delete("tenants/:tenant") { request, context in
            _ = try await peer(request, body: [])
            await service.removeTenant(try context.parameters.require("tenant"))
            return Response(status: .noContent)
        }
        group.post("tenants/:tenant/meetings") { request, context in
            let body = try await bytes(request)
            _ = try await peer(request, body: body)
            let tenant = try context.parameters.require("tenant")
            let create = try decodeBody(MeetingService.CreateRequest.self, body)
            let policy = try await service.policy(tenant: tenant)
            return try jsonResponse(try await service.takeHome(tenant: tenant, create, policy: policy), status: .created)
        }
        group.post("tenants/:tenant/meetings/:meeting/serve") { request, _ in
            let body = try await bytes(request)
            let caller = try await peer(request, body: body)
            try await service.serve(try decodeBody(MeetingRecord.self, body), from: caller)
            return Response(status: .noContent)
        }
        group.put("tenants/:tenant/meetings/:meeting") { request, _ in
            let body = try await bytes(request)
            let caller = try await peer(request, body: body)
            try await service.storeReplica(try decodeBody(MeetingRecord.self, body), from: caller)
            return Response(status: .noContent)
        }
        group.post("tenants/:tenant/meetings/:meeting/relay") { request, context in
            let body = try await bytes(request)
            let caller = try await peer(request, body: body)
            let (answer, signature) = try await service.acceptRelay(tenant: try context.parameters.require("tenant"), meeting: try context.parameters.require("meeting"),
                                                                    offerBody: body, from: caller)
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            if let name = HTTPField.Name(MeetingService.relayResponseSignatureHeader) { headers[name] = signature }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer)))
        }
        group.post("tenants/:tenant/meetings/:meeting/join") { request, context in
            let body = try await bytes(request)
            _ = try await peer(request, body: body)
            let answer = try await service.join(tenant: try context.parameters.require("tenant"), meeting: try context.parameters.require("meeting"),
                                                try decodeBody(MeetingService.JoinRequest.self, body), forwarded: true)
            return try jsonResponse(answer)
        }
        group.delete("tenants/:tenant/meetings/:meeting") { request, context in
            _ = try await peer(request, body: [])
            try await service.end(tenant: try context.parameters.require("tenant"), meeting: try context.parameters.require("meeting"), forwarded: true)
            return Response(status: .noContent)
        }
        group.get("tenants/:tenant/meetings/:meeting/report") { request, context in
            _ = try await peer(request, body: [])
            guard let report = try await service.localReport(tenant: try context.parameters.require("tenant"), meeting: try context.parameters.require("meeting")) else {
                throw MeetingError.notFound("this node logged nothing for the meeting")
            }
            return try jsonResponse(report)
        }
    }

    // MARK: Helpers

    func bytes(_ request: Request) async throws -> [UInt8] {
        let buffer = try await request.body.collect(upTo: Self.maximumBodyBytes)
        return Array(buffer.readableBytesView)
    }

    func peer(_ request: Request, body: [UInt8]) async throws -> String {
        let h = request.headers
        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { h[$0] } }
        let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        return try await service.authenticatePeer(method: request.method.rawValue, path: target,
                                                  node: header(PeerRequestSignature.nodeHeader), time: header(PeerRequestSignature.timeHeader),
                                                  signature: header(PeerRequestSignature.signatureHeader), body: body)
    }

    func authorize(_ request: Request, _ role: AccessRole) throws -> AccessClaims {
        let claims = try claims(request)
        guard claims.role == role else {
            throw MeetingError.forbidden("this route needs a \(role.rawValue) token; this one is for a \(claims.role.rawValue)")
        }
        return claims
    }

    /// A tenant admin of the meeting's tenant, or a participant whose token names this meeting.
    func authorizeMeeting(_ request: Request, _ meeting: String) throws -> AccessClaims {
        let claims = try claims(request)
        switch claims.role {
        case .tenantAdmin: return claims
        case .participant where claims.meeting == meeting: return claims
        case .participant: throw MeetingError.forbidden("this token is for another meeting")
        case .operator: throw MeetingError.forbidden("operators see aggregate counts only, not a tenant's meetings")
        }
    }

    func claims(_ request: Request) throws -> AccessClaims {
        guard let header = request.headers[.authorization] else { throw MeetingError.unauthenticated() }
        guard header.hasPrefix("Bearer ") else { throw MeetingError(.unauthorized, "unauthenticated", "use the Bearer scheme") }
        do { return try tokens.verify(String(header.dropFirst(7))) } catch {
            throw MeetingError(.unauthorized, "invalid_token", error.description)
        }
    }

    func tenant(_ claims: AccessClaims) throws -> String {
        guard let t = claims.tenant else { throw MeetingError.forbidden("this token names no tenant") }
        return t
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try decodeBody(type, try await bytes(request))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T? {
        let b = try await bytes(request)
        return b.isEmpty ? nil : try decodeBody(type, b)
    }

    func decodeBody<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw MeetingError.badRequest("the body is not the expected JSON: \(AdminRoutes.describe(error))")
        }
    }
}
