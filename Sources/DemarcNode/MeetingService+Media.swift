import Residency
import Transparency
import Foundation

/// The node's side of media sessions (the SFU asks before admitting a participant and
/// tells when sessions start and end).
extension MeetingService {
    /// A participant may open a media session here only if this node holds the meeting,
    /// the meeting is active, placement assigned the participant to *this* node, the
    /// policy still allows this node's jurisdiction, and the policy's E2EE rule can be kept.
    ///
    /// `e2ee: required` fails closed: the SFU cannot yet verify that a publisher's frames
    /// are SFrame-encrypted end to end (issue 8 wires that check in), so such meetings are
    /// refused media rather than carried unencrypted (DESIGN.md, "E2EE-required meetings
    /// refuse clients that do not encrypt").
    func admitMediaSession(tenant: String, meeting: String, participant: String) async throws(MeetingError) {
        guard let record = holds(tenant: tenant, id: meeting), record.status == .active else {
            throw MeetingError(.forbidden, "not_served_here", "meeting '\(meeting)' is not served at node \(nodeID); ask POST /v1/meetings/\(meeting)/join for your edge")
        }
        guard let a = record.assignment(of: participant), a.edge == nodeID else {
            throw MeetingError(.forbidden, "wrong_edge", "this participant's edge is \(record.assignment(of: participant)?.edge ?? "not assigned yet"); ask POST /v1/meetings/\(meeting)/join")
        }
        let policy = try policy(tenant: tenant)
        if let reason = refusal(of: policy, cascaded: false) { try await refuse(tenant: tenant, meeting: meeting, reason: reason) }
        if policy.e2ee == .required { try await refuse(tenant: tenant, meeting: meeting, reason: .e2eeUnavailable) }
    }

    /// The first media session of a meeting at this node is recorded as `media processed`
    /// (not end-to-end encrypted: only meetings whose policy does not require E2EE get media).
    func mediaSession(tenant: String, meeting: String, participant: String, joined: Bool) async {
        let key = Key(tenant: tenant, id: meeting)
        guard joined, !mediaLogged.contains(key) else { return }
        do {
            try await append(.mediaProcessed(at: location, endToEndEncrypted: false), tenant: tenant, meeting: meeting)
            mediaLogged.insert(key)
        } catch {
            logger.error("could not record media processing", metadata: ["error": "\(error)"])
        }
    }
}
