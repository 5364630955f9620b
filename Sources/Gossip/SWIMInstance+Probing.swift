import ControlPlaneWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SWIMInstance {
    /// Runs every timer that is due at `now`.
    public mutating func tick(now: GossipInstant) -> [GossipDirective] {
        var d: [GossipDirective] = []
        d.reserveCapacity(8)
        if !isLeaving {
            if let p = probe, !p.acked, !p.indirectSent, now >= p.directDeadline { sendIndirectProbes(now: now, into: &d) }
            if now >= nextProbeAt { runProbe(now: now, into: &d) }
        }
        if !relays.isEmpty { serviceRelays(now: now, into: &d) }
        if !suspicions.isEmpty {
            for (id, s) in suspicions where s.deadline <= now { suspicionExpired(id, now: now, into: &d) }
        }
        if now >= nextGossipAt {
            if !broadcasts.isEmpty { gossipRound(now: now, into: &d) }
            nextGossipAt = now + settings.dissemination.gossipInterval
        }
        if now >= nextPushPullAt {
            if !isLeaving, let peer = randomMembers(count: 1, excluding: []).first {
                counters.pushPullsStarted += 1
                d.append(.pushPull(makePushPullRequest(join: false), to: peer.endpoint))
            }
            nextPushPullAt = now + pushPullInterval.scaled(0.75 + 0.5 * random.unit())
        }
        if now >= nextSeedRetryAt {
            if !isLeaving { retrySeeds(into: &d) }
            nextSeedRetryAt = now + settings.antiEntropy.seedRetryInterval
        }
        if now >= nextReapAt {
            reap(now: now, into: &d)
            nextReapAt = now + .seconds(1)
        }
        return d
    }

    /// Push-pull interval scaled up for large clusters as memberlist's pushPullScale does:
    /// ×(ceil(log2 N − log2 32) + 1) above 32 members, so TCP load stays flat per member.
    var pushPullInterval: Duration {
        let n = clusterSize
        guard n > 32 else { return settings.antiEntropy.pushPullInterval }
        let multiplier = Int((log2(Double(n)) - log2(32.0)).rounded(.up)) + 1
        return settings.antiEntropy.pushPullInterval * multiplier
    }

    // MARK: Probing (SWIM §3.1, §4.3; Lifeguard §IV.A)

    mutating func runProbe(now: GossipInstant, into d: inout [GossipDirective]) {
        if let finished = probe { finishProbe(finished, now: now, into: &d) }
        probe = nil
        let period = scaled(settings.probing.interval)
        nextProbeAt = now + period
        guard let target = nextProbeTarget(), let member = members[target] else { return }
        let seq = nextSequence()
        probe = ProbeInFlight(target: target, sequence: seq, sentAt: now,
                              directDeadline: now + scaled(settings.probing.timeout), periodEnd: now + period)
        counters.probesSent += 1
        // Only the ack carries a coordinate (Serf): the prober is the one measuring the RTT.
        let ping = GossipPacketMessage(kind: .ping, senderNodeID: localNodeID, probeSequence: seq, targetNodeID: target)
        d.append(.send(makePacket(ping, to: target), to: member.endpoint))
    }

    /// Randomized round-robin: every member is probed once per pass, in a fresh
    /// random order each pass (SWIM §4.3). Dead and left members are skipped.
    mutating func nextProbeTarget() -> String? {
        var scanned = 0
        while scanned <= probeOrder.count {
            if probeIndex >= probeOrder.count {
                probeOrder.removeAll { members[$0] == nil }
                probeOrder.shuffle(using: &random)
                probeIndex = 0
                if probeOrder.isEmpty { return nil }
            }
            let candidate = probeOrder[probeIndex]
            probeIndex += 1
            scanned += 1
            if let m = members[candidate], m.status == .alive || m.status == .suspect { return candidate }
        }
        return nil
    }

    /// New members go to a random position in the probe order (SWIM §4.3).
    mutating func addToProbeOrder(_ id: String) {
        let position = Int(random.next() % UInt64(probeOrder.count + 1))
        probeOrder.insert(id, at: position)
        if position < probeIndex { probeIndex += 1 }
    }

    mutating func sendIndirectProbes(now: GossipInstant, into d: inout [GossipDirective]) {
        guard var p = probe, let target = members[p.target] else { return }
        p.indirectSent = true
        let helpers = randomMembers(count: settings.probing.indirectProbeCount, excluding: [p.target])
        p.expectedNacks = helpers.count
        probe = p
        // A second direct ping on the same sequence number: one more independent path, so a
        // single lost datagram rarely ends in a suspicion (memberlist uses a TCP ping here).
        let retry = GossipPacketMessage(kind: .ping, senderNodeID: localNodeID, probeSequence: p.sequence, targetNodeID: p.target)
        d.append(.send(makePacket(retry, to: p.target), to: target.endpoint))
        for helper in helpers {
            counters.indirectProbesSent += 1
            let request = GossipPacketMessage(kind: .pingRequest, senderNodeID: localNodeID, probeSequence: p.sequence,
                                              targetNodeID: p.target, targetAddress: target.state.address,
                                              targetPort: target.state.port)
            d.append(.send(makePacket(request, to: helper.nodeID), to: helper.endpoint))
        }
    }

    /// End of a protocol period: adjust local health and suspect an unanswered target.
    mutating func finishProbe(_ p: ProbeInFlight, now: GossipInstant, into d: inout [GossipDirective]) {
        guard !p.acked else { return }
        counters.probesFailed += 1
        // Lifeguard §IV.A: missing nacks mean *we* may be the slow one; without helpers,
        // any failed probe counts once.
        let delta = p.expectedNacks > 0 ? max(0, p.expectedNacks - p.nacks) : 1
        adjustLocalHealth(by: delta)
        if let m = members[p.target], m.status == .alive || m.status == .suspect {
            applySuspect(nodeID: p.target, incarnation: m.incarnation, from: localNodeID, now: now, into: &d)
        }
    }

    mutating func adjustLocalHealth(by delta: Int) {
        localHealth = min(max(localHealth + delta, 0), settings.probing.maximumLocalHealth - 1)
    }

    mutating func serviceRelays(now: GossipInstant, into d: inout [GossipDirective]) {
        for (seq, r) in relays {
            if r.expiresAt <= now {
                relays[seq] = nil
            } else if !r.nackSent, r.nackAt <= now {
                relays[seq]!.nackSent = true
                let nack = GossipPacketMessage(kind: .nack, senderNodeID: localNodeID, probeSequence: r.originalSequence)
                d.append(.send(makePacket(nack, to: nil), to: r.requester))
            }
        }
    }

    // MARK: Dissemination

    /// Sends pending updates to `fanout` random members: alive, suspect, or declared dead less
    /// than `gossipToTheDeadTime` ago, so a member wrongly declared dead hears it and refutes
    /// (memberlist's GossipToTheDeadTime).
    mutating func gossipRound(now: GossipInstant, into d: inout [GossipDirective]) {
        let cutoff = now - settings.dissemination.gossipToTheDeadTime
        let targets = randomMembers(count: settings.dissemination.fanout, excluding: [], statuses: [.alive, .suspect, .dead]) {
            $0.status != .dead || $0.statusChangedAt > cutoff
        }
        for t in targets {
            guard !broadcasts.isEmpty else { break }
            let packet = makePacket(GossipPacketMessage(kind: .gossip, senderNodeID: localNodeID), to: t.nodeID)
            guard !packet.updates.isEmpty else { continue }
            counters.gossipPacketsSent += 1
            d.append(.send(packet, to: t.endpoint))
        }
    }

    // MARK: Suspicion (Lifeguard §IV.B)

    /// min = α·max(1, log10 N)·interval, max = β·min.
    func suspicionBounds() -> (minimum: Duration, maximum: Duration) {
        let nodeScale = max(1.0, log10(Double(max(1, clusterSize))))
        let minimum = settings.probing.interval.scaled(settings.suspicion.minimumMultiplier * nodeScale)
        return (minimum, minimum.scaled(settings.suspicion.maximumMultiplier))
    }

    /// Lifeguard §IV.B: max(min, max − (max − min)·log(C+1)/log(K+1)).
    func suspicionTimeout(confirmations c: Int) -> Duration {
        let (lo, hi) = suspicionBounds()
        let k = min(settings.suspicion.expectedConfirmations, max(0, clusterSize - 2))
        guard k >= 1 else { return lo }
        let fraction = log(Double(c + 1)) / log(Double(k + 1))
        let ns = Double(hi.gossipNanoseconds) - Double(hi.gossipNanoseconds - lo.gossipNanoseconds) * fraction
        return .nanoseconds(max(lo.gossipNanoseconds, Int64(ns)))
    }

    mutating func suspicionExpired(_ id: String, now: GossipInstant, into d: inout [GossipDirective]) {
        suspicions[id] = nil
        guard let m = members[id], m.status == .suspect else { return }
        applyDead(nodeID: id, incarnation: m.incarnation, from: localNodeID, left: false, now: now, into: &d)
    }

    /// Seeds that are not alive in our view get a join push-pull (memberlist#243).
    mutating func retrySeeds(into d: inout [GossipDirective]) {
        guard !seeds.isEmpty else { return }
        // One pass comparing against the few seeds (no set of N endpoints: this runs on every node).
        var missing = seeds
        for m in members.values where m.status == .alive || m.status == .suspect {
            let port = UInt16(clamping: m.state.port)
            if let k = missing.firstIndex(where: { $0.port == port && $0.host == m.state.address }) {
                missing.remove(at: k)
                if missing.isEmpty { return }
            }
        }
        for seed in missing {
            counters.joinAttempts += 1
            d.append(.pushPull(makePushPullRequest(join: true), to: seed))
        }
    }

    /// Forgets dead and left members after the tombstone period (memberlist#253).
    mutating func reap(now: GossipInstant, into d: inout [GossipDirective]) {
        // Every member that is not alive or suspect is a tombstone; usually there are none.
        guard members.count > liveMembers else { return }
        let cutoff = now - settings.antiEntropy.tombstoneDuration
        var reaped: [String] = []
        for m in members.values where (m.status == .dead || m.status == .left) && m.statusChangedAt <= cutoff {
            reaped.append(m.nodeID)
        }
        for id in reaped {
            let m = members.removeValue(forKey: id)!
            coordinates[id] = nil
            suspicions[id] = nil
            broadcasts.remove(nodeID: id)
            vivaldi.forget(node: id)
            counters.membersReaped += 1
            d.append(.membershipChanged(MembershipChange(nodeID: id, previousStatus: m.status, status: nil, incarnation: m.incarnation)))
        }
    }
}
