import Residency
import Transparency
import Foundation

/// The node's side of media sessions (the SFU asks before admitting a participant and
/// tells when sessions start and end).
extension MeetingService {
    /// A participant may open a media session here only if this node holds the meeting,
    /// the meeting is active, placement assigned the participant to *this* node, and the
    /// policy still allows this node's jurisdiction. Returns whether the policy requires
    /// end-to-end encryption: then the SFU forwards only frames that carry the SFrame layout
    /// and refuses a publisher's media from its first frame without it (it never holds a key).
    func admitMediaSession(tenant: String, meeting: String, participant: String) async throws -> Bool {
        let held = holds(tenant: tenant, id: meeting)
        if let held, held.status == .suspended {
            throw MeetingError(.conflict, "meeting_suspended", held.reason ?? "no compliant node can carry this meeting now")
        }
        guard let record = held, record.status == .active else {
            throw MeetingError(.forbidden, "not_served_here", "meeting '\(meeting)' is not served at node \(nodeID); ask POST /v1/meetings/\(meeting)/join for your edge")
        }
        guard let a = record.assignment(of: participant) else {
            throw MeetingError(.forbidden, "wrong_edge", "this participant has no edge yet; ask POST /v1/meetings/\(meeting)/join")
        }
        // A participant reconnecting at another node of its meeting is sent to its edge.
        guard a.edge == nodeID else { throw await redirect(to: a, reason: "this participant's edge is \(a.edge)") }
        let policy = try policy(tenant: tenant)
        if let reason = refusal(of: policy, cascaded: false) { try await refuse(tenant: tenant, meeting: meeting, reason: reason) }
        return policy.e2ee == .required
    }

    /// A participant's media session started or ended here: what the SFU observed of the
    /// meeting's encryption is recorded now rather than at the next tick.
    func mediaSession(tenant: String, meeting: String, participant: String, joined: Bool) async {
        await recordMediaEncryption()
    }

    /// Records `media processed` for each meeting whose media this node forwarded, with what
    /// the SFU **observed**: end-to-end encrypted only if every publisher frame it forwarded
    /// carried the SFrame layout under its publisher's sender slot (docs/e2ee.md). Logged
    /// once when media is first seen, and again if a meeting first recorded as encrypted
    /// later forwards a frame that is not, so the report's "E2EE throughout" is the AND of
    /// what every node saw. In an `e2ee: required` meeting such frames are never forwarded.
    func recordMediaEncryption() async {
        guard let media = mediaPlane else { return }
        for (key, record) in records where record.nodes.contains(nodeID) {
            let name = "\(key.tenant)/\(key.id)"
            guard let observed = await media.endToEndEncryptionObserved(meeting: name) else { continue }
            if let last = mediaLogged[key], !(last && !observed) { continue }
            do {
                try await append(.mediaProcessed(at: location, endToEndEncrypted: observed), tenant: key.tenant, meeting: key.id)
                mediaLogged[key] = observed
            } catch {
                logger.error("could not record media processing", metadata: ["error": "\(error)"])
            }
        }
    }
}
