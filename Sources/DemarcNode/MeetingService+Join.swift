import Placement
import Residency
import Transparency
import Foundation

extension MeetingService {
    struct JoinRequest: Codable, Sendable {
        var participant: String
        var country: String?
        var at: [Double]?
    }

    struct Endpoint: Codable, Sendable, Equatable {
        var node: String
        var region: String
        var jurisdiction: String
        var api: String?
        var media: String?
    }

    struct JoinAnswer: Codable, Sendable {
        var meeting: String
        var participant: String
        var edge: Endpoint
        var home: String
        var generation: Int
        var e2ee: String
    }

    /// `POST /v1/meetings/{id}/join` at any node. The home node assigns the participant an
    /// edge (re-placing the meeting when the participant was not expected); other nodes
    /// forward to it. A node outside the meeting's signaling jurisdictions holds no copy
    /// and forwards to a node inside them.
    func join(tenant: String, meeting: String, _ request: JoinRequest, forwarded: Bool) async throws(MeetingError) -> JoinAnswer {
        if let c = request.country, CountryCode(c) == nil { throw .badRequest("country must be an ISO 3166-1 alpha-2 code") }
        if let at = request.at, at.count != 2 || !(-90...90).contains(at[0]) || !(-180...180).contains(at[1]) {
            throw .badRequest("'at' must be [latitude, longitude]")
        }
        guard let record = holds(tenant: tenant, id: meeting) else {
            guard !forwarded else { throw .notFound("no meeting '\(meeting)' for this tenant") }
            let policy = try policy(tenant: tenant)
            let view = try await placementView()
            // Someone who may hold it: a usable node in the signaling jurisdictions.
            for n in view.nodes where n.id.rawValue != nodeID && n.health == .alive && policy.allows(.signaling, in: n.jurisdiction) {
                guard let p = await peer(n.id.rawValue) else { continue }
                if let reply = try? await client.call("POST", p, "/internal/v1/tenants/\(tenant)/meetings/\(meeting)/join?forwarded=1", body: encode(request)),
                   reply.status != 404 {
                    return try Self.decodeReply(reply, as: JoinAnswer.self)
                }
            }
            throw .notFound("no meeting '\(meeting)' for this tenant")
        }
        guard record.status == .active else {
            throw MeetingError(.conflict, record.status == .ended ? "meeting_ended" : "meeting_suspended",
                               record.reason ?? "the meeting is \(record.status.rawValue)")
        }
        if record.home != nodeID {
            guard let home = await peer(record.home), home.isUsable || home.draining else {
                throw MeetingError(.serviceUnavailable, "home_unreachable", "the meeting's home node \(record.home) is not reachable; it is being re-placed, retry shortly")
            }
            let reply: PeerClient.Reply
            do { reply = try await client.call("POST", home, "/internal/v1/tenants/\(tenant)/meetings/\(meeting)/join?forwarded=1", body: encode(request)) } catch {
                throw MeetingError(.serviceUnavailable, "home_unreachable", error.description)
            }
            return try Self.decodeReply(reply, as: JoinAnswer.self)
        }
        return try await admit(record, request)
    }

    /// The home's side of a join.
    func admit(_ current: MeetingRecord, _ request: JoinRequest) async throws(MeetingError) -> JoinAnswer {
        var record = current
        let policy = try policy(tenant: record.tenant)
        // Enforced again at join: the policy may have changed since the token was issued, and
        // an operator can mint tokens offline.
        guard policy.participants.admits(identity: request.participant) else {
            throw MeetingError(.forbidden, "identity_not_allowed", "tenant policy v\(policy.version) does not admit this identity's domain")
        }
        if record.assignment(of: request.participant) == nil {
            // Not expected (or expected without a location): place them now, keeping everyone else where they are.
            var spec = record.participants.first { $0.id == request.participant } ?? MeetingRecord.ParticipantSpec(id: request.participant)
            if request.country != nil || request.at != nil { spec.country = request.country; spec.at = request.at }
            record.participants.removeAll { $0.id == request.participant }
            record.participants.append(spec)
            let view = try await placementView()
            do {
                let d = try engine.replace(record.decision, participants: record.placementParticipants, policy: policy, in: view)
                record.apply(d)
            } catch {
                metrics.placements(result: error.code).increment()
                throw Self.placementError(error)
            }
            record.generation += 1
            record.replicas = directoryNodes(policy: policy, view: view, plus: record.nodes)
            try await logDecision(record, policy: policy, view: view)
        }
        var joined = Set(record.joined ?? [])
        joined.insert(request.participant)
        record.joined = joined.sorted()
        record.updated_at = nowUnix
        let previous = current
        try await logMembershipChanges(from: previous, to: record)
        try save(record)
        _ = await distribute(record, policy: policy)
        await announceLoad()
        guard let a = record.assignment(of: request.participant) else {
            throw MeetingError(.internalServerError, "internal", "the participant has no edge after placement")
        }
        let edgePeer = a.edge == nodeID ? nil : await peer(a.edge)
        let edge = Endpoint(node: a.edge, region: a.region, jurisdiction: a.jurisdiction,
                            api: a.edge == nodeID ? selfAPI : edgePeer.map(\.apiBase),
                            media: a.edge == nodeID ? selfMedia : edgePeer.flatMap { $0.mediaPort > 0 ? "\($0.host):\($0.mediaPort)" : nil })
        return JoinAnswer(meeting: record.id, participant: request.participant, edge: edge, home: record.home,
                          generation: record.generation, e2ee: policy.e2ee.rawValue)
    }

    /// `DELETE /v1/meetings/{id}`: the home ends the meeting everywhere.
    func end(tenant: String, meeting: String, forwarded: Bool) async throws(MeetingError) {
        guard var record = holds(tenant: tenant, id: meeting), record.status != .ended else {
            throw .notFound("no active meeting '\(meeting)' for this tenant")
        }
        if record.home != nodeID, !forwarded, let home = await peer(record.home), home.isUsable {
            let reply: PeerClient.Reply
            do { reply = try await client.call("DELETE", home, "/internal/v1/tenants/\(tenant)/meetings/\(meeting)") } catch {
                throw MeetingError(.serviceUnavailable, "home_unreachable", error.description)
            }
            guard (200..<300).contains(reply.status) else { _ = try Self.decodeReply(reply, as: MeetingRecord.self); return }
            return
        }
        let policy = try policy(tenant: tenant)
        let previous = record
        record.status = .ended
        record.generation += 1
        record.updated_at = nowUnix
        try await logMembershipChanges(from: previous, to: record)
        try save(record)
        _ = await distribute(record, policy: policy)
        await announceLoad()
    }

    var selfAPI: String? { apiBase }
    var selfMedia: String? { mediaEndpoint }
}
