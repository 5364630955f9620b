import Testing
import ControlPlaneWire
@testable import Gossip

/// State-machine tests: manual clock, no network.
@Suite struct SWIMInstanceTests {
    /// Runs ticks until a ping is sent; returns it and the time.
    func firstPing(_ i: inout SWIMInstance) -> (GossipPacketMessage, GossipEndpoint, GossipInstant) {
        var t = GossipInstant.zero
        for _ in 0..<100 {
            t = max(t, i.nextWakeup)
            if let ping = i.tick(now: t).sends.first(where: { $0.0.kind == .ping }) { return (ping.0, ping.1, t) }
        }
        Issue.record("no ping sent")
        return (GossipPacketMessage(kind: .ping, senderNodeID: "?"), GossipEndpoint(host: "", port: 0), t)
    }

    @Test func acknowledgedProbeKeepsMemberAliveAndHealth() throws {
        var i = try Fixtures.instance(others: ["b", "c", "d"])
        let (ping, _, t) = firstPing(&i)
        #expect(ping.targetNodeID != "a")
        #expect(ping.coordinate == nil) // only acks carry coordinates (Serf)
        let ack = GossipPacketMessage(kind: .ack, senderNodeID: ping.targetNodeID, probeSequence: ping.probeSequence,
                                      coordinate: VivaldiClient().coordinate)
        _ = i.receive(ack, from: GossipEndpoint(host: "x", port: 1), now: t + .milliseconds(20))
        // At the direct timeout and at the end of the period: no indirect probe, no suspicion.
        var d = i.tick(now: t + .milliseconds(200))
        d += i.tick(now: t + .milliseconds(500))
        #expect(!d.sends.contains { $0.0.kind == .pingRequest })
        #expect(d.changes.isEmpty)
        #expect(i.members.values.allSatisfy { $0.status == .alive })
        #expect(i.localHealth == 0)
        #expect(i.coordinates[ping.targetNodeID] != nil)
    }

    @Test func unansweredProbeGoesIndirectThenSuspectsAndRaisesLocalHealth() throws {
        var i = try Fixtures.instance(others: ["b", "c", "d", "e"])
        let (ping, _, t) = firstPing(&i)
        let target = ping.targetNodeID
        // Direct timeout (200 ms) → ping-requests to k = 3 other members.
        let atTimeout = i.tick(now: t + .milliseconds(200)).sends
        let indirect = atTimeout.filter { $0.0.kind == .pingRequest }
        #expect(indirect.count == 3)
        // Plus one more direct ping on the same sequence number.
        #expect(atTimeout.filter { $0.0.kind == .ping && $0.0.targetNodeID == target && $0.0.probeSequence == ping.probeSequence }.count == 1)
        #expect(indirect.allSatisfy { $0.0.targetNodeID == target && $0.0.probeSequence == ping.probeSequence })
        // One nack arrives; the other two relays stay silent.
        _ = i.receive(GossipPacketMessage(kind: .nack, senderNodeID: indirect[0].0.targetNodeID == "b" ? "c" : "b", probeSequence: ping.probeSequence),
                      from: GossipEndpoint(host: "x", port: 1), now: t + .milliseconds(300))
        let end = i.tick(now: t + .milliseconds(500))
        #expect(end.changes.contains { $0.nodeID == target && $0.status == .suspect })
        #expect(i.members[target]?.status == .suspect)
        // Lifeguard §IV.A: 3 expected nacks, 1 received → LHM += 2.
        #expect(i.localHealth == 2)
        // The next protocol period is scaled by (LHM + 1).
        #expect(i.nextProbeAt == t + .milliseconds(500) + .milliseconds(1500))
    }

    @Test func suspicionTimeoutFollowsLifeguardFormulaAndShrinksWithConfirmations() throws {
        let others = (1...99).map { "n\($0)" }
        var i = try Fixtures.instance(others: others)
        // N = 100: min = α·log10(100)·interval = 2·2·0.5 s = 2 s; max = 6·min = 12 s; K = 3.
        let (lo, hi) = i.suspicionBounds()
        #expect(lo == .seconds(2))
        #expect(hi == .seconds(12))
        #expect(i.suspicionTimeout(confirmations: 0) == .seconds(12))
        #expect(i.suspicionTimeout(confirmations: 3) == .seconds(2))
        let one = i.suspicionTimeout(confirmations: 1).gossipMilliseconds
        #expect(abs(one - 7_000) < 1) // 12 s − 10 s·log(2)/log(4)
        var d: [GossipDirective] = []
        i.applySuspect(nodeID: "n1", incarnation: 0, from: "n2", now: .zero, into: &d)
        #expect(i.suspicions["n1"]?.deadline == .zero + .seconds(12))
        for from in ["n3", "n4", "n5"] { i.applySuspect(nodeID: "n1", incarnation: 0, from: from, now: .ms(100), into: &d) }
        #expect(i.suspicions["n1"]?.deadline == .zero + .seconds(2))
        // The same confirmer twice counts once.
        i.applySuspect(nodeID: "n1", incarnation: 0, from: "n3", now: .ms(200), into: &d)
        #expect(i.suspicions["n1"]?.confirmations == 3)
        let expired = i.tick(now: .zero + .seconds(2))
        #expect(expired.changes.contains { $0.nodeID == "n1" && $0.status == .dead })
    }

    @Test func suspicionOfSelfIsRefutedWithHigherIncarnation() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        let packet = GossipPacketMessage(kind: .gossip, senderNodeID: "b",
                                         updates: [MemberUpdateMessage(kind: .suspect, nodeID: "a", incarnation: 4, fromNodeID: "b")])
        _ = i.receive(packet, from: GossipEndpoint(host: "b", port: 1), now: .ms(10))
        #expect(i.incarnation == 5)
        #expect(i.counters.refutations == 1)
        #expect(i.localHealth == 1)
        // The refutation goes out on the next packet.
        let out = i.tick(now: max(i.nextWakeup, .ms(10))).sends
        #expect(out.contains { $0.0.updates.contains { $0.kind == .alive && $0.nodeID == "a" && $0.incarnation == 5 } })
        // A dead claim is refuted too.
        var d: [GossipDirective] = []
        i.applyDead(nodeID: "a", incarnation: 5, from: "c", left: false, now: .ms(20), into: &d)
        #expect(i.incarnation == 6)
    }

    @Test func aliveWithHigherIncarnationClearsSuspicion() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        var d: [GossipDirective] = []
        i.applySuspect(nodeID: "b", incarnation: 0, from: "c", now: .zero, into: &d)
        #expect(i.members["b"]?.status == .suspect)
        var s = Fixtures.state("b")
        i.applyAlive(state: s, incarnation: 0, now: .ms(1), into: &d) // same incarnation: ignored
        #expect(i.members["b"]?.status == .suspect)
        s.load = 7
        i.applyAlive(state: s, incarnation: 1, now: .ms(2), into: &d)
        #expect(i.members["b"]?.status == .alive)
        #expect(i.members["b"]?.state.load == 7)
        #expect(i.suspicions["b"] == nil)
        // A brief alive (a refutation, no certificate) keeps the certificate already held.
        var certified = Fixtures.state("b")
        certified.certificate = NodeCertificateMessage(body: [1, 2, 3], signature: [4])
        i.applyAlive(state: certified, incarnation: 2, now: .ms(2), into: &d)
        i.applyAlive(state: Fixtures.state("b"), incarnation: 3, now: .ms(2), into: &d)
        #expect(i.members["b"]?.state.certificate == certified.certificate && i.members["b"]?.incarnation == 3)
        // Older suspicion is ignored.
        i.applySuspect(nodeID: "b", incarnation: 0, from: "c", now: .ms(3), into: &d)
        #expect(i.members["b"]?.status == .alive)
    }

    @Test func buddySystemTellsTheSuspectFirst() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        var d: [GossipDirective] = []
        i.applySuspect(nodeID: "b", incarnation: 0, from: "c", now: .zero, into: &d)
        let ping = i.makePacket(GossipPacketMessage(kind: .ping, senderNodeID: "a", targetNodeID: "b"), to: "b")
        #expect(ping.updates.first?.kind == .suspect)
        #expect(ping.updates.first?.nodeID == "b")
        #expect(i.counters.buddyNotifications == 1)
    }

    @Test func relayForwardsAckOrSendsNack() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        let requester = GossipEndpoint(host: "req", port: 9)
        let request = GossipPacketMessage(kind: .pingRequest, senderNodeID: "b", probeSequence: 77, targetNodeID: "c",
                                          targetAddress: "c-host", targetPort: 7946)
        let relayed = i.receive(request, from: requester, now: .ms(0)).sends
        #expect(relayed.count == 1)
        #expect(relayed[0].0.kind == .ping && relayed[0].1 == GossipEndpoint(host: "c-host", port: 7946))
        let ack = GossipPacketMessage(kind: .ack, senderNodeID: "c", probeSequence: relayed[0].0.probeSequence)
        let forwarded = i.receive(ack, from: GossipEndpoint(host: "c-host", port: 7946), now: .ms(5)).sends
        #expect(forwarded.count == 1 && forwarded[0].0.kind == .ack && forwarded[0].0.probeSequence == 77 && forwarded[0].1 == requester)
        // A second request that never gets an answer produces a nack at 80 % of the timeout.
        _ = i.receive(request, from: requester, now: .ms(10))
        let nack = i.tick(now: .ms(10 + 160)).sends.filter { $0.0.kind == .nack }
        #expect(nack.count == 1 && nack[0].0.probeSequence == 77)
    }

    @Test func pingForAnotherNodeIsNotAcked() throws {
        var i = try Fixtures.instance(others: ["b"])
        let d = i.receive(GossipPacketMessage(kind: .ping, senderNodeID: "b", probeSequence: 1, targetNodeID: "zz"),
                          from: GossipEndpoint(host: "b", port: 1), now: .zero)
        #expect(d.sends.isEmpty)
        #expect(i.counters.misdirectedPings == 1)
    }

    @Test func piggybackedUpdatesFitOneDatagramAndAreRetransmittedBoundedTimes() throws {
        var i = try Fixtures.instance(others: ["b"])
        var d: [GossipDirective] = []
        for n in 0..<60 { i.applyAlive(state: Fixtures.state("member-\(n)"), incarnation: 1, now: .zero, into: &d) }
        #expect(i.pendingBroadcasts == 60)
        var transmissions: [String: Int] = [:]
        var rounds = 0
        while i.pendingBroadcasts > 0, rounds < 10_000 {
            rounds += 1
            let p = i.makePacket(GossipPacketMessage(kind: .gossip, senderNodeID: "a"), to: "b")
            var sealed = p
            sealed.senderEpoch = .max; sealed.packetSequence = .max; sealed.sentAtUnixMilliseconds = .min
            #expect(try sealed.serialized().count + PacketEnvelope.overhead <= 1_400)
            #expect(!p.updates.isEmpty)
            for u in p.updates { transmissions[u.nodeID, default: 0] += 1 }
        }
        let limit = i.retransmitLimit
        #expect(limit == 4 * 2) // λ = 4, ceil(log10(63 + 1)) = 2
        #expect(transmissions.values.allSatisfy { $0 == limit })
    }

    @Test func updateTooLargeForADatagramIsRefusedLoudly() throws {
        var i = try Fixtures.instance(others: ["b"])
        #expect(throws: GossipError.self) {
            _ = try i.updateLocalState(now: .zero) { $0.softwareVersion = String(repeating: "v", count: 2_000) }
        }
        #expect(i.counters.updatesRefusedTooLarge == 1)
        #expect(i.incarnation == 0)
        #expect(i.localState.softwareVersion == "0.1.0")
        // A normal change is accepted and queued under a new incarnation.
        _ = try i.updateLocalState(now: .zero) { $0.status = .draining; $0.load = 3 }
        #expect(i.incarnation == 1 && i.localState.status == .draining && i.pendingBroadcasts == 1)
    }

    @Test func deadMembersAreReapedAfterTheTombstonePeriod() throws {
        var settings = GossipSettings()
        settings.antiEntropy.tombstoneDuration = .seconds(10)
        var i = try Fixtures.instance(others: ["b"], settings: settings)
        var d: [GossipDirective] = []
        i.applyDead(nodeID: "b", incarnation: 0, from: "c", left: false, now: .seconds(1), into: &d)
        var reaped: [MembershipChange] = []
        var t = GossipInstant.zero + .seconds(1)
        while t < GossipInstant.zero + .seconds(12) { t = i.nextWakeup; reaped += i.tick(now: t).changes.filter { $0.status == nil } }
        #expect(reaped.map(\.nodeID) == ["b"])
        #expect(i.members["b"] == nil)
        #expect(!i.makePushPullRequest(join: false).digests.contains { $0.nodeID == "b" })
    }

    @Test func leaveDisseminatesLeftAndStopsProbing() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        let d = i.leave(now: .ms(5))
        #expect(d.sends.contains { $0.0.updates.contains { $0.kind == .left && $0.nodeID == "a" } })
        var later: [GossipDirective] = []
        var t = GossipInstant.ms(5)
        for _ in 0..<20 { t = max(t, i.nextWakeup); later += i.tick(now: t) }
        #expect(!later.sends.contains { $0.0.kind == .ping })
        // Receivers mark it left, not dead.
        var j = try Fixtures.instance("b", others: ["a", "c"])
        _ = j.receive(d.sends[0].0, from: GossipEndpoint(host: "a", port: 1), now: .ms(6))
        #expect(j.members["a"]?.status == .left)
    }

    @Test func pushPullResponseMergesByIncarnationAndTurnsRemoteDeadIntoSuspicion() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        var c = Fixtures.state("c"); c.status = .dead; c.incarnation = 0
        var e = Fixtures.state("e"); e.incarnation = 3
        var b = Fixtures.state("b"); b.incarnation = 2; b.load = 9
        let response = GossipPacketMessage(kind: .pushPullResponse, senderNodeID: "b", states: [b, c, e])
        _ = i.receivePushPullResponse(response, now: .ms(1))
        #expect(i.members["c"]?.status == .suspect)
        #expect(i.members["e"]?.status == .alive && i.members["e"]?.incarnation == 3)
        #expect(i.members["b"]?.state.load == 9)
    }

    @Test func pushPullRequestCarriesOwnStateAndADigestOfEveryoneElse() throws {
        var i = try Fixtures.instance(others: ["b", "c", "d"])
        var d: [GossipDirective] = []
        i.applySuspect(nodeID: "c", incarnation: 0, from: "d", now: .ms(1), into: &d)
        i.applyDead(nodeID: "d", incarnation: 0, from: "b", left: true, now: .ms(1), into: &d)
        let request = i.makePushPullRequest(join: false)
        #expect(request.states.map(\.nodeID) == ["a"])
        #expect(request.states[0].coordinate != nil)
        let digests = Dictionary(uniqueKeysWithValues: request.digests.map { ($0.nodeID, $0) })
        #expect(Set(digests.keys) == ["b", "c", "d"])
        #expect(digests["b"]?.status == .alive && digests["c"]?.status == .suspect && digests["d"]?.status == .left)
        #expect(digests.values.allSatisfy { !$0.hasCertificate && !$0.hasCoordinate })
    }

    @Test func pushPullResponseCarriesOnlyWhatTheRequesterLacks() throws {
        var i = try Fixtures.instance(others: ["b", "c", "d", "f"])
        var d: [GossipDirective] = []
        i.applySuspect(nodeID: "d", incarnation: 0, from: "c", now: .ms(1), into: &d)
        let certificate = NodeCertificateMessage(body: [1, 2, 3], signature: [4])
        var f = Fixtures.state("f"); f.certificate = certificate
        _ = i.receivePushPullResponse(GossipPacketMessage(kind: .pushPullResponse, senderNodeID: "f", states: [f]), now: .ms(1))
        #expect(i.members["f"]?.state.certificate == certificate, "a certificate is learned at the same incarnation")
        let request = GossipPacketMessage(
            kind: .pushPullRequest, senderNodeID: "b", states: [Fixtures.state("b")],
            digests: [
                MemberDigestMessage(nodeID: "c", incarnation: 0, status: .alive, hasCertificate: false, hasCoordinate: false),
                MemberDigestMessage(nodeID: "d", incarnation: 0, status: .alive, hasCertificate: false, hasCoordinate: false),
                MemberDigestMessage(nodeID: "f", incarnation: 0, status: .alive, hasCertificate: false, hasCoordinate: false),
                MemberDigestMessage(nodeID: "a", incarnation: 0, status: .alive, hasCertificate: false, hasCoordinate: true),
            ])
        let (response, directives) = i.receivePushPullRequest(request, now: .ms(2))
        // Our own state always; d because we suspect it; f because the requester lacks its certificate.
        #expect(response.states.map(\.nodeID).sorted() == ["a", "d", "f"])
        #expect(response.states.first { $0.nodeID == "d" }?.status == .suspect)
        #expect(response.states.first { $0.nodeID == "f" }?.certificate == certificate)
        // The requester holds nothing newer: no pull-back.
        #expect(directives.pushPulls.isEmpty)
    }

    @Test func newerEntriesInTheDigestArePulledBackOnce() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        let newer = [MemberDigestMessage(nodeID: "c", incarnation: 4, status: .alive, hasCertificate: false, hasCoordinate: false),
                     MemberDigestMessage(nodeID: "g", incarnation: 0, status: .alive, hasCertificate: false, hasCoordinate: false)]
        let request = GossipPacketMessage(kind: .pushPullRequest, senderNodeID: "b", states: [Fixtures.state("b")], digests: newer)
        let (response, directives) = i.receivePushPullRequest(request, now: .ms(1))
        #expect(response.states.map(\.nodeID) == ["a"])
        let pulls = directives.pushPulls
        #expect(pulls.count == 1 && pulls[0].1 == Fixtures.endpoint(Fixtures.state("b")) && pulls[0].0.pullBack)
        // A pull-back is answered, never pulled back again: exchanges cannot ping-pong.
        var back = request
        back.pullBack = true
        #expect(i.receivePushPullRequest(back, now: .ms(2)).directives.pushPulls.isEmpty)
    }

    @Test func aRestartedNodeLiftsItsIncarnationAboveTheRequestersView() throws {
        var i = try Fixtures.instance(others: ["b"])
        let view = MemberDigestMessage(nodeID: "a", incarnation: 7, status: .suspect, hasCertificate: false, hasCoordinate: false)
        let request = GossipPacketMessage(kind: .pushPullRequest, senderNodeID: "b", states: [Fixtures.state("b")], digests: [view])
        _ = i.receivePushPullRequest(request, now: .ms(1))
        #expect(i.incarnation == 8)
        // As a requester it learns the same from the response's full entry about itself.
        var j = try Fixtures.instance(others: ["b"])
        var mine = Fixtures.state("a"); mine.incarnation = 5; mine.status = .dead
        _ = j.receivePushPullResponse(GossipPacketMessage(kind: .pushPullResponse, senderNodeID: "b", states: [Fixtures.state("b"), mine]), now: .ms(1))
        #expect(j.incarnation == 6)
    }

    @Test func theRecentlyDeadAreStillGossipedToSoTheyCanRefute() throws {
        var i = try Fixtures.instance(others: ["b", "c"])
        var d: [GossipDirective] = []
        i.applyDead(nodeID: "b", incarnation: 0, from: "c", left: false, now: .seconds(1), into: &d)
        let b = Fixtures.endpoint(Fixtures.state("b"))
        // Within gossipToTheDeadTime (30 s) the dead member is a gossip target; after it, not.
        var early: [GossipDirective] = []
        i.gossipRound(now: .seconds(2), into: &early)
        #expect(early.sends.contains { $0.1 == b && $0.0.updates.contains { $0.kind == .dead && $0.nodeID == "b" } })
        _ = try i.updateLocalState(now: .seconds(40)) { $0.load = 1 }
        var late: [GossipDirective] = []
        i.gossipRound(now: .seconds(40), into: &late)
        #expect(!late.sends.isEmpty && !late.sends.contains { $0.1 == b })
        // Hearing of its own death, the member refutes.
        var j = try Fixtures.instance("b", others: ["a", "c"])
        _ = j.receive(early.sends.first { $0.1 == b }!.0, from: Fixtures.endpoint(Fixtures.state("a")), now: .seconds(2))
        #expect(j.incarnation == 1)
    }

    @Test func seedsAreRetriedWhileNotAliveInTheView() throws {
        var settings = GossipSettings()
        settings.antiEntropy.seedRetryInterval = .seconds(5)
        let seed = GossipEndpoint(host: "seed", port: 7946)
        var i = try SWIMInstance(localState: Fixtures.state("a"), seeds: [seed], settings: settings, randomSeed: 3, now: .zero)
        #expect(i.start(now: .zero).pushPulls.map(\.1) == [seed])
        // No answer for a long time (a partition): the seed is contacted again, and again.
        var contacted = 0
        var t = GossipInstant.zero
        while t < GossipInstant.zero + .seconds(60) { t = i.nextWakeup; contacted += i.tick(now: t).pushPulls.filter { $0.1 == seed && $0.0.join }.count }
        #expect(contacted >= 10)
    }

    @Test func invalidSettingsAreRejectedWithTheFieldName() {
        var settings = GossipSettings()
        settings.probing.timeout = .seconds(5)
        #expect(throws: GossipError.invalidSettings(GossipSettingsError(field: "probing.timeout", reason: "must be positive and shorter than probing.interval"))) {
            _ = try SWIMInstance(localState: Fixtures.state("a"), settings: settings, randomSeed: 1, now: .zero)
        }
    }

    @Test func vivaldiConvergesTowardsMeasuredRTT() {
        var a = VivaldiClient(randomSeed: 1), b = VivaldiClient(randomSeed: 2)
        for _ in 0..<200 {
            a.update(node: "b", other: b.coordinate, rttMilliseconds: 40)
            b.update(node: "a", other: a.coordinate, rttMilliseconds: 40)
        }
        let estimate = a.coordinate.distance(to: b.coordinate) ?? 0
        #expect(abs(estimate - 40) < 4, "estimated \(estimate) ms")
        #expect(a.coordinate.error < 0.5)
        let accepted = a.update(node: "b", other: b.coordinate, rttMilliseconds: 50_000)
        #expect(!accepted)
    }
}
