public import AccessTokens

/// The least-privilege rules of the transparency API as a pure function, so the full
/// role × route matrix is testable without HTTP.
///
/// - anyone: checkpoints and consistency proofs (they reveal only tree sizes and hashes);
/// - participant: the report of the one meeting its token names, in its tenant;
/// - tenantAdmin: its own tenant's meeting list and reports;
/// - operator: aggregate statistics only — never a tenant's meetings or reports.
public enum TransparencyAccess {
    public enum Resource: Sendable, Equatable {
        case checkpoint
        case consistencyProof
        case statistics
        case meetingList(tenant: String)
        case meetingReport(tenant: String, meeting: String)
    }

    public enum Decision: Sendable, Equatable {
        case allow
        case unauthenticated
        case forbidden(String)
    }

    public static func decide(_ resource: Resource, claims: AccessClaims?) -> Decision {
        switch resource {
        case .checkpoint, .consistencyProof:
            return .allow
        case .statistics:
            guard let claims else { return .unauthenticated }
            return claims.role == .operator ? .allow : .forbidden("aggregate statistics are for operators")
        case let .meetingList(tenant):
            guard let claims else { return .unauthenticated }
            guard claims.role == .tenantAdmin else { return .forbidden("only a tenant administrator may list a tenant's meetings") }
            return claims.tenant == tenant ? .allow : .forbidden("this token is for another tenant")
        case let .meetingReport(tenant, meeting):
            guard let claims else { return .unauthenticated }
            switch claims.role {
            case .operator:
                return .forbidden("operators see aggregate counts only, not a tenant's meetings")
            case .tenantAdmin:
                return claims.tenant == tenant ? .allow : .forbidden("this token is for another tenant")
            case .participant:
                guard claims.tenant == tenant, claims.meeting == meeting else {
                    return .forbidden("a participant token grants the report of its own meeting only")
                }
                return .allow
            }
        }
    }
}
