import Testing
import Foundation
import Residency
import SodiumWrapper
import Transparency
@testable import TransparencyStore

let fra = NodeLocation(node: "fra-1", region: "eu-de-fra", jurisdiction: CountryCode("DE")!)
let dub = NodeLocation(node: "dub-1", region: "eu-ie-dub", jurisdiction: CountryCode("IE")!)
let t0 = LogTimestamp(millisecondsSinceEpoch: 1_790_000_000_000)

func tempPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demarc-tl-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// A mutable clock value the tests advance by hand.
final class ManualNow: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ start: Date) { value = start }
    var now: Date { lock.withLock { value } }
    func advance(seconds: Double) { lock.withLock { value += seconds } }
}

/// The store contract, run against every implementation.
enum StoreConformance {
    static func policy() -> LogEvent {
        .policyApplied(PolicySnapshot(version: 1, digest: SHA256.hash([1]), e2ee: .preferred,
                                      allowed: [.media: [CountryCode("DE")!, CountryCode("IE")!], .signaling: [CountryCode("DE")!],
                                                .relay: [CountryCode("DE")!, CountryCode("IE")!], .recordings: [CountryCode("DE")!]],
                                      retentionSeconds: [.recordings: 3600]))
    }

    static func run(_ store: any TransparencyLogStore) async throws {
        let empty = try await store.treeHead()
        #expect(empty.size == 0 && empty.rootHash == MerkleHash.empty)

        // Appends in uneven batches; compare every head with an independent in-memory tree.
        var reference = InMemoryMerkleTree()
        let tenantKey = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        let again = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        #expect(tenantKey.meeting("m1") == again.meeting("m1"), "the tenant secret must be stable")
        let m1 = tenantKey.meeting("m1"), m2 = tenantKey.meeting("m2")
        var i: UInt64 = 0
        for batchSize in [1, 2, 3, 7, 16, 1, 100, 33] {
            var batch: [LogAppend] = []
            for _ in 0..<batchSize {
                let meeting = i % 3 == 0 ? m2 : m1
                let event: LogEvent = i == 0 || i == 1 ? policy() : .mediaProcessed(at: i % 2 == 0 ? fra : dub, endToEndEncrypted: true)
                batch.append(LogAppend(entry: LogEntry(meeting: meeting, timestamp: t0.adding(seconds: i), event: event), tenant: "acme"))
                i += 1
            }
            let result = try await store.append(batch)
            #expect(result.firstIndex == reference.size)
            for b in batch { reference.append(entry: try LogEntryCodec.encode(b.entry)) }
            #expect(result.head == TreeHead(size: reference.size, rootHash: reference.rootHash))
        }
        #expect(try await store.treeHead() == TreeHead(size: reference.size, rootHash: reference.rootHash))

        // Stored subtrees yield the same proofs as the reference, for every leaf and old size.
        let n = reference.size
        for index in stride(from: UInt64(0), to: n, by: 5) {
            let plan = try MerkleProofPlan.inclusion(index: index, treeSize: n)
            let hashes = try await store.subtreeHashes(plan.coordinates)
            #expect(try plan.assemble { hashes[$0] } == reference.inclusionProof(index: index, treeSize: n))
        }
        for old in stride(from: UInt64(1), through: n, by: 7) {
            let plan = try MerkleProofPlan.consistency(oldSize: old, newSize: n)
            let hashes = try await store.subtreeHashes(plan.coordinates)
            #expect(try plan.assemble { hashes[$0] } == reference.consistencyProof(oldSize: old, newSize: n))
        }
        #expect(try await store.entries(0..<3).count == 3)
        let m1Entries = try await store.entries(forMeeting: m1, below: n)
        #expect(m1Entries.allSatisfy { (try? LogEntryCodec.decode($0.bytes).meeting) == m1 })
        #expect(m1Entries.map(\.index) == m1Entries.map(\.index).sorted())

        // Meetings index, checkpoints.
        #expect(Set(try await store.meetings(ofTenant: "acme").map(\.meeting)) == [m1, m2])
        #expect(try await store.meetingBelongs(m1, toTenant: "acme"))
        #expect(!(try await store.meetingBelongs(m1, toTenant: "other")))
        let signer = try NoteSigner(keyName: "demarc.test/store", key: Ed25519.PrivateKey())
        let cp = SignedCheckpoint(signing: Checkpoint(origin: signer.keyName, size: n, rootHash: reference.rootHash), with: signer)
        try await store.saveCheckpoint(cp)
        #expect(try await store.latestCheckpoint() == cp.serialized)
        #expect(try await store.checkpoint(size: n) == cp.serialized)
        #expect(try await store.checkpoint(size: n + 1) == nil)

        // Artifacts: stored, due, deleted.
        let artifact = tenantKey.artifact("rec-1", inMeeting: "m1")
        _ = try await store.append([LogAppend(entry: LogEntry(meeting: m1, timestamp: t0.adding(seconds: 500),
                                                              event: .artifactStored(artifact: artifact, kind: .recordings, at: fra, retainUntil: t0.adding(seconds: 1000))),
                                              tenant: "acme")])
        var (due, next) = try await store.artifacts(dueBy: t0.adding(seconds: 999), limit: 10)
        #expect(due.isEmpty && next?.artifact == artifact)
        (due, next) = try await store.artifacts(dueBy: t0.adding(seconds: 1000), limit: 10)
        #expect(due.map(\.artifact) == [artifact] && next == nil)
        #expect(try await store.artifacts(ofTenant: "acme").count == 1)
        _ = try await store.append([LogAppend(entry: LogEntry(meeting: m1, timestamp: t0.adding(seconds: 1001),
                                                              event: .artifactDeleted(artifact: artifact, kind: .recordings, at: fra, reason: .retentionExpired)),
                                              tenant: "acme")])
        (due, next) = try await store.artifacts(dueBy: t0.adding(seconds: 5000), limit: 10)
        #expect(due.isEmpty)

        let stats = try await store.statistics()
        #expect(stats.treeSize == n + 2 && stats.tenants == 1 && stats.meetings == 2 && stats.artifactsDeleted == 1 && stats.checkpoints == 1)
        #expect(stats.entriesByKind["media processed"] != nil)

        // Tenant deletion destroys the secret and the meeting index, never the log.
        let before = try await store.treeHead()
        try await store.destroyTenant("acme")
        #expect(try await store.commitmentKey(forTenant: "acme", create: false) == nil)
        #expect(try await store.meetings(ofTenant: "acme").isEmpty)
        #expect(try await store.treeHead() == before)
        let fresh = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        #expect(fresh.meeting("m1") != m1, "a recreated tenant gets a new secret")

        await #expect(throws: TransparencyStoreError.emptyBatch) { try await store.append([]) }
        let bad = LogAppend(entry: LogEntry(meeting: m1, timestamp: t0, event: .nodeRefused(at: NodeLocation(node: "a b", region: "r", jurisdiction: CountryCode("DE")!), reason: .draining)), tenant: "acme")
        await #expect(throws: TransparencyStoreError.self) { try await store.append([bad]) }
        #expect(try await store.treeHead() == before, "a refused batch appends nothing")
    }
}
