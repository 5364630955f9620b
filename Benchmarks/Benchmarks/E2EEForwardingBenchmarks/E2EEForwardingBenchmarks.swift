import Benchmark
import Foundation
import MediaForwarding
import MediaPackets
import SFrame
import SFrameEnforcement

/// Issue 8: the SFU's cost of forwarding end-to-end encrypted media, next to plain media, in
/// one run. Each benchmark feeds one publisher's RTP through a `ForwardingRouter` that fans it
/// out to 10 subscribers; one scaled iteration is one published packet.
///
/// - `plain`: VP8 (4 × 1,200-byte packets per frame, a keyframe every 60 frames) or Opus
///   (160 bytes) as an `e2ee: off` meeting forwards it: router only.
/// - `sframe+check`: the same sizes with the Demarc SFrame layout (clear VP8 prefix, SFrame
///   header, AES-GCM ciphertext from `E2EEFrameLayout.protect`), and `E2EEPayloadValidator`
///   run on every packet with the publisher's slot, as an `e2ee: required` meeting does.
/// - `sframe`: SFrame payloads through the router without the check (isolates the payload).
///
/// Besides package-benchmark's table, each benchmark prints one JSON line prefixed
/// `e2ee-forwarding ` at teardown (total packets and nanoseconds per packet, wall clock over
/// all its iterations), also appended to the file named by `DEMARC_E2EE_BENCH_OUT` when set
/// (the benchmark plugin may not pass a child's output through), for docs/performance.md.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal],
                                           timeUnits: .nanoseconds, warmupIterations: 3,
                                           scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 200)
    for codec in [E2EECodec.vp8, .opus] {
        for variant in [Variant.plain, .sframeChecked, .sframe] {
            let name = "forward \(codec == .vp8 ? "VP8" : "Opus") \(variant.rawValue) to 10"
            let totals = Totals()
            Benchmark(name, closure: { benchmark in
                var run = ForwardingRun(codec: codec, variant: variant)
                let started = ContinuousClock.now, cpuStarted = threadCPUNanoseconds()
                for _ in benchmark.scaledIterations { run.next() }
                totals.add(packets: benchmark.scaledIterations.count, elapsed: ContinuousClock.now - started,
                           cpuNanoseconds: threadCPUNanoseconds() - cpuStarted)
                blackHole(run.forwarded)
                precondition(run.refused == 0, "the validator refused a well-formed SFrame packet")
            }, teardown: {
                emit("e2ee-forwarding " + totals.json(name: name, codec: codec, variant: variant))
            })
        }
    }
}

func emit(_ line: String) {
    print(line)
    if let path = ProcessInfo.processInfo.environment["DEMARC_E2EE_BENCH_OUT"],
       let handle = FileHandle(forWritingAtPath: path) ?? (FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil) {
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try? handle.close()
    }
}

enum Variant: String, Sendable {
    case plain, sframeChecked = "sframe+check", sframe
}

/// CPU time of the calling thread: on a shared, overloaded machine wall time mostly measures
/// the neighbours (a run under load average 15 got ~7 % of a core).
func threadCPUNanoseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Accumulated wall and CPU time over all iterations of one benchmark (single-threaded use only).
final class Totals: @unchecked Sendable {
    var packets = 0
    var elapsed = Duration.zero
    var cpuNanoseconds = 0
    func add(packets: Int, elapsed: Duration, cpuNanoseconds: Int) {
        self.packets += packets
        self.elapsed += elapsed
        self.cpuNanoseconds += cpuNanoseconds
    }
    func json(name: String, codec: E2EECodec, variant: Variant) -> String {
        let wall = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        let n = Double(max(packets, 1))
        return #"{"benchmark":"\#(name)","codec":"\#(codec.rawValue)","variant":"\#(variant.rawValue)","subscribers":10,"packets":\#(packets),"# +
            String(format: #""cpuNsPerPacket":%.1f,"wallNsPerPacket":%.1f}"#, Double(cpuNanoseconds) / n, wall / n)
    }
}

/// A synthetic monotonic instant: each packet advances it, so no clock read sits in the loop.
struct BenchInstant: InstantProtocol, Hashable, Sendable {
    var offset: Duration
    func advanced(by duration: Duration) -> BenchInstant { BenchInstant(offset: offset + duration) }
    func duration(to other: BenchInstant) -> Duration { other.offset - offset }
    static func < (a: BenchInstant, b: BenchInstant) -> Bool { a.offset < b.offset }
}

/// One publisher, 10 subscribers, and a repeating schedule of packet templates whose
/// sequence number and timestamp are patched in place before each packet.
struct ForwardingRun {
    static let slot: UInt32 = 0x1234
    let codec: E2EECodec
    let check: Bool
    var router = ForwardingRouter<BenchInstant>()
    var batch = ForwardingBatch()
    var templates: [[UInt8]] = []
    var schedule: [(template: Int, newFrame: Bool)] = []
    var position = 0
    var sequence: UInt16 = 1
    var timestamp: UInt32 = 1000
    var now = BenchInstant(offset: .zero)
    var forwarded = 0
    var refused = 0

    init(codec: E2EECodec, variant: Variant) {
        self.codec = codec
        check = variant == .sframeChecked
        let encrypted = variant != .plain
        let publisher = ParticipantID(1)
        try! router.join(publisher)
        let track: PublishedTrackDescription
        if codec == .vp8 {
            track = PublishedTrackDescription(id: TrackID(10), mid: "0", kind: .video,
                                              payloadTypes: [PayloadTypeDescription(payloadType: 96, codec: .vp8)],
                                              layers: [SimulcastLayerDescription(ssrc: 5000)])
        } else {
            track = PublishedTrackDescription(id: TrackID(10), mid: "0", kind: .audio,
                                              payloadTypes: [PayloadTypeDescription(payloadType: 111, codec: .opus)],
                                              layers: [SimulcastLayerDescription(ssrc: 5000)])
        }
        try! router.publish(track, by: publisher)
        for s in 2...11 {
            try! router.join(ParticipantID(UInt32(s)))
            batch.reset()
            try! router.subscribe(ParticipantID(UInt32(s)), to: TrackID(10), SubscriptionDescription(ssrc: 9000 + UInt32(s)),
                                  now: now, into: &batch)
        }
        let sender = try! SFrameSender(keyID: E2EEKeyID(senderSlot: Self.slot, generation: 0).rawValue, baseKey: MediaKey.random())
        func payload(_ frame: [UInt8]) -> [UInt8] { encrypted ? try! E2EEFrameLayout.protect(frame, codec: codec, sender: sender) : frame }
        func rtp(_ payload: [UInt8], pt: UInt8) -> [UInt8] {
            try! RTPPacketBuilder(payloadType: pt, sequenceNumber: 0, timestamp: 0, ssrc: 5000, payload: payload).build()
        }
        var random = SystemRandomNumberGenerator()
        func noise(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &random) } }
        if codec == .vp8 {
            // A frame of 4 packets; the VP8 payload descriptor (X, I, M: 15-bit picture id) on each.
            let chunk = 1200 - 4
            for keyframe in [true, false] {
                let tag: [UInt8] = keyframe ? [0x50, 0x2F, 0x01, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] : [0x31, 0x2F, 0x01]
                var frame = payload(tag + noise(4 * chunk - tag.count - (encrypted ? 21 : 0)))
                frame += noise(max(0, 4 * chunk - frame.count))
                for p in 0..<4 {
                    let descriptor: [UInt8] = [p == 0 ? 0x90 : 0x80, 0x80, 0x80, 0x05]
                    templates.append(rtp(descriptor + frame[(p * chunk)..<min(frame.count, (p + 1) * chunk)], pt: 96))
                }
            }
            for f in 0..<60 {
                let base = f == 0 ? 0 : 4
                for p in 0..<4 { schedule.append((base + p, p == 0)) }
            }
        } else {
            templates.append(rtp(payload(noise(160 - (encrypted ? 20 : 0))), pt: 111))
            schedule.append((0, true))
        }
    }

    mutating func next() {
        let (index, newFrame) = schedule[position]
        position = position + 1 == schedule.count ? 0 : position + 1
        if newFrame {
            timestamp &+= codec == .vp8 ? 3000 : 960
            now = now.advanced(by: .milliseconds(codec == .vp8 ? 33 : 20))
        }
        sequence &+= 1
        let seq = sequence, ts = timestamp
        templates[index].withUnsafeMutableBytes { bytes in
            bytes[2] = UInt8(seq >> 8); bytes[3] = UInt8(seq & 0xFF)
            bytes[4] = UInt8(ts >> 24); bytes[5] = UInt8((ts >> 16) & 0xFF); bytes[6] = UInt8((ts >> 8) & 0xFF); bytes[7] = UInt8(ts & 0xFF)
        }
        batch.reset()
        let template = templates[index]
        template.withUnsafeBytes { packet in
            if check {
                do {
                    let header = try RTPHeader.parse(packet)
                    _ = try E2EEPayloadValidator.validate(rtpPayload: UnsafeRawBufferPointer(rebasing: packet[header.payloadRange]),
                                                          codec: codec, senderSlot: Self.slot)
                } catch {
                    refused += 1
                    return
                }
            }
            router.receiveRTP(from: ParticipantID(1), packet: packet, now: now, into: &batch)
        }
        forwarded += batch.directives.count
    }
}
