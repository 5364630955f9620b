import Placement
import Residency
import Transparency
import Gossip
import Foundation

extension MeetingService {
    /// Called after every membership change. For each active meeting this node holds
    /// that uses a node no longer usable (dead, left, draining), the coordinator — the
    /// home if it is still usable, else the first usable node of the meeting, else the
    /// first usable directory node, the same choice on every node — re-places it over
    /// compliant nodes only. With none left the meeting is suspended with the reason.
    func reconcile() async {
        guard let view = try? await placementView() else { return }
        await reconcile(view: view, failed: await failedByRelayEvidence(in: view))
    }

    /// `reconcile()` with the view and the relay evidence already gathered (the relay watch
    /// has both when it calls).
    func reconcile(view: PlacementView, failed: Set<String>) async {
        // Suspect members still count: a suspicion is often refuted within the Lifeguard
        // timeout, and moving a meeting on every suspicion would interrupt it for nothing.
        // A node whose relay links with this node have all gone quiet, and which gossip
        // suspects or which does not answer a health check, is treated as failed now
        // (`failed`, MeetingService+Sessions.swift).
        let usable = Set(view.nodes.filter { ($0.health == .alive || $0.health == .suspect) && $0.certificate == .valid }.map(\.id.rawValue))
            .subtracting(failed)
        await pullTenantsFromNewPeers(alive: Set(view.nodes.filter { $0.health == .alive }.map(\.id.rawValue)))
        purgeEnded(olderThan: 3_600)
        for record in records.values.sorted(by: { ($0.tenant, $0.id) < ($1.tenant, $1.id) }) where record.status != .ended {
            let broken = record.status == .suspended || !Set(record.nodes).isSubset(of: usable)
            guard broken else { continue }
            let coordinator = usable.contains(record.home) ? record.home
                : record.nodes.sorted().first(where: usable.contains) ?? record.replicas.sorted().first(where: usable.contains)
            guard coordinator == nodeID else { continue }
            await replace(record, view: view)
        }
        await reconcileRelays()
        await recordMediaEncryption()
    }

    func replace(_ current: MeetingRecord, view: PlacementView) async {
        guard let policy = try? policy(tenant: current.tenant) else { return }
        var record = current
        record.generation += 1
        record.updated_at = nowUnix
        do {
            let d = try engine.replace(current.decision, participants: current.placementParticipants, policy: policy, in: view)
            record.apply(d)
            record.replicas = directoryNodes(policy: policy, view: view, plus: record.nodes)
            try await logDecision(record, policy: policy, view: view)
            try await logMembershipChanges(from: current, to: record)
            try save(record)
            metrics.failovers(result: "replaced").increment()
            logger.notice("meeting re-placed", metadata: ["generation": "\(record.generation)", "nodes": "\(record.nodes.joined(separator: ","))"])
        } catch let e as PlacementError {
            guard current.status != .suspended || current.reason != "\(e.code): \(e.description)" else { return }
            record.status = .suspended
            record.reason = "\(e.code): \(e.description)"
            record.exclusions = MeetingRecord.exclusions(e.exclusions)
            try? save(record)
            metrics.failovers(result: e.code).increment()
            logger.warning("meeting suspended: no compliant node can take it", metadata: ["code": "\(e.code)"])
        } catch {
            logger.error("re-placement failed", metadata: ["error": "\(error)"])
            return
        }
        _ = await distribute(record, policy: policy, former: current.nodes + current.replicas)
        await announceLoad()
    }

    /// SIGTERM: stop taking meetings, announce draining, move the meetings this node
    /// coordinates, and wait (bounded) until no active meeting uses this node.
    func drain(timeout: Duration) async {
        draining = true
        try? await gossip.updateLocalState { $0.status = .draining }
        logger.notice("draining: moving meetings to compliant nodes")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let view = try? await placementView() else { break }
            let mine = records.values.filter { $0.status == .active && ($0.nodes.contains(nodeID) || $0.home == nodeID) }
            if mine.isEmpty { break }
            for r in mine where r.home == nodeID { await replace(r, view: view) }
            try? await Task.sleep(for: .milliseconds(200))
        }
        logger.notice("drained")
    }
}

extension MeetingService {
    /// Ended meetings are kept an hour (late joins get `meeting_ended`), then forgotten:
    /// their records hold participant identities, which are kept no longer than needed.
    func purgeEnded(olderThan seconds: Int64) {
        for (key, r) in records where r.status == .ended && nowUnix - r.updated_at > seconds {
            try? store.delete(tenant: key.tenant, id: key.id)
            records[key] = nil
            loggedPolicy[key] = nil
            mediaLogged[key] = nil
            if let media = mediaPlane {
                let name = "\(key.tenant)/\(key.id)"
                Task { await media.forgetEndToEndEncryptionObservation(meeting: name) }
            }
        }
    }
}

extension PlacementError {
    var exclusions: [NodeExclusion] {
        switch self {
        case let .noCompliantNode(_, _, ex), let .insufficientCapacity(_, _, ex): ex
        default: []
        }
    }
}
