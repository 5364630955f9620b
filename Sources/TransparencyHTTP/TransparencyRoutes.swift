public import Hummingbird
public import AccessTokens
public import TransparencyStore
import Transparency
import Foundation

/// The transparency endpoints a node mounts on its HTTP server (docs/transparency-api.yaml).
///
///     GET /v1/transparency/checkpoint                                       anyone
///     GET /v1/transparency/checkpoints/{size}                               anyone
///     GET /v1/transparency/consistency?from=M&to=N                          anyone
///     GET /v1/transparency/statistics                                       operator
///     GET /v1/transparency/tenants/{tenant}/meetings                        tenantAdmin
///     GET /v1/transparency/tenants/{tenant}/meetings/{meeting}/report[?format=html]
///                                                                           tenantAdmin, participant
public struct TransparencyRoutes: Sendable {
    public let log: TransparencyLog
    public let tokens: AccessTokenVerifier

    public init(log: TransparencyLog, tokens: AccessTokenVerifier) {
        self.log = log
        self.tokens = tokens
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("v1/transparency")
        group.get("checkpoint") { _, _ in
            try await guarded { text(try await log.latestCheckpoint().serialized) }
        }
        group.get("checkpoints/:size") { _, context in
            try await guarded {
                guard let size = context.parameters.get("size", as: UInt64.self) else {
                    throw TransparencyAPIError(.badRequest, "size must be a non-negative integer")
                }
                guard let note = try await log.store.checkpoint(size: size) else {
                    throw TransparencyAPIError(.notFound, "no checkpoint of size \(size) was signed; fetch /v1/transparency/checkpoint for the latest")
                }
                return text(note)
            }
        }
        group.get("consistency") { request, _ in
            try await guarded {
                guard let from = request.uri.queryParameters.get("from", as: UInt64.self),
                      let to = request.uri.queryParameters.get("to", as: UInt64.self) else {
                    throw TransparencyAPIError(.badRequest, "query parameters 'from' and 'to' (tree sizes) are required")
                }
                let head = try await log.store.treeHead()
                guard from <= to else { throw TransparencyAPIError(.badRequest, "'from' (\(from)) must not exceed 'to' (\(to))") }
                guard to <= head.size else { throw TransparencyAPIError(.notFound, "the log has \(head.size) entries; 'to' (\(to)) is beyond it") }
                let proof = try await log.consistencyProof(from: from, to: to)
                return try json(ConsistencyProofBody(from: from, to: to, proof: proof.map { Data($0.bytes).base64EncodedString() }))
            }
        }
        group.get("statistics") { request, _ in
            try await guarded {
                try authorize(.statistics, request)
                return try json(try await log.store.statistics())
            }
        }
        group.get("tenants/:tenant/meetings") { request, context in
            try await guarded {
                let tenant = try parameter(context, "tenant")
                try authorize(.meetingList(tenant: tenant), request)
                return try json(MeetingListBody(tenant: tenant, meetings: try await log.store.meetings(ofTenant: tenant)))
            }
        }
        group.get("tenants/:tenant/meetings/:meeting/report") { request, context in
            try await guarded {
                let tenant = try parameter(context, "tenant"), meeting = try parameter(context, "meeting")
                try authorize(.meetingReport(tenant: tenant, meeting: meeting), request)
                guard let key = try await log.store.commitmentKey(forTenant: tenant, create: false) else {
                    throw TransparencyAPIError(.notFound, "no transparency records for this meeting")
                }
                let commitment = key.meeting(meeting)
                guard try await log.store.meetingBelongs(commitment, toTenant: tenant),
                      let report = try await log.report(meeting: commitment) else {
                    throw TransparencyAPIError(.notFound, "no transparency records for this meeting")
                }
                switch request.uri.queryParameters.get("format") ?? "json" {
                case "json": return try json(report)
                case "html":
                    return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'"],
                                    body: .init(byteBuffer: ByteBuffer(string: report.html())))
                case let other: throw TransparencyAPIError(.badRequest, "format '\(other)' is not supported; use json or html")
                }
            }
        }
    }

    // MARK: Helpers

    private func authorize(_ resource: TransparencyAccess.Resource, _ request: Request) throws {
        var claims: AccessClaims?
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else {
                throw TransparencyAPIError(.invalidToken, "the Authorization header must be 'Bearer <token>'")
            }
            do { claims = try tokens.verify(String(header.dropFirst(7))) } catch {
                throw TransparencyAPIError(.invalidToken, error.description)
            }
        }
        switch TransparencyAccess.decide(resource, claims: claims) {
        case .allow: return
        case .unauthenticated: throw TransparencyAPIError(.unauthenticated, "this resource needs a bearer token")
        case let .forbidden(why): throw TransparencyAPIError(.forbidden, why)
        }
    }

    private func parameter(_ context: some RequestContext, _ name: String) throws -> String {
        guard let v = context.parameters.get(name), !v.isEmpty, v.utf8.count <= 256 else {
            throw TransparencyAPIError(.badRequest, "path parameter '\(name)' is missing or too long")
        }
        return v
    }

    /// Maps every non-API error to a JSON 500 without leaking internals.
    private func guarded(_ body: () async throws -> Response) async throws -> Response {
        do { return try await body() } catch let e as TransparencyAPIError { throw e } catch {
            throw TransparencyAPIError(.internalError, "the transparency log could not answer; try again later")
        }
    }
}

struct ConsistencyProofBody: Codable, Sendable {
    let from: UInt64
    let to: UInt64
    let proof: [String]
}

struct MeetingListBody: Codable, Sendable {
    let tenant: String
    let meetings: [MeetingIndexRow]
}

private func text(_ s: String) -> Response {
    Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
}

private func json(_ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
