import Testing
import ControlPlaneWire
import SodiumWrapper
@testable import Gossip

/// The decoder fed random, truncated, replayed and wrongly keyed packets: never a crash,
/// always dropped and counted.
@Suite struct PacketSecurityTests {
    static func key(_ byte: UInt8) -> XChaCha20Poly1305.Key {
        var b = [UInt8](repeating: byte, count: 32)
        return try! XChaCha20Poly1305.Key(consuming: &b)
    }

    let now: Int64 = 1_790_000_000_000
    var packet: GossipPacketMessage {
        GossipPacketMessage(kind: .ping, senderNodeID: "b", probeSequence: 9, targetNodeID: "a",
                            updates: [MemberUpdateMessage(kind: .suspect, nodeID: "c", incarnation: 2, fromNodeID: "b")])
    }

    func pair(_ k: UInt8 = 1) -> (sender: PacketSecurity, receiver: PacketSecurity) {
        (PacketSecurity(keyring: Keyring(primary: .init(id: "k", key: Self.key(k))), localNodeID: "b", epoch: 100),
         PacketSecurity(keyring: Keyring(primary: .init(id: "k", key: Self.key(k))), localNodeID: "a", epoch: 200))
    }

    @Test func roundTripStampsReplayFields() throws {
        var (s, r) = pair()
        let bytes = try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)
        #expect(bytes.count == (try packet.serialized().count) + PacketEnvelope.overhead + 2 + 2 + 7) // epoch, seq, time fields
        let opened = try r.open(bytes, nowUnixMilliseconds: now + 5)
        #expect(opened.probeSequence == 9 && opened.senderEpoch == 100 && opened.packetSequence == 1 && opened.sentAtUnixMilliseconds == now)
        #expect(opened.updates == packet.updates)
        #expect(r.counters.opened == 1 && r.counters.dropped == 0)
    }

    @Test func replayedPacketsAreDroppedAndCounted() throws {
        var (s, r) = pair()
        let first = try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)
        let second = try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)
        _ = try r.open(second, nowUnixMilliseconds: now)
        _ = try r.open(first, nowUnixMilliseconds: now) // reordered, not replayed: accepted
        #expect(throws: PacketError.replayed(sender: "b", sequence: 1)) { try r.open(first, nowUnixMilliseconds: now) }
        #expect(throws: PacketError.self) { try r.open(second, nowUnixMilliseconds: now) }
        #expect(r.counters.droppedReplay == 2)
        // Far older than the window.
        var many: [[UInt8]] = []
        for _ in 0..<(PacketSecurity.replayWindow + 10) { many.append(try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)) }
        _ = try r.open(many.last!, nowUnixMilliseconds: now)
        #expect(throws: PacketError.self) { try r.open(many[0], nowUnixMilliseconds: now) }
        // A restarted sender (new, larger epoch) is accepted; its old epoch is then refused.
        var restarted = PacketSecurity(keyring: s.keyring, localNodeID: "b", epoch: 101)
        _ = try r.open(try restarted.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400), nowUnixMilliseconds: now)
        #expect(throws: PacketError.self) { try r.open(try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400), nowUnixMilliseconds: now) }
    }

    @Test func stalePacketsAreDropped() throws {
        var (s, r) = pair()
        let old = try s.seal(packet, nowUnixMilliseconds: now - 120_000, maximumSize: 1_400)
        #expect(throws: PacketError.stale(sentAtUnixMilliseconds: now - 120_000)) { try r.open(old, nowUnixMilliseconds: now) }
        #expect(r.counters.droppedStale == 1)
    }

    @Test func wronglyKeyedAndTamperedPacketsAreDropped() throws {
        var (s, _) = pair(1)
        var (_, r) = pair(2)
        let bytes = try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)
        #expect(throws: PacketError.authenticationFailed) { try r.open(bytes, nowUnixMilliseconds: now) }
        var (_, same) = pair(1)
        var tampered = bytes
        tampered[tampered.count / 2] ^= 0x01
        #expect(throws: PacketError.authenticationFailed) { try same.open(tampered, nowUnixMilliseconds: now) }
        var wrongVersion = bytes
        wrongVersion[0] = 2
        #expect(throws: PacketError.authenticationFailed) { try same.open(wrongVersion, nowUnixMilliseconds: now) }
        #expect(r.counters.droppedAuthentication == 1 && same.counters.droppedAuthentication == 2)
    }

    @Test func randomAndTruncatedInputNeverCrashes() throws {
        var (s, r) = pair()
        var rng = GossipRandom(seed: 42)
        var dropped = 0
        for n in 0..<2_000 {
            let length = Int(rng.next() % 1_500)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n % 2 == 0, !bytes.isEmpty { bytes[0] = PacketEnvelope.version }
            if (try? r.open(bytes, nowUnixMilliseconds: now)) == nil { dropped += 1 }
        }
        #expect(dropped == 2_000)
        let good = try s.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400)
        for cut in 0..<good.count {
            #expect((try? r.open(Array(good[..<cut]), nowUnixMilliseconds: now)) == nil)
        }
        #expect(r.counters.dropped == 2_000 + good.count)
        #expect(r.counters.droppedAuthentication == r.counters.dropped)
    }

    @Test func authenticatedGarbageIsCountedAsMalformed() throws {
        var (_, r) = pair()
        var rng = GossipRandom(seed: 7)
        for _ in 0..<500 {
            let plain = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let bytes = [PacketEnvelope.version] + XChaCha20Poly1305.seal(plain, key: Self.key(1), associatedData: PacketEnvelope.associatedData)
            _ = try? r.open(bytes, nowUnixMilliseconds: now)
        }
        #expect(r.counters.opened + r.counters.dropped == 500)
        #expect(r.counters.droppedMalformed > 400)
    }

    @Test func decoderSurvivesMutatedValidMessages() throws {
        var full = packet
        full.states = [NodeStateMessage(nodeID: "x", address: "10.0.0.1", port: 7946, region: "eu", jurisdiction: "DE", certificate: nil,
                                        status: .alive, incarnation: 1, load: 1, capacity: 2, softwareVersion: "1",
                                        coordinate: VivaldiCoordinateMessage(vector: [1, 2], height: 0.1, error: 1, adjustment: 0))]
        let bytes = try full.serialized()
        #expect(try GossipPacketMessage(serialized: bytes) == full)
        var rng = GossipRandom(seed: 9)
        for _ in 0..<3_000 {
            var m = bytes
            for _ in 0..<(1 + Int(rng.next() % 4)) { m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? GossipPacketMessage(serialized: m)
        }
    }

    @Test func oversizedPacketIsRefusedNotTruncated() throws {
        var (s, _) = pair()
        var big = packet
        big.updates = (0..<200).map { MemberUpdateMessage(kind: .suspect, nodeID: "node-\($0)", incarnation: 1, fromNodeID: "b") }
        #expect(throws: PacketError.self) { try s.seal(big, nowUnixMilliseconds: now, maximumSize: 1_400) }
        #expect(s.counters.refusedTooLarge == 1)
    }

    @Test func keyRotationWithoutDowntime() throws {
        var a = PacketSecurity(keyring: Keyring(primary: .init(id: "old", key: Self.key(1))), localNodeID: "a", epoch: 1)
        var b = PacketSecurity(keyring: Keyring(primary: .init(id: "old", key: Self.key(1))), localNodeID: "b", epoch: 1)
        // 1. Install the new key everywhere: still sealing with old.
        a.keyring.install(.init(id: "new", key: Self.key(2)))
        b.keyring.install(.init(id: "new", key: Self.key(2)))
        // 2. a switches first; b has not yet: both directions still open.
        try a.keyring.usePrimary(id: "new")
        _ = try b.open(try a.seal(packet, nowUnixMilliseconds: now, maximumSize: 1_400), nowUnixMilliseconds: now)
        _ = try a.open(try b.seal(GossipPacketMessage(kind: .gossip, senderNodeID: "b"), nowUnixMilliseconds: now, maximumSize: 1_400), nowUnixMilliseconds: now)
        try b.keyring.usePrimary(id: "new")
        // 3. Remove old everywhere; a packet under the old key is now refused.
        try a.keyring.remove(id: "old")
        #expect(throws: KeyringError.cannotRemovePrimary("new")) { try a.keyring.remove(id: "new") }
        var stale = PacketSecurity(keyring: Keyring(primary: .init(id: "old", key: Self.key(1))), localNodeID: "c", epoch: 1)
        #expect(throws: PacketError.authenticationFailed) {
            try a.open(try stale.seal(GossipPacketMessage(kind: .gossip, senderNodeID: "c"), nowUnixMilliseconds: now, maximumSize: 1_400), nowUnixMilliseconds: now)
        }
        #expect(a.keyring.keyIDs == ["new"])
    }
}
