public import Hummingbird
public import AccessTokens
public import TenantDirectory
import Residency
public import Foundation

/// Records policy changes in the transparency log (bound by the node; a test may record in memory).
public protocol PolicyAuditor: Sendable {
    func policyApplied(tenant: String, version: Int, digest: String) async throws
}

/// Told of every tenant change this node accepted from the API, after it is stored (the
/// node replicates tenants and policies to its peers through this).
public protocol TenantChangeObserver: Sendable {
    func tenantCreated(_ tenant: String) async
    func policyApplied(tenant: String, source: String) async
    func tenantDeleted(_ tenant: String) async
}

/// The tenant and token API a node serves (docs/node-api.md). Least privilege:
///
///     POST   /v1/tenants                      operator        create a tenant; returns its admin token
///     GET    /v1/tenants                      operator        tenant ids and count
///     DELETE /v1/tenants/{tenant}             operator
///     PUT    /v1/tenants/{tenant}/policy      tenantAdmin     validate and apply a new version
///     GET    /v1/tenants/{tenant}/policy      tenantAdmin     the applied version
///     POST   /v1/tenants/{tenant}/tokens      tenantAdmin     a short-lived participant token
///
/// The operator never sets or reads a tenant's policy, and a tenant admin acts on
/// its own tenant only.
public struct AdminRoutes: Sendable {
    public let directory: TenantDirectory
    public let verifier: AccessTokenVerifier
    public let issuer: AccessTokenIssuer
    /// The `iss` written into tokens this node issues (must be in `verifier.issuers`).
    public let issuerName: String
    public let participantTokenSeconds: Int64
    public let adminTokenSeconds: Int64
    public let auditor: (any PolicyAuditor)?
    public let observer: (any TenantChangeObserver)?
    let now: @Sendable () -> Date

    public init(directory: TenantDirectory, verifier: AccessTokenVerifier, issuer: AccessTokenIssuer, issuerName: String,
                participantTokenSeconds: Int64 = 3_600, adminTokenSeconds: Int64 = 30 * 86_400,
                auditor: (any PolicyAuditor)? = nil, observer: (any TenantChangeObserver)? = nil,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.directory = directory
        self.verifier = verifier
        self.issuer = issuer
        self.issuerName = issuerName
        self.participantTokenSeconds = participantTokenSeconds
        self.adminTokenSeconds = adminTokenSeconds
        self.auditor = auditor
        self.observer = observer
        self.now = now
    }

    public static let maximumBodyBytes = 1 << 20

    struct CreateTenant: Codable { let id: String }
    struct TenantCreated: Codable { let tenant: String; let admin_token: String; let admin_token_expires: Int64 }
    struct TenantList: Codable { let tenants: [String]; let count: Int }
    struct PolicyApplied: Codable {
        let tenant: String, version: Int, digest: String
        let warnings: [APIError.ProblemBody]
    }
    struct PolicyBody: Codable { let tenant: String, version: Int, digest: String, source: String, applied_at: Int64 }
    struct TokenRequest: Codable {
        let identity: String
        let meeting: String?
        let grants: [String]?
        let ttl_seconds: Int64?
        let guest: Bool?
    }
    struct TokenIssued: Codable { let token: String; let expires: Int64 }

    static let knownGrants: Set<String> = ["publish", "subscribe", "transparency"]

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("v1/tenants") { request, context in
            _ = try authorize(request, .operator, tenant: nil)
            let body = try await decode(CreateTenant.self, request, context)
            let record = try mapDirectory { try directory.createTenant(body.id) }
            await observer?.tenantCreated(record.id)
            let (token, expires) = try issueToken(sub: "admin@\(record.id)", tenant: record.id, meeting: nil, role: .tenantAdmin,
                                                  grants: [], lifetime: adminTokenSeconds)
            return try jsonResponse(TenantCreated(tenant: record.id, admin_token: token, admin_token_expires: expires), status: .created)
        }
        router.get("v1/tenants") { request, _ in
            _ = try authorize(request, .operator, tenant: nil)
            let ids = try mapDirectory { try directory.tenantIDs() }
            return try jsonResponse(TenantList(tenants: ids, count: ids.count))
        }
        router.delete("v1/tenants/:tenant") { request, context in
            let tenant = try context.parameters.require("tenant")
            _ = try authorize(request, .operator, tenant: nil)
            try mapDirectory { try directory.deleteTenant(tenant) }
            await observer?.tenantDeleted(tenant)
            return Response(status: .noContent)
        }
        router.put("v1/tenants/:tenant/policy") { request, context in
            let tenant = try context.parameters.require("tenant")
            _ = try authorize(request, .tenantAdmin, tenant: tenant)
            let buffer = try await request.body.collect(upTo: Self.maximumBodyBytes)
            let source = String(buffer: buffer)
            let applied = try mapDirectory { try directory.putPolicy(tenant: tenant, source: source) }
            let record = applied.record
            try await auditor?.policyApplied(tenant: tenant, version: record.version, digest: record.digest)
            await observer?.policyApplied(tenant: tenant, source: source)
            return try jsonResponse(PolicyApplied(tenant: tenant, version: record.version, digest: record.digest,
                                          warnings: applied.warnings.map(Self.problemBody)))
        }
        router.get("v1/tenants/:tenant/policy") { request, context in
            let tenant = try context.parameters.require("tenant")
            _ = try authorize(request, .tenantAdmin, tenant: tenant)
            guard let (record, _) = try mapDirectory({ try directory.currentPolicy(tenant: tenant) }) else {
                throw APIError(.notFound, "no_policy", "tenant '\(tenant)' has no policy yet; PUT one to /v1/tenants/\(tenant)/policy")
            }
            return try jsonResponse(PolicyBody(tenant: tenant, version: record.version, digest: record.digest, source: record.source,
                                       applied_at: Int64(record.appliedAt.timeIntervalSince1970)))
        }
        router.post("v1/tenants/:tenant/tokens") { request, context in
            let tenant = try context.parameters.require("tenant")
            _ = try authorize(request, .tenantAdmin, tenant: tenant)
            let body = try await decode(TokenRequest.self, request, context)
            guard let (_, policy) = try mapDirectory({ try directory.currentPolicy(tenant: tenant) }) else {
                throw APIError(.conflict, "no_policy", "put a residency policy before issuing participant tokens")
            }
            // A participant token always names its meeting (the verifier refuses one that does not).
            guard let meeting = body.meeting, !meeting.isEmpty, meeting.utf8.count <= 64 else {
                throw APIError(.badRequest, "bad_request", "a participant token is for one meeting: give \"meeting\" (1-64 characters)")
            }
            guard !body.identity.isEmpty, body.identity.utf8.count <= 320 else {
                throw APIError(.badRequest, "bad_request", "identity must be 1-320 characters, e.g. ana@example.com")
            }
            guard policy.participants.admits(identity: body.identity, isGuest: body.guest ?? false) else {
                throw APIError(.forbidden, "identity_not_allowed",
                               "tenant policy v\(policy.version) does not admit this identity's domain (allowed: \(policy.participants.domains.joined(separator: ", ")))")
            }
            let grants = body.grants ?? ["publish", "subscribe"]
            if let unknown = grants.first(where: { !Self.knownGrants.contains($0) }) {
                throw APIError(.badRequest, "bad_request", "unknown grant '\(unknown)'; grants are: \(Self.knownGrants.sorted().joined(separator: ", "))")
            }
            let ttl = body.ttl_seconds ?? participantTokenSeconds
            guard (60...participantTokenSeconds).contains(ttl) else {
                throw APIError(.badRequest, "bad_request", "ttl_seconds must be between 60 and \(participantTokenSeconds)")
            }
            let (token, expires) = try issueToken(sub: body.identity, tenant: tenant, meeting: meeting, role: .participant,
                                                  grants: grants, lifetime: ttl)
            return try jsonResponse(TokenIssued(token: token, expires: expires), status: .created)
        }
    }

    /// Checks the bearer token and that its role (and tenant) may use this route.
    func authorize(_ request: Request, _ role: AccessRole, tenant: String?) throws -> AccessClaims {
        guard let header = request.headers[.authorization] else { throw APIError.unauthenticated }
        guard header.hasPrefix("Bearer ") else { throw APIError(.unauthorized, "unauthenticated", "use the Bearer scheme") }
        let claims: AccessClaims
        do { claims = try verifier.verify(String(header.dropFirst(7))) } catch {
            throw APIError(.unauthorized, "invalid_token", error.description)
        }
        guard claims.role == role else {
            throw APIError.forbidden("this route needs a \(role.rawValue) token; this one is for a \(claims.role.rawValue)")
        }
        if let tenant, claims.tenant != tenant { throw APIError.forbidden("this token is for another tenant") }
        return claims
    }

    func issueToken(sub: String, tenant: String?, meeting: String?, role: AccessRole, grants: [String], lifetime: Int64) throws -> (String, Int64) {
        let iat = Int64(now().timeIntervalSince1970)
        let claims = AccessClaims(iss: issuerName, sub: sub, aud: verifier.audience, tenant: tenant, meeting: meeting, role: role,
                                  grants: grants, iat: iat, nbf: iat, exp: iat + lifetime)
        return (try issuer.issue(claims), iat + lifetime)
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: some RequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: buffer)) } catch {
            throw APIError(.badRequest, "bad_request", "the body is not the expected JSON: \(Self.describe(error))")
        }
    }

    public static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing field '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, c): "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case let DecodingError.valueNotFound(_, c): "null at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "not valid JSON"
        }
    }

    func mapDirectory<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as DirectoryError {
            switch e {
            case .noSuchTenant: throw APIError(.notFound, e.code, e.description)
            case .tenantExists, .staleVersion: throw APIError(.conflict, e.code, e.description)
            case .invalidTenantID, .tenantMismatch: throw APIError(.badRequest, e.code, e.description)
            case let .invalidPolicy(config):
                throw APIError(.unprocessableContent, e.code, "the policy has \(config.errors.count) error(s); nothing was changed",
                               problems: config.problems.map(Self.problemBody))
            case .storage: throw APIError(.internalServerError, e.code, "the node could not store this; try again")
            }
        }
    }

    static func problemBody(_ p: ConfigProblem) -> APIError.ProblemBody {
        .init(severity: p.severity.rawValue, line: p.location.line, column: p.location.column, field: p.field, message: p.message, fix: p.fix)
    }
}
