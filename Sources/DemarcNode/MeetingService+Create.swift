import Placement
import Residency
import Transparency
import Foundation

extension MeetingService {
    struct CreateRequest: Codable, Sendable {
        var id: String
        var participants: [MeetingRecord.ParticipantSpec]
        /// Set by the node that forwards a creation: its decision, which the home keeps when
        /// still valid in its own view (loads spread by gossip may differ for a moment).
        var proposal: MeetingRecord?
    }

    static func validMeetingID(_ s: String) -> Bool {
        // The transparency log's identifier alphabet, minus ':' (reserved for node-internal ids).
        let u = Array(s.utf8)
        return (1...64).contains(u.count) && u.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    func validate(_ request: CreateRequest) throws(MeetingError) {
        guard Self.validMeetingID(request.id) else {
            throw .badRequest("meeting id must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'")
        }
        guard request.participants.count <= 1_000 else { throw .badRequest("at most 1,000 participants per meeting") }
        var seen = Set<String>()
        for p in request.participants {
            guard !p.id.isEmpty, p.id.utf8.count <= 320 else { throw .badRequest("participant ids must be 1-320 characters") }
            guard seen.insert(p.id).inserted else { throw .badRequest("participant '\(p.id.prefix(64))' is listed twice") }
            if let c = p.country, CountryCode(c) == nil { throw .badRequest("country '\(c.prefix(8))' of participant '\(p.id.prefix(64))' is not an ISO 3166-1 alpha-2 code") }
            if let at = p.at {
                guard at.count == 2, (-90...90).contains(at[0]), (-180...180).contains(at[1]) else {
                    throw .badRequest("'at' of participant '\(p.id.prefix(64))' must be [latitude, longitude]")
                }
            }
        }
    }

    static func placementError(_ e: PlacementError) -> MeetingError {
        switch e {
        case let .noCompliantNode(_, _, ex):
            MeetingError(.unprocessableContent, e.code, e.description, exclusions: MeetingRecord.exclusions(ex))
        case let .insufficientCapacity(_, _, ex):
            MeetingError(.serviceUnavailable, e.code, e.description, exclusions: MeetingRecord.exclusions(ex))
        case .duplicateParticipant: MeetingError(.badRequest, e.code, e.description)
        case .invalidCluster: MeetingError(.internalServerError, e.code, e.description)
        }
    }

    /// `POST /v1/meetings` on any node: placement over this node's view, then the home
    /// node (which may be this one) takes the meeting. A node that may not hold the
    /// meeting's signaling data only forwards the request; it records nothing.
    func create(tenant: String, _ request: CreateRequest) async throws(MeetingError) -> MeetingRecord {
        try validate(request)
        let policy = try policy(tenant: tenant)
        if let existing = holds(tenant: tenant, id: request.id), existing.status != .ended {
            throw MeetingError(.conflict, "meeting_exists", "meeting '\(request.id)' already exists; end it or use another id")
        }
        let view = try await placementView()
        let participants = MeetingRecord.placementParticipants(request.participants)
        let decision: PlacementDecision
        do { decision = try engine.place(participants, policy: policy, in: view) } catch {
            metrics.placements(result: error.code).increment()
            logger.notice("meeting refused by placement", metadata: ["code": "\(error.code)"])
            throw Self.placementError(error)
        }
        if decision.home.rawValue == nodeID { return try await takeHome(tenant: tenant, request, policy: policy) }
        guard let home = await peer(decision.home.rawValue) else {
            throw MeetingError(.serviceUnavailable, "home_unreachable", "the chosen home node \(decision.home) is not reachable; retry")
        }
        var forwarded = request
        var proposal = MeetingRecord(tenant: tenant, id: request.id, policyVersion: policy.version, participants: request.participants, now: nowUnix)
        proposal.apply(decision)
        forwarded.proposal = proposal
        let reply: PeerClient.Reply
        do { reply = try await client.call("POST", home, "/internal/v1/tenants/\(tenant)/meetings", body: encode(forwarded)) } catch {
            throw MeetingError(.serviceUnavailable, "home_unreachable", error.description)
        }
        return try Self.decodeReply(reply, as: MeetingRecord.self)
    }

    /// The home node's side of creation: places again over its own view, checks that it
    /// is itself allowed, logs the policy and the decision, asks the other nodes to serve,
    /// and stores the record on every compliant directory node.
    func takeHome(tenant: String, _ request: CreateRequest, policy: ResidencyPolicy) async throws(MeetingError) -> MeetingRecord {
        try validate(request)
        if let existing = holds(tenant: tenant, id: request.id), existing.status != .ended {
            throw MeetingError(.conflict, "meeting_exists", "meeting '\(request.id)' already exists; end it or use another id")
        }
        var record = MeetingRecord(tenant: tenant, id: request.id, policyVersion: policy.version, participants: request.participants, now: nowUnix)
        var view = try await placementView()
        var refusedBy: Set<String> = []
        // A node that refuses (its own check disagrees with our view) is left out and we place again.
        for _ in 0..<4 {
            var decision: PlacementDecision
            do {
                decision = try engine.place(record.placementParticipants, policy: policy, in: view)
                // Our view may rank nodes differently from the forwarder's for a moment (load
                // is gossiped); its proposal, re-validated here by `replace` (which keeps the
                // home and every edge that is still usable), is as compliant as ours.
                if decision.home.rawValue != nodeID, let proposal = request.proposal, proposal.home == nodeID {
                    decision = try engine.replace(proposal.decision, participants: record.placementParticipants, policy: policy, in: view)
                }
            } catch {
                metrics.placements(result: error.code).increment()
                throw Self.placementError(error)
            }
            guard decision.home.rawValue == nodeID else {
                throw MeetingError(.serviceUnavailable, "view_changing", "the cluster view changed while placing (home is now \(decision.home)); retry")
            }
            if let reason = refusal(of: policy, cascaded: decision.shape == .cascaded) {
                try await refuse(tenant: tenant, meeting: request.id, reason: reason)
            }
            record.apply(decision)
            record.replicas = directoryNodes(policy: policy, view: view, plus: record.nodes)
            try await logDecision(record, policy: policy, view: view)
            try save(record)
            let refused = await distribute(record, policy: policy)
            if refused.isEmpty {
                metrics.placements(result: "placed").increment()
                await announceLoad()
                logger.info("meeting placed", metadata: ["home": "\(record.home)", "nodes": "\(record.nodes.joined(separator: ","))", "shape": "\(record.shape)"])
                return record
            }
            refusedBy.formUnion(refused)
            do { view = try await placementView().removing(Set(refusedBy.map(NodeID.init))) } catch let e as PlacementError {
                throw MeetingError(.internalServerError, e.code, e.description)
            } catch let e as MeetingError { throw e } catch { throw MeetingError(.internalServerError, "internal", "\(error)") }
            record.generation += 1
        }
        record.status = .suspended
        record.reason = "nodes \(refusedBy.sorted().joined(separator: ", ")) refused to serve"
        try save(record)
        throw MeetingError(.serviceUnavailable, "refused_by_nodes", record.reason ?? "")
    }

    /// The nodes that keep a copy of the record: the meeting's own nodes plus every usable
    /// node whose jurisdiction the policy allows for signaling (so a join at any of them
    /// finds the meeting). Never a node outside those jurisdictions (invariant 5).
    func directoryNodes(policy: ResidencyPolicy, view: PlacementView, plus nodes: [String]) -> [String] {
        var out = Set(nodes)
        for n in view.nodes where n.health == .alive && n.certificate == .valid && policy.allows(.signaling, in: n.jurisdiction) {
            out.insert(n.id.rawValue)
        }
        return out.sorted()
    }

    func logDecision(_ record: MeetingRecord, policy: ResidencyPolicy, view: PlacementView) async throws(MeetingError) {
        try await logPolicyIfNeeded(record, policy: policy)
        guard let home = location(of: record.home, view: view) else { return }
        let edges = Set(record.assignments.map(\.edge)).union(record.nodes).sorted().compactMap { location(of: $0, view: view) }
        try await append(.placementDecided(policyVersion: UInt64(record.policy_version), home: home, edges: edges),
                         tenant: record.tenant, meeting: record.id)
    }

    func logPolicyIfNeeded(_ record: MeetingRecord, policy: ResidencyPolicy) async throws(MeetingError) {
        let key = Key(tenant: record.tenant, id: record.id)
        guard loggedPolicy[key] != policy.version else { return }
        try await append(.policyApplied(Self.snapshot(policy)), tenant: record.tenant, meeting: record.id)
        loggedPolicy[key] = policy.version
    }

    /// Logs and throws this node's refusal to serve a meeting (DESIGN.md invariant 1).
    func refuse(tenant: String, meeting: String, reason: RefusalReason) async throws(MeetingError) -> Never {
        let code = switch reason {
        case .jurisdictionNotAllowed: "jurisdiction_not_allowed"
        case .draining: "node_draining"
        case .policyUnknown: "policy_unknown"
        case .noCapacity: "no_capacity"
        case .certificateInvalid: "certificate_invalid"
        case .e2eeUnavailable: "e2ee_unavailable"
        }
        metrics.refusals(reason: code).increment()
        logger.warning("refusing to serve a meeting", metadata: ["reason": "\(code)"])
        try? await append(.nodeRefused(at: location, reason: reason), tenant: tenant, meeting: meeting)
        throw MeetingError(.forbidden, code, "node \(nodeID) (\(location.region), \(location.jurisdiction)) refuses: \(reason)")
    }

    /// Sends the record to its nodes (serve) and its directory nodes (replica), concurrently,
    /// so a peer that died but is not yet declared dead costs one timeout, not one each.
    /// Returns the nodes that refused to serve (or could not be reached to serve).
    func distribute(_ record: MeetingRecord, policy: ResidencyPolicy, former: [String] = []) async -> Set<String> {
        let body = encode(record)
        var targets: [(peer: Peer?, id: String, serving: Bool)] = []
        for id in record.replicas where id != nodeID { targets.append((await peer(id), id, record.nodes.contains(id))) }
        // Nodes the meeting left (a drain) learn it too, so they send their participants on.
        for id in Set(former).subtracting(record.replicas + record.nodes + [nodeID]).sorted() {
            if let p = await peer(id), p.isUsable || p.draining { targets.append((p, id, false)) }
        }
        let client = self.client, logger = self.logger
        let base = "/internal/v1/tenants/\(record.tenant)/meetings/\(record.id)"
        return await withTaskGroup(of: String?.self) { group in
            for t in targets {
                group.addTask {
                    guard let p = t.peer else { return t.serving ? t.id : nil }
                    do {
                        let reply = try await client.call(t.serving ? "POST" : "PUT", p, base + (t.serving ? "/serve" : ""), body: body)
                        if !(200..<300).contains(reply.status) {
                            logger.warning("peer did not take the meeting", metadata: ["peer": "\(t.id)", "status": "\(reply.status)"])
                        }
                        return t.serving && reply.status == 403 ? t.id : nil
                    } catch {
                        logger.warning("peer unreachable", metadata: ["peer": "\(t.id)"])
                        return t.serving ? t.id : nil
                    }
                }
            }
            var refused: Set<String> = []
            for await id in group { if let id { refused.insert(id) } }
            return refused
        }
    }

    /// `serve`: another node asks this one to serve a meeting. The node checks for itself
    /// that the meeting's policy allows its jurisdiction and refuses (logged) otherwise.
    func serve(_ incoming: MeetingRecord, from caller: String) async throws(MeetingError) {
        let policy: ResidencyPolicy
        do { policy = try self.policy(tenant: incoming.tenant) } catch {
            try await refuse(tenant: incoming.tenant, meeting: incoming.id, reason: .policyUnknown)
        }
        guard policy.version >= incoming.policy_version else {
            try await refuse(tenant: incoming.tenant, meeting: incoming.id, reason: .policyUnknown)
        }
        if let reason = refusal(of: policy, cascaded: incoming.shape == PlacementDecision.Shape.cascaded.rawValue) {
            try await refuse(tenant: incoming.tenant, meeting: incoming.id, reason: reason)
        }
        let previous = holds(tenant: incoming.tenant, id: incoming.id)
        if let previous, previous.generation > incoming.generation { return }
        try await checkPlausible(incoming, from: caller, previous: previous, policy: policy)
        try await logPolicyIfNeeded(incoming, policy: policy)
        try await logMembershipChanges(from: previous, to: incoming)
        try save(incoming)
        await announceLoad()
    }

    /// A directory copy of a record (no serving). Refused outside the signaling jurisdictions.
    func storeReplica(_ incoming: MeetingRecord, from caller: String) async throws(MeetingError) {
        let policy = try policy(tenant: incoming.tenant)
        guard policy.allows(.signaling, in: location.jurisdiction) else {
            throw MeetingError(.forbidden, "jurisdiction_not_allowed", "node \(nodeID) (\(location.jurisdiction)) may not hold this meeting's signaling data")
        }
        let previous = holds(tenant: incoming.tenant, id: incoming.id)
        if let previous, previous.generation > incoming.generation { return }
        try await checkPlausible(incoming, from: caller, previous: previous, policy: policy)
        try save(incoming)
    }

    /// A record a peer sends must itself comply — every node it names is a verified member
    /// whose certified jurisdiction the policy allows for serving — and must come from a node
    /// that could have decided it: the record's home, or (failover) a node of the previous
    /// version. So a peer cannot move a meeting abroad by sending a record, nor rewrite a
    /// meeting it has no part in.
    func checkPlausible(_ r: MeetingRecord, from caller: String, previous: MeetingRecord?, policy: ResidencyPolicy) async throws(MeetingError) {
        let allowedCallers = Set([r.home]).union(previous.map { Set($0.nodes + $0.replicas + [$0.home]) } ?? [])
        guard allowedCallers.contains(caller) || previous == nil && r.replicas.contains(caller) else {
            throw MeetingError(.forbidden, "not_coordinator", "node \(caller) is not a node of this meeting")
        }
        guard r.status == .active else { return }
        let view = try await placementView()
        var categories = PlacementEngine.servingCategories
        if r.shape == PlacementDecision.Shape.cascaded.rawValue { categories.append(.relay) }
        for id in r.nodes {
            guard let n = view.nodes.first(where: { $0.id.rawValue == id }), n.certificate == .valid else {
                throw MeetingError(.forbidden, "record_not_compliant", "the record names \(id), which is not a verified member here")
            }
            for c in categories where !policy.allows(c, in: n.jurisdiction) {
                throw MeetingError(.forbidden, "record_not_compliant", "the record places the meeting on \(id) in \(n.jurisdiction), which the policy does not allow for \(c)")
            }
        }
    }

    /// participantJoined / participantLeft for this node's own participants between two
    /// versions of a record ("joined" participants only: a listed participant who never
    /// connected was never served here).
    func logMembershipChanges(from old: MeetingRecord?, to new: MeetingRecord) async throws(MeetingError) {
        func mine(_ r: MeetingRecord?) -> Set<String> {
            guard let r, r.status == .active else { return [] }
            let joined = Set(r.joined ?? [])
            return Set(r.assignments.filter { $0.edge == nodeID && joined.contains($0.participant) }.map(\.participant))
        }
        let before = mine(old), after = mine(new)
        for p in after.subtracting(before).sorted() {
            let c = try await participantCommitment(tenant: new.tenant, meeting: new.id, participant: p)
            try await append(.participantJoined(participant: c, at: location), tenant: new.tenant, meeting: new.id)
        }
        for p in before.subtracting(after).sorted() {
            let c = try await participantCommitment(tenant: new.tenant, meeting: new.id, participant: p)
            try await append(.participantLeft(participant: c, at: location), tenant: new.tenant, meeting: new.id)
        }
    }

    static func decodeReply<T: Decodable>(_ reply: PeerClient.Reply, as type: T.Type) throws(MeetingError) -> T {
        if (200..<300).contains(reply.status), let value = try? JSONDecoder().decode(T.self, from: reply.body) { return value }
        if let e = try? JSONDecoder().decode(MeetingError.Body.self, from: reply.body) {
            throw MeetingError(.init(code: reply.status), e.code, e.message, exclusions: e.exclusions ?? [])
        }
        throw MeetingError(.badGateway, "peer_error", "a peer answered \(reply.status) without a readable body")
    }
}
