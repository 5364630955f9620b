public import Hummingbird
import Foundation

/// An error the transparency API returns as JSON: `{"code": "...", "message": "..."}`.
/// `code` values are stable and documented in docs/transparency-api.yaml.
public struct TransparencyAPIError: HTTPResponseError, Equatable {
    public enum Code: String, Sendable, Codable {
        case unauthenticated, invalidToken = "invalid_token", forbidden, notFound = "not_found"
        case badRequest = "bad_request", internalError = "internal_error"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var status: HTTPResponse.Status {
        switch code {
        case .unauthenticated, .invalidToken: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .badRequest: .badRequest
        case .internalError: .internalServerError
        }
    }

    struct Body: Codable { let code: String; let message: String }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(Body(code: code.rawValue, message: message))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
