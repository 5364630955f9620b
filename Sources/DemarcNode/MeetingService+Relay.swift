import Foundation
import Placement
import Residency
import Transparency
import SodiumWrapper
import RelayLinks

/// A relay link the node asks its SFU to open (issue 7, docs/relay.md): the media side
/// carries the meeting's tracks over it, sealed with these keys.
struct RelayLinkPlan: Sendable {
    var linkID: UInt64
    /// The SFU's name for the meeting (`RTCSignaling.mediaMeeting`).
    var mediaMeeting: String
    var remoteNode: String
    var remoteHost: String
    var remotePort: Int
    var keys: RelayKeySchedule
    /// The policy requires end-to-end encryption: frames arriving over the link are checked
    /// for the SFrame layout too (defence in depth; the sender's edge checked them first).
    var endToEndEncryptionRequired: Bool
}

/// What the node needs of its SFU: relay links, and what it observed of a meeting's
/// encryption (`MediaServer` conforms in DemarcNode).
protocol NodeMediaPlane: Sendable {
    /// nil: no media forwarded yet; false: some forwarded frame lacked the SFrame layout.
    func endToEndEncryptionObserved(meeting: String) async -> Bool?
    func forgetEndToEndEncryptionObservation(meeting: String) async
    func openRelay(_ plan: RelayLinkPlan) async throws
    func closeRelay(_ linkID: UInt64) async
    /// Whether the link has carried an authenticated datagram from the far end in the last `seconds`.
    func relayAlive(_ linkID: UInt64, withinSeconds seconds: Double) async -> Bool
}

extension MeetingService {
    /// One edge of a meeting's relay tree, as this node sees it (parent nearer the home).
    struct RelayEdge: Hashable, Sendable, CustomStringConvertible {
        var tenant: String
        var meeting: String
        var parent: String
        var child: String
        var description: String { "\(parent)→\(child)" }
    }

    /// A link this node has open with its two ends' locations, kept for the closing entry
    /// (the far node may be gone from the view by then).
    struct OpenRelay: Sendable {
        var linkID: UInt64
        var from: NodeLocation
        var to: NodeLocation
        var openedAt: ContinuousClock.Instant
    }

    /// `POST /internal/v1/tenants/{t}/meetings/{m}/relay`: the parent's offer of a link.
    struct RelayOffer: Codable, Sendable {
        var generation: Int
        /// 16 hex digits.
        var link: String
        var parent: String
        var child: String
        /// The parent's fresh X25519 public key, base64.
        var key: String
    }

    /// The child's answer, signed with its node key (`relayResponseSignature`).
    struct RelayAcceptance: Codable, Sendable {
        var link: String
        var key: String
    }

    static let relayResponseSignatureHeader = "Demarc-Relay-Signature"

    /// What the child signs: both bodies, so the parent knows the answer is this node's, to this offer.
    static func relayResponseMessage(request: [UInt8], response: [UInt8]) -> [UInt8] {
        Array("demarc relay response v1\n\(Hex.encode(SHA256.hash(request)))\n\(Hex.encode(SHA256.hash(response)))".utf8)
    }

    /// The relay edges this node is an end of, in the active meetings it serves.
    func desiredRelayEdges() -> [RelayEdge: MeetingRecord] {
        var out: [RelayEdge: MeetingRecord] = [:]
        for record in records.values where record.status == .active && record.nodes.contains(nodeID) {
            for link in record.relay_tree where link.parent == nodeID || link.child == nodeID {
                out[RelayEdge(tenant: record.tenant, meeting: record.id, parent: link.parent, child: link.child)] = record
            }
        }
        return out
    }

    /// Whether the policy lets both ends carry this meeting's media across a link: relay
    /// and media allowed in each end's jurisdiction (the far end's from its verified certificate).
    func relayRefusal(_ policy: ResidencyPolicy, remoteJurisdiction: String) -> RefusalReason? {
        for j in [location.jurisdiction.description, remoteJurisdiction] {
            guard let code = CountryCode(j) else { return .certificateInvalid }
            guard policy.allows(.relay, in: code), policy.allows(.media, in: code) else { return .jurisdictionNotAllowed }
        }
        return nil
    }

    /// Called from the reconcile loop: closes links the tree no longer has (or whose far end
    /// went silent), and, as the parent, opens the links the tree asks for.
    func reconcileRelays() async {
        guard let plane = mediaPlane else { return }
        let desired = desiredRelayEdges()
        for (edge, open) in relayLinks {
            var silent = false
            if edge.parent == nodeID, ContinuousClock.now - open.openedAt > .seconds(5) {
                silent = await !plane.relayAlive(open.linkID, withinSeconds: 5)
            }
            if desired[edge] == nil || silent { await closeRelay(edge, reason: silent ? "far end silent" : "no longer in the relay tree") }
        }
        // Retry times of edges the tree no longer has go with them.
        relayRetryAt = relayRetryAt.filter { desired[$0.key] != nil }
        let now = ContinuousClock.now
        for (edge, record) in desired.sorted(by: { $0.key.description < $1.key.description })
        where edge.parent == nodeID && relayLinks[edge] == nil && !relayOffering.contains(edge) && (relayRetryAt[edge] ?? now) <= now {
            relayOffering.insert(edge)
            defer { relayOffering.remove(edge) }
            do throws(MeetingError) {
                try await initiateRelay(edge, record: record, plane: plane)
                relayRetryAt[edge] = nil
            } catch {
                relayRetryAt[edge] = now + (error.code == "relay_not_allowed" ? .seconds(30) : .seconds(1))
                logger.info("relay link not opened yet", metadata: ["to": "\(edge.child)", "reason": "\(error.code)"])
            }
        }
    }

    func closeRelay(_ edge: RelayEdge, reason: String) async {
        guard let open = relayLinks.removeValue(forKey: edge) else { return }
        await mediaPlane?.closeRelay(open.linkID)
        metrics.relayLinksOpen.set(Int64(relayLinks.count))
        logger.notice("relay link closed", metadata: ["from": "\(edge.parent)", "to": "\(edge.child)", "reason": "\(reason)"])
        try? await append(.relayLinkClosed(from: open.from, to: open.to), tenant: edge.tenant, meeting: edge.meeting)
    }

    /// The parent's side: checks the policy itself, offers a fresh X25519 key over a signed
    /// request, verifies the child's signed answer, derives the keys and opens the link.
    func initiateRelay(_ edge: RelayEdge, record: MeetingRecord, plane: any NodeMediaPlane) async throws(MeetingError) {
        guard let child = await peer(edge.child), child.isUsable || child.draining, child.mediaPort > 0 else {
            throw MeetingError(.serviceUnavailable, "peer_unreachable", "node \(edge.child) is not reachable for media")
        }
        let policy = try policy(tenant: edge.tenant)
        let view = try await placementView()
        guard let from = location(of: nodeID, view: view), let to = location(of: edge.child, view: view) else {
            throw MeetingError(.serviceUnavailable, "peer_unreachable", "node \(edge.child) is not in the placement view")
        }
        if let reason = relayRefusal(policy, remoteJurisdiction: child.jurisdiction) {
            try await refuseRelay(edge, reason: reason)
        }
        let ephemeral = X25519.PrivateKey()
        let linkID = UInt64.random(in: 1...UInt64.max)
        let offer = RelayOffer(generation: record.generation, link: Self.hex(linkID), parent: nodeID, child: edge.child,
                               key: Data(ephemeral.publicKey.rawRepresentation).base64EncodedString())
        let requestBody = encode(offer)
        let reply: PeerClient.Reply
        do { reply = try await client.call("POST", child, "/internal/v1/tenants/\(edge.tenant)/meetings/\(edge.meeting)/relay", body: requestBody) } catch {
            throw MeetingError(.serviceUnavailable, "peer_unreachable", error.description)
        }
        let acceptance = try Self.decodeReply(reply, as: RelayAcceptance.self)
        guard let signature = reply.headers[Self.relayResponseSignatureHeader.lowercased()].flatMap({ Data(base64Encoded: $0) }),
              child.publicKey.isValidSignature(Array(signature), for: Self.relayResponseMessage(request: Array(requestBody), response: Array(reply.body))) else {
            throw MeetingError(.badGateway, "relay_unauthenticated", "node \(edge.child)'s answer is not signed with its certified key")
        }
        guard acceptance.link == offer.link, let keyBytes = Data(base64Encoded: acceptance.key),
              let remoteKey = try? X25519.PublicKey(rawRepresentation: Array(keyBytes)) else {
            throw MeetingError(.badGateway, "relay_bad_answer", "node \(edge.child) answered with another link or a malformed key")
        }
        let keys: RelayKeySchedule
        do {
            keys = try RelayKeySchedule(role: .initiator, local: ephemeral, remote: remoteKey,
                                        transcript: RelayKeySchedule.transcript(request: Array(requestBody), response: Array(reply.body)))
        } catch {
            throw MeetingError(.badGateway, "relay_bad_answer", "\(error)")
        }
        try await openRelay(edge, linkID: linkID, keys: keys, remote: child, from: from, to: to, plane: plane)
    }

    /// The child's side of `POST …/relay`: the caller (already authenticated by its
    /// signature and certificate) must be the parent of an edge of this meeting's tree
    /// that ends here, and the policy must allow both ends; then it answers with its own
    /// key, signed, and opens the link. Returns the answer body and its signature.
    func acceptRelay(tenant: String, meeting: String, offerBody: [UInt8], from caller: String) async throws(MeetingError) -> (body: Data, signature: String) {
        guard let plane = mediaPlane else { throw MeetingError(.conflict, "no_media", "node \(nodeID) runs no SFU") }
        let offer: RelayOffer
        do { offer = try JSONDecoder().decode(RelayOffer.self, from: Data(offerBody)) } catch {
            throw .badRequest("the body is not a relay offer")
        }
        guard offer.parent == caller, offer.child == nodeID, offer.link.count == 16, let linkID = UInt64(offer.link, radix: 16), linkID != 0,
              let keyBytes = Data(base64Encoded: offer.key), let remoteKey = try? X25519.PublicKey(rawRepresentation: Array(keyBytes)) else {
            throw .badRequest("a relay offer names its sender as parent, this node as child, a 16-hex-digit link id and a 32-byte key")
        }
        guard let record = holds(tenant: tenant, id: meeting), record.status == .active else {
            throw MeetingError(.conflict, "not_served_here", "meeting not served at node \(nodeID) (yet)")
        }
        let edge = RelayEdge(tenant: tenant, meeting: meeting, parent: caller, child: nodeID)
        // The policy first: an offer from a jurisdiction the meeting may not use is refused
        // and logged whatever the tree says.
        let policy = try policy(tenant: tenant)
        guard let parent = await peer(caller) else { throw MeetingError(.forbidden, "peer_unauthenticated", "unknown node") }
        if let reason = relayRefusal(policy, remoteJurisdiction: parent.jurisdiction) { try await refuseRelay(edge, reason: reason) }
        guard record.relay_tree.contains(where: { $0.parent == caller && $0.child == nodeID }) else {
            // A newer record may be on its way here; an older offer is simply wrong.
            if offer.generation > record.generation { throw MeetingError(.conflict, "stale_record", "node \(nodeID) has not seen generation \(offer.generation) yet") }
            throw MeetingError(.forbidden, "not_in_relay_tree", "the meeting's relay tree has no link \(caller)→\(nodeID)")
        }
        let view = try await placementView()
        guard let from = location(of: caller, view: view), let to = location(of: nodeID, view: view) else {
            throw MeetingError(.serviceUnavailable, "peer_unreachable", "node \(caller) is not in the placement view")
        }
        let ephemeral = X25519.PrivateKey()
        let body = encode(RelayAcceptance(link: offer.link, key: Data(ephemeral.publicKey.rawRepresentation).base64EncodedString()))
        let keys: RelayKeySchedule
        do {
            keys = try RelayKeySchedule(role: .responder, local: ephemeral, remote: remoteKey,
                                        transcript: RelayKeySchedule.transcript(request: offerBody, response: Array(body)))
        } catch {
            throw .badRequest("the relay offer's key is unusable: \(error)")
        }
        // A parent that restarted offers again: the old link is gone on its side.
        if relayLinks[edge] != nil { await closeRelay(edge, reason: "replaced by a new offer") }
        try await openRelay(edge, linkID: linkID, keys: keys, remote: parent, from: from, to: to, plane: plane)
        let signature = Data(client.key.signature(for: Self.relayResponseMessage(request: offerBody, response: Array(body)))).base64EncodedString()
        return (body, signature)
    }

    func openRelay(_ edge: RelayEdge, linkID: UInt64, keys: RelayKeySchedule, remote: Peer, from: NodeLocation, to: NodeLocation,
                   plane: any NodeMediaPlane) async throws(MeetingError) {
        let plan = RelayLinkPlan(linkID: linkID, mediaMeeting: "\(edge.tenant)/\(edge.meeting)", remoteNode: remote.nodeID,
                                 remoteHost: remote.host, remotePort: remote.mediaPort, keys: keys,
                                 endToEndEncryptionRequired: (try? policy(tenant: edge.tenant))?.e2ee == .required)
        do { try await plane.openRelay(plan) } catch {
            throw MeetingError(.internalServerError, "relay_failed", "the SFU could not open the link: \(error)")
        }
        relayLinks[edge] = OpenRelay(linkID: linkID, from: from, to: to, openedAt: .now)
        metrics.relayLinksOpen.set(Int64(relayLinks.count))
        logger.notice("relay link opened", metadata: ["from": "\(edge.parent)", "to": "\(edge.child)"])
        try await append(.relayLinkOpened(from: from, to: to), tenant: edge.tenant, meeting: edge.meeting)
    }

    /// Refuses a link the policy does not allow at both ends: logged in this node's
    /// transparency log (under the meeting's commitment only) and counted.
    func refuseRelay(_ edge: RelayEdge, reason: RefusalReason) async throws(MeetingError) -> Never {
        metrics.relayRefusals(reason: reason == .jurisdictionNotAllowed ? "jurisdiction_not_allowed" : "certificate_invalid").increment()
        logger.warning("relay link refused", metadata: ["from": "\(edge.parent)", "to": "\(edge.child)", "reason": "\(reason.description)"])
        try await append(.nodeRefused(at: location, reason: reason), tenant: edge.tenant, meeting: edge.meeting)
        throw MeetingError(.forbidden, "relay_not_allowed", "the meeting's policy does not allow relaying its media between \(edge.parent) and \(edge.child): \(reason.description)")
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
