// Benchmark and crash-test worker for the SQLite transparency log. Not shipped.
//
//   TransparencyBench --benchmark [--entries N] [--batch B] [--db PATH] [--durability powerLoss|processCrash]
//   TransparencyBench --crash-worker DB SEED_HEX
//
// The crash worker appends deterministic entries forever and prints one line per
// acknowledged batch ("ack SIZE ROOTHEX") and per stored checkpoint ("checkpoint SIZE"),
// flushing stdout after the append returned, so the parent knows exactly what was
// acknowledged when it sends SIGKILL.
import Foundation
import Residency
import SodiumWrapper
import Transparency
import TransparencyStore

enum BenchEntries {
    static let locations = [
        NodeLocation(node: "fra-1", region: "eu-de-fra", jurisdiction: CountryCode("DE")!),
        NodeLocation(node: "dub-1", region: "eu-ie-dub", jurisdiction: CountryCode("IE")!),
    ]

    /// Entry `i`: deterministic, so a checker can recompute it.
    static func entry(_ i: UInt64) -> LogAppend {
        var meeting = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: (i / 16).bigEndian) { meeting.replaceSubrange(0..<8, with: $0) }
        let loc = locations[Int(i % 2)]
        let event: LogEvent = i % 3 == 0
            ? .mediaProcessed(at: loc, endToEndEncrypted: true)
            : .relayLinkOpened(from: locations[0], to: locations[1])
        return LogAppend(entry: LogEntry(meeting: Commitment(meeting)!, timestamp: LogTimestamp(millisecondsSinceEpoch: 1_790_000_000_000 + i),
                                         event: event), tenant: "tenant-\(i / 1000)")
    }
}

func line(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

func option(_ name: String, _ args: [String]) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func crashWorker(db: String, seedHex: String) throws -> Never {
    let store = try SQLiteTransparencyStore(path: db, durability: .powerLoss)
    guard var seed = Hex.decode(seedHex) else { fatalError("seed must be hex") }
    let signer = try NoteSigner(keyName: "demarc.test/crash", key: try Ed25519.PrivateKey(seed: &seed))
    var next = try store.treeHeadSync().size
    var batches = 0
    while true {
        let batch = (next..<next + 50).map(BenchEntries.entry)
        let result = try store.appendSync(batch)
        next = result.head.size
        line("ack \(result.head.size) \(result.head.rootHash.hex)")
        batches += 1
        if batches % 5 == 0 {
            let cp = SignedCheckpoint(signing: Checkpoint(origin: signer.keyName, size: result.head.size, rootHash: result.head.rootHash), with: signer)
            try store.saveCheckpointSync(cp)
            line("checkpoint \(result.head.size)")
        }
    }
}

func benchmark(_ args: [String]) throws {
    let n = UInt64(option("--entries", args) ?? "1000000")!
    let batchSize = UInt64(option("--batch", args) ?? "1000")!
    let durability = SQLiteTransparencyStore.Durability(rawValue: option("--durability", args) ?? "powerLoss") ?? .powerLoss
    let path = option("--db", args) ?? NSTemporaryDirectory() + "demarc-bench-\(getpid()).sqlite"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    let store = try SQLiteTransparencyStore(path: path, durability: durability)
    // Pre-build the entries so only encoding, hashing and storage are timed.
    var batches: [[LogAppend]] = []
    var i: UInt64 = 0
    while i < n {
        let end = min(n, i + batchSize)
        batches.append((i..<end).map(BenchEntries.entry))
        i = end
    }
    let start = ContinuousClock.now
    var head = TreeHead(size: 0, rootHash: MerkleAccumulator().rootHash)
    for b in batches { head = try store.appendSync(b).head }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    line("appended \(head.size) entries in batches of \(batchSize) (synchronous=\(durability == .powerLoss ? "FULL" : "NORMAL")): \(String(format: "%.2f", seconds)) s, \(Int(Double(head.size) / seconds)) appends/s")

    // Proof generation at this size: random inclusion proofs, and consistency proofs from random older sizes.
    var rng = SystemRandomNumberGenerator()
    let samples = 1000
    var proofBytes = 0
    let pStart = ContinuousClock.now
    for _ in 0..<samples {
        let index = UInt64.random(in: 0..<head.size, using: &rng)
        let plan = try MerkleProofPlan.inclusion(index: index, treeSize: head.size)
        let hashes = try store.subtreeHashesSync(plan.coordinates)
        let proof = try plan.assemble { hashes[$0] }
        proofBytes += proof.count * 32
    }
    let pElapsed = ContinuousClock.now - pStart
    let perProof = (Double(pElapsed.components.seconds) + Double(pElapsed.components.attoseconds) / 1e18) / Double(samples)
    line("inclusion proof at \(head.size): \(String(format: "%.1f", perProof * 1e6)) µs each (mean of \(samples)), \(proofBytes / samples) bytes")

    var cBytes = 0
    let cStart = ContinuousClock.now
    for _ in 0..<samples {
        let old = UInt64.random(in: 1..<head.size, using: &rng)
        let plan = try MerkleProofPlan.consistency(oldSize: old, newSize: head.size)
        let hashes = try store.subtreeHashesSync(plan.coordinates)
        cBytes += try plan.assemble { hashes[$0] }.count * 32
    }
    let cElapsed = ContinuousClock.now - cStart
    let perC = (Double(cElapsed.components.seconds) + Double(cElapsed.components.attoseconds) / 1e18) / Double(samples)
    line("consistency proof to \(head.size): \(String(format: "%.1f", perC * 1e6)) µs each (mean of \(samples)), \(cBytes / samples) bytes")
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    line("database: \(path) (\(size / 1_048_576) MiB)")
}

let args = CommandLine.arguments
if args.count >= 4, args[1] == "--crash-worker" {
    try crashWorker(db: args[2], seedHex: args[3])
} else if args.contains("--benchmark") {
    try benchmark(args)
} else {
    FileHandle.standardError.write(Data("usage: TransparencyBench --benchmark [--entries N] [--batch B] [--db PATH] | --crash-worker DB SEED_HEX\n".utf8))
    exit(2)
}
