public import Transparency
public import ServiceLifecycle
public import Logging
public import Foundation

/// Deletes a stored artifact's bytes (recording files, log archives). The node supplies
/// the real one; deleting an artifact that is already gone must succeed.
public protocol ArtifactDeleter: Sendable {
    func deleteArtifact(_ record: ArtifactRecord) async throws
}

/// The retention shell: runs `RetentionSweeper`'s directives against the store
/// (DESIGN.md invariant 2). Deletes due artifacts, then appends `artifactDeleted` to the
/// log; the log itself is never rewritten. Runs in the node's `ServiceGroup`.
public struct RetentionService<C: Clock>: Service where C.Duration == Duration {
    public let log: TransparencyLog
    public let deleter: any ArtifactDeleter
    public let sweeper: RetentionSweeper
    public let clock: C
    private let now: @Sendable () -> Date
    private let logger: Logger

    public init(log: TransparencyLog, deleter: any ArtifactDeleter, sweeper: RetentionSweeper = RetentionSweeper(),
                clock: C, now: @escaping @Sendable () -> Date, logger: Logger = Logger(label: "demarc.transparency.retention")) {
        self.log = log
        self.deleter = deleter
        self.sweeper = sweeper
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wait: UInt64
            do {
                wait = try await sweepOnce()
            } catch {
                logger.error("retention sweep failed; retrying", metadata: ["error": "\(error)"])
                wait = sweeper.maximumIntervalMilliseconds
            }
            do {
                try await cancelWhenGracefulShutdown {
                    try await clock.sleep(for: .milliseconds(Int64(clamping: wait)))
                }
            } catch { return }
        }
    }

    /// One sweep: deletes what is due, logs each deletion. Returns milliseconds until the next sweep.
    @discardableResult
    public func sweepOnce() async throws -> UInt64 {
        let t = LogTimestamp(now())
        let (due, next) = try await log.store.artifacts(dueBy: t, limit: sweeper.batchLimit + 1)
        var wait = sweeper.maximumIntervalMilliseconds
        for directive in sweeper.sweep(stored: due + (next.map { [$0] } ?? []), now: t) {
            switch directive {
            case let .delete(record):
                try await deleter.deleteArtifact(record)
                try await log.append([LogAppend(entry: LogEntry(
                    meeting: record.meeting, timestamp: LogTimestamp(now()),
                    event: .artifactDeleted(artifact: record.artifact, kind: record.kind, at: record.location, reason: .retentionExpired)),
                    tenant: record.tenant)])
                logger.info("artifact deleted at retention", metadata: ["kind": "\(record.kind)", "node": "\(record.location.node)"])
            case let .sweepAgain(ms):
                wait = ms
            }
        }
        return wait
    }

    /// Tenant deletion: deletes every stored artifact of the tenant (logging each), then
    /// destroys the tenant's commitment secret so its meetings in the log become unlinkable.
    public func deleteTenant(_ tenant: String) async throws {
        for record in try await log.store.artifacts(ofTenant: tenant) {
            try await deleter.deleteArtifact(record)
            try await log.append([LogAppend(entry: LogEntry(
                meeting: record.meeting, timestamp: LogTimestamp(now()),
                event: .artifactDeleted(artifact: record.artifact, kind: record.kind, at: record.location, reason: .tenantDeleted)),
                tenant: tenant)])
        }
        try await log.store.destroyTenant(tenant)
    }
}
