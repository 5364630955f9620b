import Foundation
import Testing
@testable import SFrame

/// Per-frame cost of protect/unprotect, printed, not asserted (timing depends on the machine).
/// Run: DEMARC_BENCH=1 swift test --filter SFrameBenchmark
@Suite("SFrame per-frame cost", .enabled(if: ProcessInfo.processInfo.environment["DEMARC_BENCH"] != nil))
struct SFrameBenchmark {
    @Test func perFrameCost() throws {
        let key = MediaKey.random()
        let kid = E2EEKeyID(senderSlot: 1, generation: 0).rawValue
        let sender = try SFrameSender(keyID: kid, baseKey: key)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: kid, baseKey: key)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        for (label, size, n) in [("audio 160 B", 160, 50_000), ("video 1200 B", 1200, 50_000), ("video 30 kB", 30_000, 5_000)] {
            let plaintext = [UInt8](repeating: 0x5A, count: size)
            var out = [UInt8](repeating: 0, count: size + sender.current.maximumOverhead)
            var frames: [[UInt8]] = []
            frames.reserveCapacity(n)
            let clock = ContinuousClock()
            // Encrypt into a preallocated buffer (the no-allocation path), keep copies to decrypt.
            var sealTime = Duration.zero
            for _ in 0..<n {
                let start = clock.now
                let written = try plaintext.withUnsafeBytes { p in try out.withUnsafeMutableBytes { o in try sender.encrypt(metadata: none, plaintext: p, into: o) } }
                sealTime += clock.now - start
                frames.append(Array(out[..<written]))
            }
            let openTime = try clock.measure {
                for i in frames.indices { _ = try frames[i].withUnsafeMutableBytes { f in try receiver.decrypt(metadata: none, frame: f) } }
            }
            func micros(_ d: Duration) -> Double {
                (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(n) / 1000
            }
            func perFrame(_ d: Duration) -> String { String(format: "%.2f µs", micros(d)) }
            #if DEBUG
            let build = "debug"
            #else
            let build = "release"
            #endif
            print("SFrame \(label): encrypt \(perFrame(sealTime))/frame, decrypt \(perFrame(openTime))/frame (n=\(n), \(build) build)")
            // Machine-readable, the same shape as Tests/js/bench.mjs and Tests/Interop/bench_sframe.py.
            print(#"sframe-bench {"implementation":"swift-openssl","runtime":"\#(build)","bytes":\#(size),"frames":\#(n),"# +
                  String(format: #""encryptMicros":%.2f,"decryptMicros":%.2f}"#, micros(sealTime), micros(openTime)))
        }
    }
}
