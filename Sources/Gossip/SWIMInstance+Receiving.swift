public import ControlPlaneWire

extension SWIMInstance {
    /// Handles one authenticated datagram from `source` (the address it came from).
    public mutating func receive(_ packet: GossipPacketMessage, from source: GossipEndpoint, now: GossipInstant) -> [GossipDirective] {
        var d: [GossipDirective] = []
        d.reserveCapacity(4)
        guard packet.senderNodeID != localNodeID else { counters.unexpectedPackets += 1; return d }
        for update in packet.updates { apply(update, now: now, into: &d) }
        switch packet.kind {
        case .ping: answerPing(packet, from: source, now: now, into: &d)
        case .pingRequest: relayPing(packet, from: source, now: now, into: &d)
        case .ack: handleAck(packet, now: now, into: &d)
        case .nack:
            if var p = probe, p.sequence == packet.probeSequence {
                p.nacks += 1
                probe = p
                counters.nacksReceived += 1
            }
        case .gossip: break
        case .pushPullRequest, .pushPullResponse: counters.unexpectedPackets += 1
        }
        return d
    }

    mutating func answerPing(_ packet: GossipPacketMessage, from source: GossipEndpoint, now: GossipInstant, into d: inout [GossipDirective]) {
        // A ping for another node (an old address reused) must not be acked on its behalf.
        guard packet.targetNodeID == localNodeID else { counters.misdirectedPings += 1; return }
        if let c = packet.coordinate, members[packet.senderNodeID] != nil { cacheCoordinate(c, of: packet.senderNodeID) }
        counters.pingsAnswered += 1
        let ack = GossipPacketMessage(kind: .ack, senderNodeID: localNodeID, probeSequence: packet.probeSequence,
                                      coordinate: vivaldi.coordinate)
        d.append(.send(makePacket(ack, to: packet.senderNodeID), to: source))
    }

    mutating func relayPing(_ packet: GossipPacketMessage, from source: GossipEndpoint, now: GossipInstant, into d: inout [GossipDirective]) {
        guard !packet.targetNodeID.isEmpty, packet.targetNodeID != localNodeID, packet.targetPort > 0 else {
            counters.unexpectedPackets += 1
            return
        }
        let seq = nextSequence()
        let timeout = settings.probing.timeout
        relays[seq] = Relay(requester: source, originalSequence: packet.probeSequence,
                            nackAt: now + timeout.scaled(settings.probing.nackFraction),
                            expiresAt: now + settings.probing.interval * 2)
        let ping = GossipPacketMessage(kind: .ping, senderNodeID: localNodeID, probeSequence: seq,
                                       targetNodeID: packet.targetNodeID, coordinate: vivaldi.coordinate)
        let target = GossipEndpoint(host: packet.targetAddress, port: UInt16(packet.targetPort))
        d.append(.send(makePacket(ping, to: packet.targetNodeID), to: target))
    }

    mutating func handleAck(_ packet: GossipPacketMessage, now: GossipInstant, into d: inout [GossipDirective]) {
        if var p = probe, p.sequence == packet.probeSequence {
            guard !p.acked else { return }
            p.acked = true
            probe = p
            adjustLocalHealth(by: -1)
            // Only a direct answer measures the round trip to the target (Serf).
            if packet.senderNodeID == p.target, let c = packet.coordinate {
                let coordinate = c
                cacheCoordinate(c, of: p.target)
                vivaldi.update(node: p.target, other: coordinate, rttMilliseconds: (now - p.sentAt).gossipMilliseconds)
            }
            return
        }
        if let r = relays.removeValue(forKey: packet.probeSequence) {
            let ack = GossipPacketMessage(kind: .ack, senderNodeID: localNodeID, probeSequence: r.originalSequence)
            d.append(.send(makePacket(ack, to: nil), to: r.requester))
        }
    }

    mutating func cacheCoordinate(_ c: VivaldiCoordinateMessage, of id: String) {
        guard c.vector.count == vivaldi.settings.dimensionality else { return }
        coordinates[id] = c
    }

    // MARK: Merging updates (SWIM §4.2)

    mutating func apply(_ u: MemberUpdateMessage, now: GossipInstant, into d: inout [GossipDirective]) {
        switch u.kind {
        case .alive:
            if let state = u.state { applyAlive(state: state, incarnation: u.incarnation, now: now, into: &d) }
        case .suspect: applySuspect(nodeID: u.nodeID, incarnation: u.incarnation, from: u.fromNodeID, now: now, into: &d)
        case .dead: applyDead(nodeID: u.nodeID, incarnation: u.incarnation, from: u.fromNodeID, left: false, now: now, into: &d)
        case .left: applyDead(nodeID: u.nodeID, incarnation: u.incarnation, from: u.fromNodeID, left: true, now: now, into: &d)
        }
    }

    /// Someone says we are suspect, dead, or alive with a newer incarnation than ours:
    /// announce ourselves alive with an incarnation above theirs (SWIM §4.2).
    ///
    /// The refutation omits the certificate (about half the bytes of a node state): members that
    /// know us keep the certificate they have; one that does not gets it by push-pull, and until
    /// then cannot admit us to its placement view (fail closed).
    mutating func refute(incarnation claimed: UInt64) {
        incarnation = max(incarnation, claimed) + 1
        localState.incarnation = incarnation
        counters.refutations += 1
        var brief = localState
        brief.certificate = nil
        enqueue(MemberUpdateMessage(kind: .alive, nodeID: localNodeID, incarnation: incarnation, state: brief))
    }

    mutating func applyAlive(state incoming: NodeStateMessage, incarnation inc: UInt64, now: GossipInstant, into d: inout [GossipDirective]) {
        var state = incoming
        state.coordinate = nil
        state.incarnation = inc
        if state.status != .draining { state.status = .alive }
        if state.nodeID == localNodeID {
            var own = localState
            if state.certificate == nil { own.certificate = nil }
            if !isLeaving, inc > incarnation || (inc == incarnation && state != own) { refute(incarnation: inc) }
            return
        }
        // An update without a certificate (a refutation) keeps the certificate we already hold.
        let brief = state.certificate == nil
        if brief, let known = members[state.nodeID]?.state.certificate { state.certificate = known }
        guard !state.nodeID.isEmpty, state.port <= UInt32(UInt16.max) else { counters.unexpectedPackets += 1; return }
        if let existing = members[state.nodeID] {
            if inc == existing.incarnation, existing.state.certificate == nil, let certificate = state.certificate,
               existing.status == .alive || existing.status == .suspect {
                // A member first learned from a refutation (no certificate) gets it from push-pull.
                members[state.nodeID]!.state.certificate = certificate
                d.append(.memberStateUpdated(nodeID: state.nodeID, incarnation: inc))
                return
            }
            guard inc > existing.incarnation else { return }
            let previous = existing.status
            members[state.nodeID] = Member(state: state, status: .alive, incarnation: inc,
                                           statusChangedAt: previous == .alive ? existing.statusChangedAt : now)
            suspicions[state.nodeID] = nil
            if previous == .dead || previous == .left { liveMembers += 1 }
            if previous != .alive {
                d.append(.membershipChanged(MembershipChange(nodeID: state.nodeID, previousStatus: previous, status: .alive, incarnation: inc)))
            } else {
                d.append(.memberStateUpdated(nodeID: state.nodeID, incarnation: inc))
            }
        } else {
            members[state.nodeID] = Member(state: state, status: .alive, incarnation: inc, statusChangedAt: now)
            liveMembers += 1
            addToProbeOrder(state.nodeID)
            d.append(.membershipChanged(MembershipChange(nodeID: state.nodeID, previousStatus: nil, status: .alive, incarnation: inc)))
        }
        var forwarded = state
        if brief { forwarded.certificate = nil }
        enqueue(MemberUpdateMessage(kind: .alive, nodeID: state.nodeID, incarnation: inc, state: forwarded))
    }

    mutating func applySuspect(nodeID id: String, incarnation inc: UInt64, from: String, now: GossipInstant, into d: inout [GossipDirective]) {
        if id == localNodeID {
            guard !isLeaving else { return }
            refute(incarnation: inc)
            // Lifeguard §IV.A: being suspected means our own answers were late.
            adjustLocalHealth(by: 1)
            return
        }
        guard var m = members[id], inc >= m.incarnation else { return }
        switch m.status {
        case .dead, .left:
            return
        case .suspect:
            guard var s = suspicions[id] else { return }
            if inc > m.incarnation { m.incarnation = inc; members[id] = m }
            // An independent confirmation shortens the timeout (Lifeguard §IV.B).
            guard !from.isEmpty, !s.seen.contains(from) else { return }
            s.seen.insert(from)
            s.confirmations += 1
            s.deadline = s.startedAt + suspicionTimeout(confirmations: s.confirmations)
            suspicions[id] = s
            enqueue(MemberUpdateMessage(kind: .suspect, nodeID: id, incarnation: m.incarnation, fromNodeID: from))
        case .alive:
            m.status = .suspect
            m.incarnation = inc
            m.statusChangedAt = now
            members[id] = m
            counters.suspicionsRaised += 1
            suspicions[id] = Suspicion(startedAt: now, seen: [from], confirmations: 0,
                                       deadline: now + suspicionTimeout(confirmations: 0))
            enqueue(MemberUpdateMessage(kind: .suspect, nodeID: id, incarnation: inc, fromNodeID: from))
            d.append(.membershipChanged(MembershipChange(nodeID: id, previousStatus: .alive, status: .suspect, incarnation: inc)))
        }
    }

    mutating func applyDead(nodeID id: String, incarnation inc: UInt64, from: String, left: Bool, now: GossipInstant, into d: inout [GossipDirective]) {
        if id == localNodeID {
            if !isLeaving { refute(incarnation: inc) }
            return
        }
        guard var m = members[id], inc >= m.incarnation, m.status != .dead, m.status != .left else { return }
        let previous = m.status
        m.status = left ? .left : .dead
        m.incarnation = inc
        m.statusChangedAt = now
        members[id] = m
        liveMembers -= 1
        suspicions[id] = nil
        if !left { counters.membersDeclaredDead += 1 }
        if probe?.target == id { probe = nil }
        enqueue(MemberUpdateMessage(kind: left ? .left : .dead, nodeID: id, incarnation: inc, fromNodeID: from))
        d.append(.membershipChanged(MembershipChange(nodeID: id, previousStatus: previous, status: m.status, incarnation: inc)))
    }

    // MARK: Push-pull anti-entropy (digest exchange; docs/gossip.md "Anti-entropy")

    /// A push-pull request: this node's own full state with its coordinate, and a digest
    /// (ID, incarnation, status, whether it holds a certificate and a coordinate) of every
    /// other member it knows, tombstones included. ~20 bytes per member instead of ~430.
    func makePushPullRequest(join: Bool, pullBack: Bool = false) -> GossipPacketMessage {
        var digests: [MemberDigestMessage] = []
        digests.reserveCapacity(members.count)
        for m in members.values {
            digests.append(MemberDigestMessage(nodeID: m.nodeID, incarnation: m.incarnation, status: m.announcedStatus,
                                               hasCertificate: m.state.certificate != nil,
                                               hasCoordinate: coordinates[m.nodeID] != nil))
        }
        return GossipPacketMessage(kind: .pushPullRequest, senderNodeID: localNodeID, states: [localStateWithCoordinate],
                                   join: join, digests: digests, pullBack: pullBack)
    }

    /// Which side of a push-pull holds the newer entry for one member.
    enum DigestComparison { case same, oursNewer, theirsNewer }

    /// Orders two views of one member: by incarnation, then by status (alive < suspect <
    /// dead = left, as SWIM §4.2 overrides), then by who holds the certificate.
    static func compare(incarnation a: UInt64, status sa: NodeStatusMessage, certificate ca: Bool,
                        with b: UInt64, _ sb: NodeStatusMessage, _ cb: Bool) -> DigestComparison {
        func rank(_ s: NodeStatusMessage) -> Int {
            switch s {
            case .unspecified, .alive, .draining: 0
            case .suspect: 1
            case .dead, .left: 2
            }
        }
        if a != b { return a > b ? .oursNewer : .theirsNewer }
        if rank(sa) != rank(sb) { return rank(sa) > rank(sb) ? .oursNewer : .theirsNewer }
        if ca != cb { return ca ? .oursNewer : .theirsNewer }
        return .same
    }

    /// The response to `request`: our own full state, the full entries the requester's
    /// digest shows as missing or older, and the cached coordinates it lacks. Also says
    /// whether the requester holds anything newer than we do (then we pull it back).
    func makePushPullResponse(to request: GossipPacketMessage) -> (response: GossipPacketMessage, requesterIsNewer: Bool) {
        var theirs: [String: MemberDigestMessage] = [:]
        theirs.reserveCapacity(request.digests.count)
        for digest in request.digests { theirs[digest.nodeID] = digest }
        // The requester's own entry is its full state, which it knows best.
        if let own = request.states.first, own.nodeID == request.senderNodeID {
            theirs[own.nodeID] = MemberDigestMessage(nodeID: own.nodeID, incarnation: own.incarnation, status: own.status,
                                                     hasCertificate: own.certificate != nil, hasCoordinate: own.coordinate != nil)
        }
        var states = [localStateWithCoordinate]
        var sentCoordinates: [MemberCoordinateMessage] = []
        var requesterIsNewer = false
        for m in members.values {
            let digest = theirs.removeValue(forKey: m.nodeID)
            // What the requester holds newer about itself arrives in its own state, merged from the request.
            let isRequester = m.nodeID == request.senderNodeID
            let comparison: DigestComparison
            if let digest {
                comparison = Self.compare(incarnation: m.incarnation, status: m.announcedStatus, certificate: m.state.certificate != nil,
                                          with: digest.incarnation, digest.status, digest.hasCertificate)
            } else {
                // Unknown to the requester; a departure it never saw is not worth teaching.
                comparison = m.status == .left ? .same : .oursNewer
            }
            let coordinate = coordinates[m.nodeID]
            switch comparison {
            case .oursNewer:
                var s = m.announcedState
                s.coordinate = coordinate
                states.append(s)
                continue
            case .theirsNewer:
                if !isRequester { requesterIsNewer = true }
            case .same:
                break
            }
            if let digest, let coordinate, !digest.hasCoordinate, m.status != .dead, m.status != .left {
                sentCoordinates.append(MemberCoordinateMessage(nodeID: m.nodeID, coordinate: coordinate))
            }
            if !isRequester, let digest, digest.hasCoordinate, coordinate == nil, m.status == .alive || m.status == .suspect {
                requesterIsNewer = true
            }
        }
        // Members the requester knows and we do not.
        for digest in theirs.values where digest.nodeID != localNodeID && digest.status != .left { requesterIsNewer = true; break }
        let response = GossipPacketMessage(kind: .pushPullResponse, senderNodeID: localNodeID, states: states,
                                           coordinates: sentCoordinates)
        return (response, requesterIsNewer)
    }

    /// Handles a push-pull request that arrived over TCP; the shell writes the returned response back.
    /// When the requester's digest shows entries newer than ours, the directives include a
    /// pull-back request to it (never in answer to a pull-back, so exchanges cannot ping-pong).
    public mutating func receivePushPullRequest(_ packet: GossipPacketMessage, now: GossipInstant) -> (response: GossipPacketMessage, directives: [GossipDirective]) {
        guard packet.kind == .pushPullRequest, packet.senderNodeID != localNodeID else {
            counters.unexpectedPackets += 1
            return (GossipPacketMessage(kind: .pushPullResponse, senderNodeID: localNodeID, states: [localStateWithCoordinate]), [])
        }
        // Answer with our state as it was before merging, as memberlist does.
        let (response, requesterIsNewer) = makePushPullResponse(to: packet)
        var d: [GossipDirective] = []
        merge(packet, now: now, into: &d)
        // The requester's view of us: a restarted node lifts its incarnation above it (SWIM §4.2).
        if let mine = packet.digests.first(where: { $0.nodeID == localNodeID }), !isLeaving,
           mine.incarnation > incarnation || (mine.incarnation == incarnation && ![.alive, .draining, .unspecified].contains(mine.status)) {
            refute(incarnation: mine.incarnation)
        }
        if requesterIsNewer, !packet.pullBack, !isLeaving, let requester = packet.states.first, requester.nodeID == packet.senderNodeID {
            counters.pullBacks += 1
            d.append(.pushPull(makePushPullRequest(join: false, pullBack: true),
                               to: GossipEndpoint(host: requester.address, port: UInt16(clamping: requester.port))))
        }
        return (response, d)
    }

    /// Handles the response to a push-pull this node started.
    public mutating func receivePushPullResponse(_ packet: GossipPacketMessage, now: GossipInstant) -> [GossipDirective] {
        guard packet.kind == .pushPullResponse, packet.senderNodeID != localNodeID else {
            counters.unexpectedPackets += 1
            return []
        }
        var d: [GossipDirective] = []
        merge(packet, now: now, into: &d)
        return d
    }

    /// A push-pull could not complete (connection refused, timeout, bad frame).
    public mutating func pushPullFailed(to endpoint: GossipEndpoint, now: GossipInstant) {
        counters.pushPullsFailed += 1
    }

    /// Merges remote full states by incarnation, then fills coordinate gaps. A remote "dead"
    /// becomes a local suspicion, so a member wrongly declared dead elsewhere can still refute.
    mutating func merge(_ packet: GossipPacketMessage, now: GossipInstant, into d: inout [GossipDirective]) {
        for state in packet.states {
            // The sender's own coordinate is fresh; others' only fill gaps in our cache.
            if let c = state.coordinate, state.nodeID != localNodeID, state.status != .dead, state.status != .left,
               state.nodeID == packet.senderNodeID || coordinates[state.nodeID] == nil {
                cacheCoordinate(c, of: state.nodeID)
            }
            switch state.status {
            case .alive, .draining, .unspecified:
                applyAlive(state: state, incarnation: state.incarnation, now: now, into: &d)
            case .suspect, .dead:
                if members[state.nodeID] == nil, state.nodeID != localNodeID {
                    // Learn the member first so the suspicion has something to attach to.
                    var alive = state
                    alive.status = .alive
                    applyAlive(state: alive, incarnation: state.incarnation, now: now, into: &d)
                }
                applySuspect(nodeID: state.nodeID, incarnation: state.incarnation, from: packet.senderNodeID, now: now, into: &d)
            case .left:
                if members[state.nodeID] == nil { continue }
                applyDead(nodeID: state.nodeID, incarnation: state.incarnation, from: state.nodeID, left: true, now: now, into: &d)
            }
        }
        for entry in packet.coordinates where entry.nodeID != localNodeID && coordinates[entry.nodeID] == nil {
            guard let m = members[entry.nodeID], m.status == .alive || m.status == .suspect else { continue }
            cacheCoordinate(entry.coordinate, of: entry.nodeID)
        }
    }
}
