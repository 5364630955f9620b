import Testing
import Foundation
import SodiumWrapper
import Transparency
@testable import TransparencyStore

/// A clock the test advances by hand; `sleep` suspends until then (or cancellation).
final class ManualClock: Clock, @unchecked Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by d: Duration) -> Instant { Instant(offset: offset + d) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private let lock = NSLock()
    private var current = Instant(offset: .zero)
    private var sleepers: [(id: UUID, deadline: Instant, continuation: CheckedContinuation<Void, any Error>)] = []

    var now: Instant { lock.withLock { current } }
    var minimumResolution: Duration { .zero }
    var sleeperCount: Int { lock.withLock { sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = lock.withLock {
                    if deadline <= current || Task.isCancelled { return true }
                    sleepers.append((id, deadline, c))
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
                guard let i = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: i).continuation
            }
            c?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    func advance(by d: Duration) {
        let due = lock.withLock { () -> [CheckedContinuation<Void, any Error>] in
            current = current.advanced(by: d)
            let ready = sleepers.filter { $0.deadline <= current }
            sleepers.removeAll { $0.deadline <= current }
            return ready.map(\.continuation)
        }
        for c in due { c.resume() }
    }
}

/// Awaits `condition` with a deadline (never a fixed sleep).
func eventually(_ what: String, within seconds: Double = 20, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        await Task.yield()
    }
    Issue.record("timed out waiting for \(what)")
}

@Suite("Retention service")
struct RetentionServiceTests {
    final class Deleter: ArtifactDeleter, @unchecked Sendable {
        let lock = NSLock()
        var deleted: [ArtifactRecord] = []
        var count: Int { lock.withLock { deleted.count } }
        func deleteArtifact(_ record: ArtifactRecord) async throws { lock.withLock { deleted.append(record) } }
    }

    @Test(.timeLimit(.minutes(1)))
    func runLoopDeletesWhenTheInjectedClockPassesRetainUntil() async throws {
        let store = try SQLiteTransparencyStore(path: tempPath("log.sqlite"))
        let wall = ManualNow(Date(timeIntervalSince1970: 1_790_000_000))
        let clock = ManualClock()
        let log = TransparencyLog(store: store, signer: try NoteSigner(keyName: "demarc.test/r", key: Ed25519.PrivateKey()), now: { wall.now })
        let key = try #require(try await store.commitmentKey(forTenant: "acme", create: true))
        try await log.record(.artifactStored(artifact: key.artifact("rec", inMeeting: "m"), kind: .recordings, at: fra,
                                             retainUntil: LogTimestamp(wall.now.addingTimeInterval(30))), meeting: key.meeting("m"), tenant: "acme")
        let deleter = Deleter()
        let service = RetentionService(log: log, deleter: deleter, clock: clock, now: { wall.now })
        let task = Task { try await service.run() }

        try await eventually("the first sweep to go to sleep") { clock.sleeperCount == 1 }
        #expect(deleter.count == 0)
        // Time passes: the service wakes exactly when the artifact falls due.
        wall.advance(seconds: 30)
        clock.advance(by: .seconds(30))
        try await eventually("the artifact to be deleted") { deleter.count == 1 }
        try await eventually("the deletion to be logged") { try await store.treeHead().size == 2 }
        let entries = try await store.entries(0..<2)
        guard case .artifactDeleted(_, .recordings, fra, .retentionExpired) = try LogEntryCodec.decode(entries[1]).event else {
            Issue.record("the second entry is not the retention deletion")
            return
        }
        try await eventually("the service to sleep again") { clock.sleeperCount == 1 }
        task.cancel()
        _ = await task.result
        #expect(deleter.count == 1)
    }
}
