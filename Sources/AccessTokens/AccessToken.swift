public import SodiumWrapper
public import Foundation

/// Who a token speaks for.
public enum AccessRole: String, Sendable, Codable, CaseIterable {
    /// Runs the cluster; sees aggregate counts only, never a tenant's meeting details.
    case `operator`
    /// Administers one tenant; sees that tenant's meetings.
    case tenantAdmin
    /// Took part in one meeting; sees that meeting only.
    case participant
}

/// The claims of a Demarc access token (RFC 7519 names where they exist).
public struct AccessClaims: Sendable, Equatable, Codable {
    public var iss: String
    /// The identity (RFC 7519 `sub`). Never written to the transparency log.
    public var sub: String
    public var aud: String
    public var tenant: String?
    public var meeting: String?
    public var role: AccessRole
    public var grants: [String]
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64

    public init(iss: String, sub: String, aud: String, tenant: String?, meeting: String?, role: AccessRole,
                grants: [String] = [], iat: Int64, nbf: Int64, exp: Int64) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.tenant = tenant
        self.meeting = meeting
        self.role = role
        self.grants = grants
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
    }
}

/// Why a token was refused. Each case says what to fix.
public enum AccessTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(Int)
    case malformed(String)
    case badBase64URL(part: String)
    case badJSON(part: String)
    case unsupportedAlgorithm(String)
    case unsupportedType(String)
    case criticalHeader
    case unknownKey(String?)
    case badSignature
    case expired(exp: Int64, now: Int64)
    case notYetValid(nbf: Int64, now: Int64)
    case wrongIssuer(String)
    case wrongAudience(String)
    case invalidClaims(String)

    public var description: String {
        switch self {
        case let .tooLarge(n): "the token is \(n) bytes, over the \(AccessTokenVerifier.maxTokenLength)-byte limit"
        case let .malformed(why): "malformed token: \(why)"
        case let .badBase64URL(part): "the token's \(part) is not base64url without padding"
        case let .badJSON(part): "the token's \(part) is not the expected JSON object"
        case let .unsupportedAlgorithm(a): "token algorithm '\(a)' is not accepted; only EdDSA (Ed25519) is"
        case let .unsupportedType(t): "token type '\(t)' is not accepted; expected JWT"
        case .criticalHeader: "the token has a 'crit' header this verifier does not understand"
        case let .unknownKey(kid): "the token was signed by an unknown key\(kid.map { " '\($0)'" } ?? "")"
        case .badSignature: "the token's signature does not verify"
        case let .expired(exp, now): "the token expired at \(exp) (now \(now)); request a new one"
        case let .notYetValid(nbf, now): "the token is not valid before \(nbf) (now \(now)); check clocks"
        case let .wrongIssuer(i): "tokens from issuer '\(i)' are not accepted here"
        case let .wrongAudience(a): "the token is for audience '\(a)', not this service"
        case let .invalidClaims(why): "invalid token claims: \(why)"
        }
    }
}

private struct Header: Codable {
    var alg: String
    var typ: String?
    var kid: String?
    var crit: [String]?
}

/// Issues EdDSA (Ed25519) JWTs (RFC 7519, RFC 8037) in compact JWS form.
public struct AccessTokenIssuer: Sendable {
    private let key: Ed25519.PrivateKey
    public let keyID: String?

    public init(key: Ed25519.PrivateKey, keyID: String? = nil) {
        self.key = key
        self.keyID = keyID
    }

    public func issue(_ claims: AccessClaims) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let header = try encoder.encode(Header(alg: "EdDSA", typ: "JWT", kid: keyID, crit: nil))
        let payload = try encoder.encode(claims)
        let signingInput = Base64URL.encode(Array(header)) + "." + Base64URL.encode(Array(payload))
        return signingInput + "." + Base64URL.encode(key.signature(for: Array(signingInput.utf8)))
    }
}

/// Verifies EdDSA JWTs strictly: exactly three canonical base64url parts, header
/// `alg` exactly "EdDSA" (so "none", HS256 and RS256 are refused before any key is
/// touched), Ed25519 signature, then issuer, audience, `nbf` and `exp` against an
/// injected clock with bounded leeway.
public struct AccessTokenVerifier: Sendable {
    public static let maxTokenLength = 8192

    /// Keys by `kid`; the key under `nil` is used for tokens without a `kid`.
    public let keys: [String?: Ed25519.PublicKey]
    public let issuers: Set<String>
    public let audience: String
    public let leewaySeconds: Int64
    private let now: @Sendable () -> Date

    public init(keys: [String?: Ed25519.PublicKey], issuers: Set<String>, audience: String, leewaySeconds: Int64 = 30,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.keys = keys
        self.issuers = issuers
        self.audience = audience
        self.leewaySeconds = leewaySeconds
        self.now = now
    }

    public func verify(_ token: String) throws(AccessTokenError) -> AccessClaims {
        let bytes = token.utf8.count
        guard bytes <= Self.maxTokenLength else { throw .tooLarge(bytes) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("expected three dot-separated parts, found \(parts.count)") }
        guard let headerBytes = Base64URL.decode(parts[0]) else { throw .badBase64URL(part: "header") }
        guard let payloadBytes = Base64URL.decode(parts[1]) else { throw .badBase64URL(part: "payload") }
        guard let signature = Base64URL.decode(parts[2]) else { throw .badBase64URL(part: "signature") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(headerBytes)) } catch { throw .badJSON(part: "header") }
        guard header.alg == "EdDSA" else { throw .unsupportedAlgorithm(header.alg) }
        if let typ = header.typ, typ != "JWT" { throw .unsupportedType(typ) }
        guard header.crit == nil else { throw .criticalHeader }
        guard let key = keys[header.kid] else { throw .unknownKey(header.kid) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard key.isValidSignature(signature, for: signingInput) else { throw .badSignature }
        let claims: AccessClaims
        do { claims = try JSONDecoder().decode(AccessClaims.self, from: Data(payloadBytes)) } catch { throw .badJSON(part: "payload") }
        guard issuers.contains(claims.iss) else { throw .wrongIssuer(claims.iss) }
        guard claims.aud == audience else { throw .wrongAudience(claims.aud) }
        let t = Int64(now().timeIntervalSince1970.rounded(.down))
        guard t < claims.exp + leewaySeconds else { throw .expired(exp: claims.exp, now: t) }
        guard t + leewaySeconds >= claims.nbf else { throw .notYetValid(nbf: claims.nbf, now: t) }
        switch claims.role {
        case .operator: break
        case .tenantAdmin:
            guard let tenant = claims.tenant, !tenant.isEmpty else { throw .invalidClaims("a tenantAdmin token must name its tenant") }
        case .participant:
            guard let tenant = claims.tenant, !tenant.isEmpty, let meeting = claims.meeting, !meeting.isEmpty else {
                throw .invalidClaims("a participant token must name its tenant and meeting")
            }
        }
        return claims
    }
}
