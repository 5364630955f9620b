import Logging
import MediaCore
import MediaCrypto
import MediaForwarding
import MediaNegotiation
import MediaPackets
import NIOCore
import OpenSSLWrapper

/// The media shell's state: every meeting, peer connection and the UDP channel of the node.
///
/// Confined to one event loop (the UDP channel's): every method runs there, so the value-type
/// cores (ICE agents, forwarding routers) need no locks. ``MediaServer`` hops onto the loop for
/// each signaling request. This is the "shell" of STYLE.md §2: it routes datagrams, performs
/// the cores' directives and reports events; the protocol logic lives in the cores.
final class MediaEngine: @unchecked Sendable {
    let configuration: MediaServerConfiguration
    let loop: any EventLoop
    let logger: Logger
    let dtlsContext: DTLSContext
    let fingerprint: SDPFingerprint
    let now: @Sendable () -> MediaInstant
    var channel: (any Channel)?
    var port: Int?
    var meetings: [String: MeetingState] = [:]
    var byUfrag: [String: PeerTransport] = [:]
    var byAddress: [SocketAddress: PeerTransport] = [:]
    var statistics = MediaServerStatistics()
    /// Meetings whose policy requires end-to-end encryption (``MediaServer/requireEndToEndEncryption(meeting:)``).
    var encryptedMeetings: Set<String> = []
    /// Per meeting, whether the publisher frames forwarded so far all carried the SFrame
    /// layout (``MediaServer/endToEndEncryptionObserved(meeting:)``). Outlives the meeting's
    /// state on this node until ``MediaServer/forgetEndToEndEncryptionObservation(meeting:)``.
    var observations: [String: EndToEndEncryptionObservation] = [:]
    var batch = ForwardingBatch()
    /// The RTP packets ``perform(_:)`` has protected into its batch buffer, written once the
    /// batch is done; kept here so its capacity is reused.
    var outgoing: [OutgoingPacket] = []
    /// When non-nil, how long each publisher packet's forwarding took, from the unprotected
    /// packet to the last subscriber's write flushed (SRTP protect and `sendmmsg` for every
    /// subscriber), in nanoseconds; `demarc loadtest` turns it on. At most
    /// ``forwardingDelayLimit`` samples are kept.
    var forwardingDelayNanoseconds: [UInt32]?
    let forwardingDelayLimit = 1_000_000
    var tickTask: RepeatedTask?
    /// Open relay links by link id (docs/relay.md).
    var relayLinks: [UInt64: RelayLink] = [:]
    var ticks = 0

    init(configuration: MediaServerConfiguration, certificate: ECDSACertificate, loop: any EventLoop,
         logger: Logger, now: @escaping @Sendable () -> MediaInstant) throws(OpenSSLError) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.now = now
        dtlsContext = try DTLSContext(certificate: certificate, srtpProfiles: DTLSSRTP.offeredProfiles)
        fingerprint = SDPFingerprint(algorithm: "sha-256", value: try certificate.fingerprint(.sha256))
    }

    // MARK: Channel lifecycle

    func attach(_ channel: any Channel) {
        loop.preconditionInEventLoop()
        self.channel = channel
        port = channel.localAddress?.port
        let interval = TimeAmount.nanoseconds(Int64(configuration.tickInterval.components.seconds) * 1_000_000_000
            + configuration.tickInterval.components.attoseconds / 1_000_000_000)
        tickTask = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in tick() }
    }

    func detach() {
        loop.preconditionInEventLoop()
        tickTask?.cancel()
        tickTask = nil
        channel = nil
        for meeting in meetings.values {
            for participant in meeting.participants.values { participant.events.finish() }
        }
        meetings = [:]
        relayLinks = [:]
        byUfrag = [:]
        byAddress = [:]
    }

    func localTransport(for peer: PeerTransport) throws(MediaSessionError) -> LocalTransport {
        guard let port else { throw .notRunning }
        return LocalTransport(ufrag: peer.credentials.ufrag, password: peer.credentials.password, fingerprint: fingerprint,
                              candidates: configuration.candidateAddresses.map { .init(address: $0, port: port) })
    }

    func makePeer(_ role: PeerConnectionRole, meeting: String, participant: String) throws(MediaSessionError) -> PeerTransport {
        let peer: PeerTransport
        do {
            peer = try PeerTransport(role: role, meeting: meeting, participant: participant, context: dtlsContext,
                                     mtu: configuration.dtlsMTU, now: now())
        } catch {
            throw .forwarding("DTLS setup failed: \(error)")
        }
        byUfrag[peer.credentials.ufrag] = peer
        statistics.peerConnections += 1
        return peer
    }

    func dropPeer(_ peer: PeerTransport) {
        byUfrag[peer.credentials.ufrag] = nil
        for address in peer.addresses where byAddress[address] === peer { byAddress[address] = nil }
        peer.dtls.close()
        flushDTLS(peer)
        statistics.peerConnections -= 1
    }

    // MARK: Signaling operations (docs/signaling.md)

    func join(meeting name: String, participant: String, autoSubscribe: Bool, identityKey: String? = nil,
              node: String? = nil) throws(MediaSessionError) -> AsyncStream<MediaEvent> {
        loop.preconditionInEventLoop()
        guard port != nil else { throw .notRunning }
        let meeting = meetingState(name)
        guard meeting.participants[participant] == nil else { throw .alreadyJoined(meeting: name, participant: participant) }
        let id = ParticipantID(meeting.nextParticipant)
        do { try meeting.router.join(id) } catch { throw .forwarding("\(error)") }
        let subscriber = try makePeer(.subscriber, meeting: name, participant: participant)
        meeting.nextParticipant += 1
        meetings[name] = meeting
        let (stream, continuation) = AsyncStream<MediaEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        var random = SystemRandomNumberGenerator()
        let session = ParticipantSession(name: participant, id: id, events: continuation, autoSubscribe: autoSubscribe, subscriber: subscriber,
                                         slot: meeting.freshSlot(using: &random), identityKey: identityKey, node: node ?? configuration.nodeName)
        meeting.broadcast(.participantJoined(session.info))
        for other in meeting.participants.keys.sorted() { continuation.yield(.participantJoined(meeting.participants[other]!.info)) }
        for other in meeting.remotes.keys.sorted() {
            if let remote = meeting.remotes[other] { continuation.yield(.participantJoined(remote.info)) }
        }
        meeting.snapshotDue = true
        meeting.participants[participant] = session
        meeting.byID[id] = session
        for trackID in meeting.trackOrder {
            guard let track = meeting.tracks[trackID] else { continue }
            continuation.yield(.trackPublished(track.info))
            if autoSubscribe { addSection(for: track, to: session, in: meeting) }
        }
        if let speaker = meeting.router.activeSpeaker.flatMap({ meeting.byID[$0]?.name }) { continuation.yield(.activeSpeaker(speaker)) }
        renegotiate(session, in: meeting)
        return stream
    }

    /// The meeting's state here, made when its first participant or relay link arrives
    /// (with what was observed of its encryption before it last emptied).
    func meetingState(_ name: String) -> MeetingState {
        if let existing = meetings[name] { return existing }
        let meeting = MeetingState(name: name, configuration: configuration.forwarding)
        meeting.observation = observations.removeValue(forKey: name) ?? EndToEndEncryptionObservation()
        if encryptedMeetings.contains(name) { meeting.endToEndEncryptionRequired = true }
        return meeting
    }

    /// The meeting has no participant or link left here: its state goes, what was observed
    /// of its encryption stays until the node has logged it.
    func forget(_ meeting: MeetingState) {
        // The forwarding core's uplink-recovery counts outlive the meeting in the totals.
        statistics.nacksSentToPublishers += meeting.router.counters.nacksSentToPublishers
        statistics.publisherRetransmissionsReceived += meeting.router.counters.publisherRetransmissionsReceived
        statistics.addCongestionCounters(meeting.router.counters)
        meetings[meeting.name] = nil
        if meeting.observation != EndToEndEncryptionObservation() { observations[meeting.name] = meeting.observation }
    }

    func session(_ meeting: String, _ participant: String) throws(MediaSessionError) -> (MeetingState, ParticipantSession) {
        guard let state = meetings[meeting], let session = state.participants[participant] else {
            throw .notJoined(meeting: meeting, participant: participant)
        }
        return (state, session)
    }

    /// The client's offer for its publisher peer connection → the SFU's answer. A later
    /// offer on the same connection (renegotiation) adds and removes tracks by mid.
    func publish(meeting name: String, participant: String, offer: String) throws(MediaSessionError) -> String {
        loop.preconditionInEventLoop()
        let (meeting, session) = try session(name, participant)
        // docs/signaling.md: in an E2EE-required meeting only participants with an identity
        // key publish (their frames are then checked for the SFrame layout and their slot).
        if meeting.endToEndEncryptionRequired, session.identityKey == nil { throw .endToEndEncryptionRequired }
        let peer: PeerTransport
        if let existing = session.publisher {
            peer = existing
        } else {
            peer = try makePeer(.publisher, meeting: name, participant: participant)
        }
        let isNew = session.publisher == nil
        let transport: LocalTransport
        do { transport = try localTransport(for: peer) } catch {
            if isNew { dropPeer(peer) }
            throw error
        }
        let negotiation: PublisherNegotiation
        do {
            negotiation = try SFUNegotiator.answerPublisherOffer(offer, transport: transport, policy: configuration.negotiation,
                                                                 sessionID: session.sessionID)
        } catch {
            if isNew { dropPeer(peer) }
            throw .negotiation(error)
        }
        session.publisher = peer
        peer.ice.remoteUfrag = negotiation.remoteUfrag
        peer.remoteFingerprint = negotiation.remoteFingerprint
        establishIfReady(peer)
        try? meeting.router.updateExtensionMap(session.id, negotiation.extensionMap)
        session.extensionMap = negotiation.extensionMap
        meeting.snapshotDue = true
        peer.transportCCID = negotiation.extensionMap.transportWideSequence

        let sending = Set(negotiation.published.map(\.mid))
        for (mid, trackID) in session.publishedByMid where !sending.contains(mid) {
            unpublish(trackID, in: meeting)
        }
        var touched: Set<String> = []
        for section in negotiation.published where session.publishedByMid[section.mid] == nil {
            let number = meeting.nextTrack
            let id = "T\(number)"
            let description = PublishedTrackDescription(
                id: TrackID(number), mid: section.mid, kind: section.kind == "audio" ? .audio : .video,
                clockRate: section.codec.clockRate,
                payloadTypes: [PayloadTypeDescription(payloadType: section.codec.payloadType,
                                                      codec: ForwardedCodec(encodingName: section.codec.encodingName),
                                                      rtxPayloadType: section.codec.rtxPayloadType)],
                layers: section.layers)
            do { try meeting.router.publish(description, by: session.id) } catch { throw .forwarding("\(error)") }
            meeting.nextTrack += 1
            let info = MediaTrackInfo(id: id, participant: participant, kind: section.kind,
                                      streamID: section.streamID, trackID: section.trackID,
                                      simulcastLayers: section.layers.count, muted: false)
            let track = PublishedTrack(info: info, trackID: TrackID(number), publisher: session.id,
                                       publisherMid: section.mid, codec: section.codec, layers: section.layers)
            meeting.tracks[id] = track
            meeting.trackOrder.append(id)
            session.publishedByMid[section.mid] = id
            meeting.broadcast(.trackPublished(info), except: participant)
            for other in meeting.participants.values where other.name != participant && other.autoSubscribe {
                addSection(for: track, to: other, in: meeting)
                touched.insert(other.name)
            }
        }
        // One offer per subscriber for all the new tracks.
        for name in touched.sorted() {
            if let other = meeting.participants[name] { renegotiate(other, in: meeting) }
        }
        return negotiation.answer.serialized()
    }

    /// The client's answer to the SFU's latest subscriber offer.
    func answerSubscriber(meeting name: String, participant: String, answer: String) throws(MediaSessionError) {
        loop.preconditionInEventLoop()
        let (meeting, session) = try session(name, participant)
        guard let offer = session.outstandingOffer else { throw .noOutstandingOffer }
        let result: SubscriberNegotiation
        do { result = try SFUNegotiator.acceptSubscriberAnswer(answer, to: offer) } catch { throw .negotiation(error) }
        session.outstandingOffer = nil
        session.accepted = result.accepted
        session.subscriber.ice.remoteUfrag = result.remoteUfrag
        session.subscriber.remoteFingerprint = result.remoteFingerprint
        establishIfReady(session.subscriber)
        applySubscriptions(session, in: meeting)
        if session.renegotiationWanted { renegotiate(session, in: meeting) }
    }

    func subscribe(meeting name: String, participant: String, tracks: [String], subscribe: Bool) throws(MediaSessionError) {
        loop.preconditionInEventLoop()
        let (meeting, session) = try session(name, participant)
        for id in tracks {
            guard let track = meeting.tracks[id] else { throw .unknownTrack(id) }
            guard track.info.participant != participant else { throw .notYourTrack(id) }
        }
        for id in tracks {
            if subscribe {
                addSection(for: meeting.tracks[id]!, to: session, in: meeting)
            } else {
                deactivateSections(of: id, for: session, in: meeting)
            }
        }
        renegotiate(session, in: meeting)
    }

    func setMuted(meeting name: String, participant: String, track id: String, muted: Bool) throws(MediaSessionError) {
        loop.preconditionInEventLoop()
        let (meeting, _) = try session(name, participant)
        guard meeting.tracks[id] != nil else { throw .unknownTrack(id) }
        guard meeting.tracks[id]!.info.participant == participant else { throw .notYourTrack(id) }
        meeting.tracks[id]!.info.muted = muted
        meeting.snapshotDue = true
        meeting.broadcast(.trackMuted(id: id, muted: muted), except: participant)
    }

    /// Delivers `envelope` (a sealed media key, opaque here) from `from` to `to`, stamped with
    /// the sender's name so the recipient knows whose identity key to open it with.
    func relayMediaKey(meeting name: String, from: String, to: String, envelope: [UInt8]) throws(MediaSessionError) {
        loop.preconditionInEventLoop()
        guard envelope.count <= MediaServer.maximumMediaKeyEnvelope else { throw .mediaKeyTooLarge(envelope.count) }
        let (meeting, _) = try session(name, from)
        if let recipient = meeting.participants[to] {
            recipient.events.yield(.mediaKey(from: from, envelope: envelope))
            return
        }
        // A participant on another node of a cascaded meeting: over the link that brought it.
        guard forwardMediaKey(meeting: meeting, from: from, to: to, envelope: envelope, arrivedOver: nil) else {
            throw .unknownParticipant(to)
        }
    }

    func leave(meeting name: String, participant: String) {
        loop.preconditionInEventLoop()
        guard let (meeting, session) = try? session(name, participant) else { return }
        for trackID in session.publishedByMid.values.sorted() { unpublish(trackID, in: meeting) }
        batch.reset()
        meeting.router.leave(session.id, into: &batch)
        perform(meeting)
        meeting.participants[participant] = nil
        meeting.byID[session.id] = nil
        for section in session.sections { meeting.subscriberSSRCs.remove(section.ssrc); section.rtxSSRC.map { _ = meeting.subscriberSSRCs.remove($0) } }
        if let publisher = session.publisher { dropPeer(publisher) }
        dropPeer(session.subscriber)
        session.events.finish()
        meeting.broadcast(.participantLeft(participant))
        meeting.snapshotDue = true
        if meeting.isEmpty { forget(meeting) }
    }

    // MARK: Subscriber negotiation

    func addSection(for track: PublishedTrack, to session: ParticipantSession, in meeting: MeetingState) {
        if let index = session.sections.firstIndex(where: { session.sectionTracks[$0.mid] == track.info.id }) {
            session.sections[index].active = true
            return
        }
        let mid = String(session.sections.count)
        let section = SubscriberSection(
            mid: mid, kind: track.info.kind, codec: track.codec, ssrc: meeting.freshSSRC(),
            rtxSSRC: track.info.kind == "video" ? meeting.freshSSRC() : nil,
            streamID: MeetingState.msidToken(track.info.participant), trackID: track.info.id,
            cname: "demarc-\(MeetingState.msidToken(track.info.participant))")
        session.sections.append(section)
        session.sectionTracks[mid] = track.info.id
    }

    func deactivateSections(of trackID: String, for session: ParticipantSession, in meeting: MeetingState) {
        for index in session.sections.indices where session.sectionTracks[session.sections[index].mid] == trackID {
            session.sections[index].active = false
        }
        if session.forwarding.remove(trackID) != nil, let track = meeting.tracks[trackID] {
            try? meeting.router.unsubscribe(session.id, from: track.trackID)
        }
    }

    /// Sends a new subscriber offer, or remembers to once the outstanding one is answered
    /// (one offer in flight at a time: JSEP's "have-local-offer" state, RFC 8829 §3.2).
    func renegotiate(_ session: ParticipantSession, in meeting: MeetingState) {
        guard !session.sections.isEmpty else { return }
        guard session.outstandingOffer == nil else {
            session.renegotiationWanted = true
            return
        }
        guard let transport = try? localTransport(for: session.subscriber) else { return }
        session.offerVersion += 1
        session.renegotiationWanted = false
        let offer = SFUNegotiator.subscriberOffer(session.sections, transport: transport, policy: configuration.negotiation,
                                                  sessionID: session.sessionID, version: session.offerVersion)
        session.outstandingOffer = offer
        session.events.yield(.subscriberOffer(sdp: offer.serialized()))
    }

    /// Starts forwarding each accepted, active section once the subscriber's DTLS-SRTP is
    /// up (before that, the first keyframe would be sent into the void).
    func applySubscriptions(_ session: ParticipantSession, in meeting: MeetingState) {
        guard session.subscriber.srtp != nil else { return }
        batch.reset()
        for section in session.sections where section.active {
            guard let trackID = session.sectionTracks[section.mid], !session.forwarding.contains(trackID),
                  let track = meeting.tracks[trackID], let codec = session.accepted[section.mid] else { continue }
            var rtx: SubscriptionDescription.RTX?
            if let rtxSSRC = section.rtxSSRC, let rtxPT = codec.rtxPayloadType {
                rtx = .init(ssrc: rtxSSRC, payloadTypes: [codec.payloadType: rtxPT])
            }
            let description = SubscriptionDescription(ssrc: section.ssrc, rtx: rtx,
                                                      initialSequenceOffset: .random(in: 0...UInt16.max),
                                                      initialTimestampOffset: .random(in: 0...UInt32.max))
            do {
                try meeting.router.subscribe(session.id, to: track.trackID, description, now: now(), into: &batch)
                session.forwarding.insert(trackID)
            } catch {
                logger.warning("subscription refused", metadata: ["track": "\(trackID)", "error": "\(error)"])
            }
        }
        perform(meeting)
    }

    func unpublish(_ trackID: String, in meeting: MeetingState) {
        guard let track = meeting.tracks.removeValue(forKey: trackID) else { return }
        meeting.trackOrder.removeAll { $0 == trackID }
        meeting.snapshotDue = true
        try? meeting.router.unpublish(track.trackID)
        meeting.byID[track.publisher]?.publishedByMid[track.publisherMid] = nil
        meeting.broadcast(.trackUnpublished(id: trackID, participant: track.info.participant), except: track.info.participant)
        for other in meeting.participants.values where other.sectionTracks.values.contains(trackID) {
            for index in other.sections.indices where other.sectionTracks[other.sections[index].mid] == trackID {
                other.sections[index].active = false
            }
            other.forwarding.remove(trackID)
            renegotiate(other, in: meeting)
        }
    }
}

/// One SRTP packet of a batch: its bytes are `length` bytes at `offset` in the batch buffer.
struct OutgoingPacket {
    var target: SocketAddress
    var offset: Int
    var length: Int
}
