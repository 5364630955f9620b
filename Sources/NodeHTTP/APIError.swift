public import Hummingbird
import Foundation

/// An error the node's admin API returns as JSON: `{"code": "...", "message": "..."}`
/// (plus `problems` for an invalid policy). Codes are stable; docs/node-api.md lists them.
public struct APIError: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let problems: [ProblemBody]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, problems: [ProblemBody] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems
    }

    public struct ProblemBody: Codable, Equatable, Sendable {
        public let severity: String, line: Int, column: Int, field: String, message: String, fix: String
    }

    struct Body: Codable { let code: String; let message: String; let problems: [ProblemBody]? }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(Body(code: code, message: message, problems: problems.isEmpty ? nil : problems))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static let unauthenticated = APIError(.unauthorized, "unauthenticated", "send `Authorization: Bearer <token>`")
    static func forbidden(_ why: String) -> APIError { APIError(.forbidden, "forbidden", why) }
}

/// JSON responses with sorted keys (stable output for people and diffs).
public func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
