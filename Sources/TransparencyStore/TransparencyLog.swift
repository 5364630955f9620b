public import Transparency
public import Foundation

/// One node's transparency log: appends entries to a store, signs checkpoints with the
/// node's key, and answers proofs and meeting reports. The thin shell over the pure
/// core; all hashing and proof logic lives in `Transparency`.
public actor TransparencyLog {
    public let store: any TransparencyLogStore
    public let origin: String
    private let signer: NoteSigner
    private let now: @Sendable () -> Date
    /// PEM of this node's operator-signed certificate, included in reports.
    public let nodeCertificatePEM: String?

    public init(store: any TransparencyLogStore, signer: NoteSigner, nodeCertificatePEM: String? = nil,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.signer = signer
        origin = signer.keyName
        self.now = now
        self.nodeCertificatePEM = nodeCertificatePEM
    }

    public var verifier: NoteVerifier { signer.verifier }

    /// Appends a batch durably (see the store's contract) and returns the new head.
    @discardableResult
    public func append(_ batch: [LogAppend]) async throws -> AppendResult {
        try await store.append(batch)
    }

    /// Records one event for a meeting of a tenant, stamped with the injected clock.
    @discardableResult
    public func record(_ event: LogEvent, meeting: Commitment, tenant: String) async throws -> AppendResult {
        try await store.append([LogAppend(entry: LogEntry(meeting: meeting, timestamp: LogTimestamp(now()), event: event), tenant: tenant)])
    }

    /// Signs and stores a checkpoint of the current tree head, unless the latest stored
    /// checkpoint already covers it. Returns the latest signed checkpoint.
    @discardableResult
    public func checkpoint() async throws -> SignedCheckpoint {
        let head = try await store.treeHead()
        if let latest = try await store.latestCheckpoint(),
           let cp = try? SignedCheckpoint(verifying: latest, with: signer.verifier), cp.checkpoint.size == head.size {
            return cp
        }
        let cp = SignedCheckpoint(signing: Checkpoint(origin: origin, size: head.size, rootHash: head.rootHash), with: signer)
        try await store.saveCheckpoint(cp)
        return cp
    }

    public func latestCheckpoint() async throws -> SignedCheckpoint {
        if let latest = try await store.latestCheckpoint() {
            return try SignedCheckpoint(verifying: latest, with: signer.verifier)
        }
        return try await checkpoint()
    }

    public func inclusionProof(index: UInt64, treeSize: UInt64) async throws -> [MerkleHash] {
        let plan = try MerkleProofPlan.inclusion(index: index, treeSize: treeSize)
        let hashes = try await store.subtreeHashes(plan.coordinates)
        return try plan.assemble { hashes[$0] }
    }

    /// RFC 9162 consistency proof between two sizes not larger than the current tree.
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) async throws -> [MerkleHash] {
        let head = try await store.treeHead()
        guard newSize <= head.size else { throw MerkleError.invalidTreeSizes(old: newSize, new: head.size) }
        let plan = try MerkleProofPlan.consistency(oldSize: oldSize, newSize: newSize)
        let hashes = try await store.subtreeHashes(plan.coordinates)
        return try plan.assemble { hashes[$0] }
    }

    /// The meeting's report against a fresh checkpoint, or nil when the log holds nothing for it.
    public func report(meeting: Commitment) async throws -> MeetingReport? {
        let cp = try await checkpoint()
        let stored = try await store.entries(forMeeting: meeting, below: cp.checkpoint.size)
        guard !stored.isEmpty else { return nil }
        var withProofs: [(index: UInt64, bytes: [UInt8], proof: [MerkleHash])] = []
        var plans: [MerkleProofPlan] = []
        var needed = Set<SubtreeCoordinate>()
        for e in stored {
            let plan = try MerkleProofPlan.inclusion(index: e.index, treeSize: cp.checkpoint.size)
            plans.append(plan)
            needed.formUnion(plan.coordinates)
        }
        let hashes = try await store.subtreeHashes(needed)
        for (e, plan) in zip(stored, plans) {
            withProofs.append((e.index, e.bytes, try plan.assemble { hashes[$0] }))
        }
        return try MeetingReport.assemble(meeting: meeting, entries: withProofs, checkpoint: cp,
                                          nodeCertificate: nodeCertificatePEM, generatedAt: LogTimestamp(now()))
    }
}
