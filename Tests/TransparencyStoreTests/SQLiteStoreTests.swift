import Testing
import Foundation
import Residency
import SodiumWrapper
import Transparency
@testable import TransparencyStore

@Suite("SQLite transparency store")
struct SQLiteStoreTests {
    @Test func satisfiesTheStoreContract() async throws {
        try await StoreConformance.run(try SQLiteTransparencyStore(path: tempPath("log.sqlite")))
    }

    @Test func reopenedStoreContinuesTheSameTree() async throws {
        let path = tempPath("log.sqlite")
        var reference = InMemoryMerkleTree()
        let meeting = Commitment([UInt8](repeating: 9, count: 32))!
        func batch(_ range: Range<UInt64>) -> [LogAppend] {
            range.map { LogAppend(entry: LogEntry(meeting: meeting, timestamp: t0.adding(seconds: $0), event: .mediaProcessed(at: fra, endToEndEncrypted: $0 % 2 == 0)), tenant: "t") }
        }
        do {
            let store = try SQLiteTransparencyStore(path: path)
            for b in batch(0..<37) { reference.append(entry: try LogEntryCodec.encode(b.entry)) }
            _ = try await store.append(batch(0..<37))
        }
        let reopened = try SQLiteTransparencyStore(path: path, durability: .processCrash)
        #expect(try await reopened.treeHead() == TreeHead(size: 37, rootHash: reference.rootHash))
        for b in batch(37..<100) { reference.append(entry: try LogEntryCodec.encode(b.entry)) }
        let r = try await reopened.append(batch(37..<100))
        #expect(r.head == TreeHead(size: 100, rootHash: reference.rootHash))
    }

    @Test func logReportsVerifyOfflineAndRetentionDeletesDueArtifacts() async throws {
        let store = try SQLiteTransparencyStore(path: tempPath("log.sqlite"))
        let clock = ManualNow(Date(timeIntervalSince1970: 1_790_000_000))
        let nodeKey = Ed25519.PrivateKey()
        let log = TransparencyLog(store: store, signer: try NoteSigner(keyName: "demarc.test/fra-1", key: nodeKey), now: { clock.now })
        let key = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        let meeting = key.meeting("standup")
        try await log.record(StoreConformance.policy(), meeting: meeting, tenant: "acme")
        try await log.record(.participantJoined(participant: key.participant("alice", inMeeting: "standup"), at: fra), meeting: meeting, tenant: "acme")
        try await log.record(.mediaProcessed(at: fra, endToEndEncrypted: true), meeting: meeting, tenant: "acme")
        try await log.record(.artifactStored(artifact: key.artifact("rec", inMeeting: "standup"), kind: .recordings, at: fra,
                                             retainUntil: LogTimestamp(clock.now.addingTimeInterval(600))), meeting: meeting, tenant: "acme")
        try await log.record(.mediaProcessed(at: dub, endToEndEncrypted: true), meeting: key.meeting("other"), tenant: "acme")

        let report = try #require(try await log.report(meeting: meeting))
        #expect(report.entries.count == 4)
        let verified = try ReportVerifier(publicKey: nodeKey.publicKey).verify(report)
        #expect(verified.summary.compliance.compliant)
        #expect(try await log.report(meeting: key.meeting("nobody")) == nil)
        let oldHead = try await store.treeHead()

        // Retention: nothing due yet; then advance the injected clock past retain-until.
        final class Deleted: ArtifactDeleter, @unchecked Sendable {
            let lock = NSLock()
            var records: [ArtifactRecord] = []
            func deleteArtifact(_ record: ArtifactRecord) async throws { lock.withLock { records.append(record) } }
        }
        let deleter = Deleted()
        let service = RetentionService(log: log, deleter: deleter, clock: ContinuousClock(), now: { clock.now })
        let wait = try await service.sweepOnce()
        #expect(wait == 60_000 && deleter.records.isEmpty)
        clock.advance(seconds: 601)
        try await service.sweepOnce()
        #expect(deleter.records.count == 1)
        let after = try #require(try await log.report(meeting: meeting))
        #expect(after.summary.artifacts.first?.deletionReason == .retentionExpired)
        #expect(after.summary.compliance.compliant)
        _ = try ReportVerifier(publicKey: nodeKey.publicKey).verify(after)
        // The old checkpoint is consistent with the new one: the log only grew.
        let newHead = try await store.treeHead()
        let proof = try await log.consistencyProof(from: oldHead.size, to: newHead.size)
        try MerkleProofVerifier.verifyConsistency(oldSize: oldHead.size, newSize: newHead.size, oldRoot: oldHead.rootHash,
                                                  newRoot: newHead.rootHash, proof: proof)

        // Tenant deletion: artifacts deleted and logged, secret destroyed, log intact.
        try await log.record(.artifactStored(artifact: key.artifact("log", inMeeting: "standup"), kind: .logs, at: fra,
                                             retainUntil: LogTimestamp(clock.now.addingTimeInterval(86_400))), meeting: meeting, tenant: "acme")
        let sizeBefore = try await store.treeHead().size
        try await service.deleteTenant("acme")
        #expect(deleter.records.count == 2)
        #expect(try await store.treeHead().size == sizeBefore + 1)
        #expect(try await store.commitmentKey(forTenant: "acme", create: false) == nil)
    }
}
