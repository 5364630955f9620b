import Testing
import Foundation
import SodiumWrapper
import Transparency
@testable import TransparencyStore

/// kill -9 in the middle of a stream of appends: every append the worker acknowledged
/// (it prints "ack SIZE ROOT" only after `append` returned) must be in the reopened
/// database, unchanged, and the latest stored checkpoint must verify and be consistent
/// with the recovered tree head.
@Suite("Crash safety")
struct CrashSafetyTests {
    static var workerURL: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("TransparencyBench")
    }

    @Test(.timeLimit(.minutes(3)))
    func acknowledgedAppendsSurviveSIGKILL() async throws {
        let worker = Self.workerURL
        try #require(FileManager.default.isExecutableFile(atPath: worker.path), "build the TransparencyBench product first: \(worker.path)")
        let db = tempPath("crash.sqlite")
        let key = Ed25519.PrivateKey()
        let seedHex = key.withSeed { Hex.encode($0) }

        let process = Process()
        process.executableURL = worker
        process.arguments = ["--crash-worker", db, seedHex]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let pid = process.processIdentifier

        // Watchdog: a deadline, not a wait for an event.
        let watchdog = Task.detached {
            try await Task.sleep(for: .seconds(120))
            kill(pid, SIGKILL)
        }
        // Read acknowledgements until enough have arrived, then kill -9 mid-stream and
        // drain what the worker wrote before it died.
        let lines: [String] = await Task.detached {
            var collected: [String] = []
            var buffer = Data()
            var killed = false
            let handle = pipe.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    collected.append(String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...nl)
                }
                if !killed, collected.filter({ $0.hasPrefix("checkpoint") }).count >= 3, collected.count >= 40 {
                    kill(pid, SIGKILL)
                    killed = true
                }
            }
            return collected
        }.value
        process.waitUntilExit()
        watchdog.cancel()
        #expect(process.terminationReason == .uncaughtSignal, "the worker must have been killed, not have exited")

        let acks: [(size: UInt64, root: MerkleHash)] = lines.compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 3, p[0] == "ack", let size = UInt64(p[1]), let root = MerkleHash(hex: String(p[2])) else { return nil }
            return (size, root)
        }
        try #require(acks.count >= 15)

        let store = try SQLiteTransparencyStore(path: db)
        let head = try await store.treeHead()
        #expect(head.size >= acks.last!.size, "an acknowledged append was lost")
        for ack in acks {
            let plan = try MerkleProofPlan.consistency(oldSize: ack.size, newSize: head.size)
            let hashes = try await store.subtreeHashes(plan.coordinates)
            try MerkleProofVerifier.verifyConsistency(oldSize: ack.size, newSize: head.size, oldRoot: ack.root,
                                                      newRoot: head.rootHash, proof: try plan.assemble { hashes[$0] })
        }
        let note = try #require(try await store.latestCheckpoint())
        let cp = try SignedCheckpoint(verifying: note, with: try NoteVerifier(keyName: "demarc.test/crash", publicKey: key.publicKey))
        #expect(cp.checkpoint.size <= head.size)
        let plan = try MerkleProofPlan.consistency(oldSize: cp.checkpoint.size, newSize: head.size)
        let hashes = try await store.subtreeHashes(plan.coordinates)
        try MerkleProofVerifier.verifyConsistency(oldSize: cp.checkpoint.size, newSize: head.size, oldRoot: cp.checkpoint.rootHash,
                                                  newRoot: head.rootHash, proof: try plan.assemble { hashes[$0] })
        // The recovered log accepts further appends on the same tree.
        let more = try await store.append([LogAppend(entry: LogEntry(meeting: Commitment([UInt8](repeating: 1, count: 32))!, timestamp: t0,
                                                                     event: .mediaProcessed(at: fra, endToEndEncrypted: true)), tenant: "t")])
        #expect(more.firstIndex == head.size)
    }
}
