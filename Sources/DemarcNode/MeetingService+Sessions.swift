import Foundation
import MediaSignaling
import Placement
import Residency

/// Moving participants between edges (issue 7, "client reconnect driven by signaling";
/// docs/signaling.md "Reconnecting"), and the data-plane evidence that makes a failed
/// relay node count as failed sooner than gossip alone would.
extension MeetingService {
    /// How long every relay link with a suspect node must have been silent before the node
    /// is treated as failed for the meetings it carries. Links carry a control snapshot each
    /// second even without media, so this is more than one missed snapshot.
    static let relaySilenceForFailure: Double = 1.2

    /// Nodes whose every relay link with this node has carried nothing for
    /// `relaySilenceForFailure` (and was open at least that long), and which gossip suspects
    /// or which do not answer a health check within half a second: two independent signals
    /// that the node is gone, so its meetings move without waiting for gossip's verdict.
    func failedByRelayEvidence(in view: PlacementView) async -> Set<String> {
        guard let plane = mediaPlane, !relayLinks.isEmpty else { return [] }
        let suspects = Set(view.nodes.filter { $0.health == .suspect }.map(\.id.rawValue))
        var quiet: [String: Bool] = [:]
        let now = ContinuousClock.now
        for (edge, open) in relayLinks {
            let far = edge.parent == nodeID ? edge.child : edge.parent
            let old = now - open.openedAt > .milliseconds(Int64(Self.relaySilenceForFailure * 1000))
            let alive = await plane.relayAlive(open.linkID, withinSeconds: Self.relaySilenceForFailure)
            quiet[far] = (quiet[far] ?? true) && old && !alive
        }
        var failed: Set<String> = []
        for (far, silent) in quiet where silent {
            if suspects.contains(far) { failed.insert(far); continue }
            // Gossip probes one member per period, so it may not have suspected the node yet:
            // ask the node itself (a dead process refuses the connection at once).
            guard let p = await peer(far) else { failed.insert(far); continue }
            let answer = try? await client.call("GET", p, "/healthz", timeout: 0.5)
            if answer?.status != 200 { failed.insert(far) }
        }
        return failed
    }

    /// Run often (every 250 ms): when a relay link has gone quiet and its far end is
    /// suspect or unreachable, reconcile now rather than at the next one-second tick.
    func watchRelayLinks() async {
        guard !relayLinks.isEmpty, let view = try? await placementView() else { return }
        let failed = await failedByRelayEvidence(in: view)
        if !failed.isEmpty { await reconcile(view: view, failed: failed) }
    }

    /// Where a participant assigned to `edge` should connect: its signaling URL when the
    /// node is usable, else "ask again shortly" (the meeting is being re-placed).
    func redirect(to a: MeetingRecord.Assignment, reason: String) async -> SignalingRedirect {
        guard let p = await peer(a.edge), p.isUsable else {
            return SignalingRedirect(retryAfterMilliseconds: 300, reason: "\(reason); node \(a.edge) is unavailable, the meeting is being re-placed")
        }
        return SignalingRedirect(edge: ["node": a.edge, "region": a.region, "jurisdiction": a.jurisdiction,
                                        "signaling": Self.signalingURL(api: p.apiBase)], reason: reason)
    }

    static func signalingURL(api: String) -> String {
        (api.hasPrefix("https://") ? "wss://" + api.dropFirst(8) : "ws://" + api.dropFirst(api.hasPrefix("http://") ? 7 : 0)) + "/v1/rtc"
    }

    /// Participants with a session here whose edge in `record` is another node are told to
    /// reconnect there (a drain, a re-placement); the socket closes after the message.
    func moveSessions(of record: MeetingRecord) async {
        guard let sessions = signalingSessions, record.status == .active else { return }
        for participant in await sessions.participants(tenant: record.tenant, meeting: record.id) {
            guard let a = record.assignment(of: participant), a.edge != nodeID else { continue }
            let redirect = await redirect(to: a, reason: "the meeting moved: this participant's edge is now \(a.edge)")
            if await sessions.redirect(tenant: record.tenant, meeting: record.id, participant: participant, redirect) {
                metrics.sessionsMoved.increment()
                logger.notice("participant told to reconnect", metadata: ["to": "\(a.edge)"])
            }
        }
    }

    /// `joined.alternates`: the other usable nodes that hold the meeting's record and may
    /// process its signaling, so a client whose edge vanishes knows whom to ask.
    func alternates(tenant: String, meeting: String) async -> [[String: String]] {
        guard let record = holds(tenant: tenant, id: meeting), let policy = try? policy(tenant: tenant) else { return [] }
        var out: [[String: String]] = []
        for id in Set(record.nodes + record.replicas).sorted() where id != nodeID {
            guard let p = await peer(id), p.isUsable, let j = CountryCode(p.jurisdiction), policy.allows(.signaling, in: j) else { continue }
            out.append(["node": id, "signaling": Self.signalingURL(api: p.apiBase)])
        }
        return out
    }
}
