/// A stored artifact the retention sweeper tracks (an index row, not a log entry).
public struct ArtifactRecord: Hashable, Sendable, Codable {
    public let artifact: Commitment
    public let meeting: Commitment
    public let tenant: String
    public let kind: ArtifactKind
    public let location: NodeLocation
    public let retainUntil: LogTimestamp

    public init(artifact: Commitment, meeting: Commitment, tenant: String, kind: ArtifactKind,
                location: NodeLocation, retainUntil: LogTimestamp) {
        self.artifact = artifact
        self.meeting = meeting
        self.tenant = tenant
        self.kind = kind
        self.location = location
        self.retainUntil = retainUntil
    }
}

/// The retention brain: given the artifacts still stored and the time, decides which to
/// delete now and when to look again (DESIGN.md invariant 2). A value type with no I/O;
/// `RetentionService` performs its directives.
public struct RetentionSweeper: Sendable {
    public enum Directive: Hashable, Sendable {
        /// Delete the artifact's bytes, then log `artifactDeleted` for it.
        case delete(ArtifactRecord)
        /// Sweep again after this many milliseconds.
        case sweepAgain(afterMilliseconds: UInt64)
    }

    /// Upper bound on the time between sweeps, so artifacts recorded by another process
    /// (or after a clock step) are still found; must stay under
    /// `MeetingSummary.retentionToleranceSeconds`.
    public let maximumIntervalMilliseconds: UInt64
    /// Deletions per sweep; the rest follow on an immediate next sweep.
    public let batchLimit: Int

    public init(maximumIntervalMilliseconds: UInt64 = 60_000, batchLimit: Int = 500) {
        precondition(maximumIntervalMilliseconds > 0 && batchLimit > 0)
        self.maximumIntervalMilliseconds = maximumIntervalMilliseconds
        self.batchLimit = batchLimit
    }

    /// `stored` is every not-yet-deleted artifact the caller knows of (or at least all
    /// due ones plus the next to fall due). Due means `retainUntil <= now`.
    public func sweep(stored: [ArtifactRecord], now: LogTimestamp) -> [Directive] {
        var due = stored.filter { $0.retainUntil <= now }
        due.sort { ($0.retainUntil, $0.artifact) < ($1.retainUntil, $1.artifact) }
        var directives: [Directive] = []
        directives.reserveCapacity(min(due.count, batchLimit) + 1)
        for record in due.prefix(batchLimit) { directives.append(.delete(record)) }
        if due.count > batchLimit {
            directives.append(.sweepAgain(afterMilliseconds: 0))
            return directives
        }
        let next = stored.lazy.filter { $0.retainUntil > now }.map(\.retainUntil).min()
        let wait = next.map { $0.millisecondsSinceEpoch - now.millisecondsSinceEpoch } ?? maximumIntervalMilliseconds
        directives.append(.sweepAgain(afterMilliseconds: min(wait, maximumIntervalMilliseconds)))
        return directives
    }
}
