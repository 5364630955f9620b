import Hummingbird
import NodeHTTP
import Foundation

/// A typed error of the meeting API, returned as `{"code", "message"}` JSON (docs/node-api.md).
/// Placement failures keep their engine code (`no_compliant_node`, `insufficient_capacity`)
/// and carry every exclusion, so a caller sees why — and that nothing was placed elsewhere.
struct MeetingError: Error, HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var exclusions: [MeetingRecord.Exclusion] = []

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, exclusions: [MeetingRecord.Exclusion] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.exclusions = exclusions
    }

    var description: String { "\(code): \(message)" }

    struct Body: Codable { let code: String; let message: String; let exclusions: [MeetingRecord.Exclusion]? }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(Body(code: code, message: message, exclusions: exclusions.isEmpty ? nil : exclusions), status: status)
    }

    static func unauthenticated() -> MeetingError { .init(.unauthorized, "unauthenticated", "send `Authorization: Bearer <token>`") }
    static func forbidden(_ why: String) -> MeetingError { .init(.forbidden, "forbidden", why) }
    static func notFound(_ what: String) -> MeetingError { .init(.notFound, "no_such_meeting", what) }
    static func badRequest(_ why: String) -> MeetingError { .init(.badRequest, "bad_request", why) }
}
