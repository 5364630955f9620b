import NodeHTTP
import Transparency
import TransparencyStore
import Foundation

extension MeetingService {
    /// One node's signed report on a meeting, as that node's log proves it.
    struct NodeReport: Codable, Sendable {
        var node: String
        var region: String?
        var jurisdiction: String?
        var report: MeetingReport?
        /// Why the node's report is missing (unreachable, nothing logged).
        var error: String?
    }

    struct AggregateReport: Codable, Sendable {
        var meeting: String
        var status: String?
        var reports: [NodeReport]
    }

    /// This node's own report for a meeting of a tenant, or nil when it logged nothing.
    func localReport(tenant: String, meeting: String) async throws(MeetingError) -> MeetingReport? {
        do {
            guard let key = try await log.store.commitmentKey(forTenant: tenant, create: false) else { return nil }
            let c = key.meeting(meeting)
            guard try await log.store.meetingBelongs(c, toTenant: tenant) else { return nil }
            return try await log.report(meeting: c)
        } catch {
            throw MeetingError(.serviceUnavailable, "log_unavailable", "the transparency log could not answer: \(error)")
        }
    }

    /// Every node's report on the meeting: each node that ever served or refused it keeps
    /// its own signed log, so the answer is one verifiable report per node (verify each with
    /// `demarc transparency verify`). Asked of every usable member; nodes that hold nothing say so.
    func aggregateReport(tenant: String, meeting: String) async throws(MeetingError) -> AggregateReport {
        var reports: [NodeReport] = []
        if let mine = try await localReport(tenant: tenant, meeting: meeting) {
            reports.append(NodeReport(node: nodeID, region: location.region.rawValue, jurisdiction: location.jurisdiction.rawValue, report: mine))
        }
        await refreshPeers()
        for p in peerDirectory.peers.values.sorted(by: { $0.nodeID < $1.nodeID }) where p.status == .alive && p.apiPort > 0 {
            do {
                let reply = try await client.call("GET", p, "/internal/v1/tenants/\(tenant)/meetings/\(meeting)/report")
                if reply.status == 404 { continue }
                let report = try JSONDecoder().decode(MeetingReport.self, from: reply.body)
                reports.append(NodeReport(node: p.nodeID, region: p.region, jurisdiction: p.jurisdiction, report: report))
            } catch {
                reports.append(NodeReport(node: p.nodeID, region: p.region, jurisdiction: p.jurisdiction, error: "\(error)"))
            }
        }
        // Nodes the record names that are gone: their logs are unreachable now, say so.
        let present = Set(reports.map(\.node))
        let record = holds(tenant: tenant, id: meeting)
        for id in Set(record?.history ?? record?.nodes ?? []).subtracting(present).sorted() {
            reports.append(NodeReport(node: id, error: "node unreachable; its log keeps its entries and will answer when it is back"))
        }
        guard !reports.isEmpty else { throw .notFound("no transparency records for meeting '\(meeting)'") }
        return AggregateReport(meeting: meeting, status: holds(tenant: tenant, id: meeting)?.status.rawValue, reports: reports)
    }
}

/// Appends each policy version a tenant applies at this node to the log, under the
/// tenant's policy-history commitment (`tenant:policy`, which no meeting id can equal) —
/// only on nodes where the policy allows transparency records (DESIGN.md invariant 2).
struct PolicyHistoryAuditor: PolicyAuditor {
    let service: MeetingService
    func policyApplied(tenant: String, version: Int, digest: String) async throws {
        try await service.logPolicyHistory(tenant: tenant)
    }
}

extension MeetingService {
    static let policyHistoryID = "tenant:policy"

    func logPolicyHistory(tenant: String) async throws(MeetingError) {
        let policy = try policy(tenant: tenant)
        // Every node holds every tenant's policy, but a node outside the jurisdictions the
        // policy allows for transparency records keeps none about the tenant.
        guard policy.allows(.transparency, in: location.jurisdiction) else { return }
        try await append(.policyApplied(Self.snapshot(policy)), tenant: tenant, meeting: Self.policyHistoryID)
    }
}
