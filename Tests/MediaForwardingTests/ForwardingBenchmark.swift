import Testing
import MediaForwarding
import MediaPackets
#if canImport(Glibc)
import Glibc
#endif

/// Packets forwarded per second for one publisher fanned out to N subscribers on one core
/// (no SRTP, no sockets: the forwarding core alone). Prints, never asserts timing.
/// More packets: `DEMARC_FWD_BENCH_PACKETS=20000 swift test -c release --filter MediaForwardingBenchmark`.
/// Allocation count: preload Benchmarks/MallocCounter (see that file).
@Suite struct MediaForwardingBenchmark {
    @Test(arguments: [1, 10, 50, 150])
    func fanOut(subscribers n: Int) throws {
        let incoming = Int(ProcessInfoLite.environment("DEMARC_FWD_BENCH_PACKETS") ?? "") ?? 500
        var router = Router()
        var batch = ForwardingBatch(packetCapacity: n)
        let now = TestInstant.zero
        let publisher = ParticipantID(1)
        try router.join(publisher)
        try router.publish(videoTrack(10, mid: "0", ssrc: 5000, rtxSSRC: 5001), by: publisher)
        for i in 0..<n {
            let s = ParticipantID(UInt32(i + 2))
            try router.join(s)
            try router.subscribe(s, to: TrackID(10), SubscriptionDescription(
                ssrc: 100_000 + UInt32(i) * 2, rtx: .init(ssrc: 100_001 + UInt32(i) * 2, payloadTypes: [96: 97])), now: now, into: &batch)
        }
        // Precomputed 1,100-byte packets, the first a keyframe.
        let packets = (0..<256).map { k in
            rtp(ssrc: 5000, seq: UInt16(k), ts: UInt32(k / 4) * 3000, payload: VP8.payload(keyframe: k == 0, size: 1088))
        }
        var clock = now
        // Warm-up, then the keyframe that starts every subscription.
        for k in 0..<256 {
            batch.reset()
            router.receiveRTP(from: publisher, packet: packets[k], now: clock, into: &batch)
        }
        var seq: UInt16 = 256
        var work = packets
        let before = mallocCount()
        let start = ContinuousClock.now
        var forwarded = 0
        for k in 0..<incoming {
            clock = clock.advanced(by: .microseconds(500))
            work[k & 255].withUnsafeMutableBytes { raw in
                raw.storeBytes(of: seq.bigEndian, toByteOffset: 2, as: UInt16.self)
                batch.reset()
                router.receiveRTP(from: publisher, packet: UnsafeRawBufferPointer(raw), now: clock, into: &batch)
            }
            forwarded += batch.directives.count
            seq &+= 1
        }
        let elapsed = ContinuousClock.now - start
        let after = mallocCount()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(forwarded == incoming * n)
        let mallocs = before.flatMap { b in after.map { "\(Double($0 - b) / Double(incoming)) mallocs/packet in" } } ?? "mallocs not counted (no preload)"
        print("media forwarding 1 × \(n): \(Int(Double(forwarded) / seconds)) packets/s out, \(Int(Double(incoming) / seconds)) in/s, \(mallocs)")
    }
}

enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        #if canImport(Glibc)
        return getenv(name).map { String(cString: $0) }
        #else
        return nil
        #endif
    }
}

/// The preloaded counter's value, if Benchmarks/MallocCounter is preloaded.
func mallocCount() -> UInt? {
    #if canImport(Glibc)
    typealias Counter = @convention(c) () -> UInt
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "demarc_malloc_count") else { return nil }
    return unsafeBitCast(symbol, to: Counter.self)()
    #else
    return nil
    #endif
}
