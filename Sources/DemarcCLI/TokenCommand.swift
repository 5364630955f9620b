import AccessTokens
import ArgumentParser
import Foundation
import SodiumWrapper

/// `demarc token issue`: mint an access token offline with the cluster's token key
/// (how an operator gets its first operator token, or re-issues a tenant admin's).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Access tokens (EdDSA JWTs) for the node API.", subcommands: [Issue.self, Inspect.self])

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case `operator`, tenantAdmin = "tenant-admin", participant

        var access: AccessRole {
            switch self {
            case .operator: .operator
            case .tenantAdmin: .tenantAdmin
            case .participant: .participant
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a token with the cluster token key and print it.")
        @Option(help: "The cluster token key (secret) file.") var key: String
        @Option(help: "operator, tenant-admin or participant.") var role: Role
        @Option(help: "Tenant (tenant-admin and participant tokens).") var tenant: String?
        @Option(help: "Meeting (participant tokens).") var meeting: String?
        @Option(help: "Identity (the token's subject), e.g. ops@example.com.") var subject = "operator"
        @Option(help: "Lifetime in seconds.") var ttl: Int64 = 3_600
        @Option(help: "Issuer name the nodes accept.") var issuer = "demarc"
        @Option(help: "Audience the nodes expect.") var audience = "demarc"

        func validate() throws {
            if role != .operator, tenant == nil { throw ValidationError("--tenant is required for a \(role.rawValue) token") }
            if role == .participant, meeting == nil { throw ValidationError("--meeting is required for a participant token") }
            if role == .operator, tenant != nil { throw ValidationError("an operator token names no tenant: operators never see tenants' meetings") }
            guard (60...(90 * 86_400)).contains(ttl) else { throw ValidationError("--ttl must be between 60 s and 90 days") }
        }

        func run() throws {
            let signer = try readSecretKey(key, what: "token key")
            let now = Int64(Date().timeIntervalSince1970)
            let claims = AccessClaims(iss: issuer, sub: subject, aud: audience, tenant: tenant, meeting: meeting, role: role.access,
                                      grants: role == .participant ? ["publish", "subscribe"] : [], iat: now, nbf: now, exp: now + ttl)
            print(try AccessTokenIssuer(key: signer).issue(claims))
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a token against the token key's public half and print its claims.")
        @Argument(help: "The token.") var token: String
        @Option(help: "The cluster token public (or secret) key file.") var key: String
        @Option(help: "Issuer name the nodes accept.") var issuer = "demarc"
        @Option(help: "Audience the nodes expect.") var audience = "demarc"

        func run() throws {
            let verifier = AccessTokenVerifier(keys: [nil: try readPublicKey(key, what: "token key")], issuers: [issuer], audience: audience)
            switch Result(catching: { () throws(AccessTokenError) in try verifier.verify(token) }) {
            case .success(let c):
                print("valid: role \(c.role.rawValue), subject \(c.sub)\(c.tenant.map { ", tenant \($0)" } ?? "")\(c.meeting.map { ", meeting \($0)" } ?? "")")
                print("  expires \(Date(timeIntervalSince1970: TimeInterval(c.exp)).formatted(.iso8601))")
            case .failure(let e):
                print("invalid: \(e)")
                throw ExitCode(1)
            }
        }
    }
}
