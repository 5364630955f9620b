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
    func admitMediaSession(tenant: String, meeting: String, participant: String) async throws(MeetingError) -> Bool {
        guard let record = holds(tenant: tenant, id: meeting), record.status == .active else {
            throw MeetingError(.forbidden, "not_served_here", "meeting '\(meeting)' is not served at node \(nodeID); ask POST /v1/meetings/\(meeting)/join for your edge")
        }
        guard let a = record.assignment(of: participant), a.edge == nodeID else {
            throw MeetingError(.forbidden, "wrong_edge", "this participant's edge is \(record.assignment(of: participant)?.edge ?? "not assigned yet"); ask POST /v1/meetings/\(meeting)/join")
        }
        let policy = try policy(tenant: tenant)
        if let reason = refusal(of: policy, cascaded: false) { try await refuse(tenant: tenant, meeting: meeting, reason: reason) }
        return policy.e2ee == .required
    }

    /// The first media session of a meeting at this node is recorded as `media processed`,
    /// end-to-end encrypted when the policy requires it (the SFU then forwards only frames
    /// with the SFrame layout); `preferred` and `off` meetings are not checked, so recorded
    /// as not end-to-end encrypted.
    func mediaSession(tenant: String, meeting: String, participant: String, joined: Bool) async {
        let key = Key(tenant: tenant, id: meeting)
        guard joined, !mediaLogged.contains(key) else { return }
        let encrypted = (try? policy(tenant: tenant))?.e2ee == .required
        do {
            try await append(.mediaProcessed(at: location, endToEndEncrypted: encrypted), tenant: tenant, meeting: meeting)
            mediaLogged.insert(key)
        } catch {
            logger.error("could not record media processing", metadata: ["error": "\(error)"])
        }
    }
}
