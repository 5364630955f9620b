import DemarcTestSupport
import Testing
@testable import RelayLinks

/// A manual instant: time moves only when the test says so.
struct TestInstant: InstantProtocol, Hashable, Sendable {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

@Suite("Relay control fragments")
struct RelayControlFragmentTests {
    static func message(_ n: Int, seed: UInt8 = 0) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed } }

    @Test func aLargeMessageRoundTripsInAnyOrder() throws {
        let message = Self.message(40_000)
        var fragments = try RelayControlFragment.split(message, id: 9)
        #expect(fragments.count == 27)
        #expect(fragments.allSatisfy { $0.count <= RelayPacket.maximumPayload })
        var rng = SeededGenerator(seed: 3)
        fragments.shuffle(using: &rng)
        var reassembler = RelayControlReassembler<TestInstant>()
        var result: [UInt8]?
        for (i, fragment) in fragments.enumerated() {
            let out = try reassembler.receive(fragment, now: .zero)
            if i < fragments.count - 1 { #expect(out == nil) } else { result = out }
            // A duplicate is ignored, never completes twice.
            if i == 3 { #expect(try reassembler.receive(fragment, now: .zero) == nil) }
        }
        #expect(result == message)
        #expect(reassembler.pending == 0)
    }

    @Test func interleavedMessagesAreKeptApart() throws {
        let a = Self.message(3_000, seed: 1), b = Self.message(5_000, seed: 2)
        let fa = try RelayControlFragment.split(a, id: 1), fb = try RelayControlFragment.split(b, id: 2)
        var reassembler = RelayControlReassembler<TestInstant>()
        var done: [[UInt8]] = []
        for i in 0..<max(fa.count, fb.count) {
            if i < fa.count, let m = try reassembler.receive(fa[i], now: .zero) { done.append(m) }
            if i < fb.count, let m = try reassembler.receive(fb[i], now: .zero) { done.append(m) }
        }
        #expect(done == [a, b])
    }

    @Test func anIncompleteMessageTimesOutAndTheBufferIsBounded() throws {
        var reassembler = RelayControlReassembler<TestInstant>(maximumMessages: 2, timeout: .seconds(2))
        let f = try RelayControlFragment.split(Self.message(4_000), id: 5)
        _ = try reassembler.receive(f[0], now: .zero)
        #expect(reassembler.pending == 1)
        reassembler.expire(now: TestInstant.zero.advanced(by: .seconds(3)))
        #expect(reassembler.pending == 0)
        #expect(reassembler.abandoned == 1)
        // The rest arriving late does not complete it.
        for fragment in f.dropFirst() { #expect(try reassembler.receive(fragment, now: TestInstant.zero.advanced(by: .seconds(3))) == nil) }
        // Three messages started in a two-message buffer: the oldest is evicted.
        var later = RelayControlReassembler<TestInstant>(maximumMessages: 2)
        for id in UInt32(10)..<13 {
            _ = try later.receive(try RelayControlFragment.split(Self.message(3_000), id: id)[0], now: TestInstant(offset: .milliseconds(Int(id))))
        }
        #expect(later.pending == 2)
        #expect(later.abandoned == 1)
    }

    @Test func malformedFragmentsAreRefusedWithTypedErrors() throws {
        var r = RelayControlReassembler<TestInstant>()
        #expect(throws: RelayFragmentError.tooShort(3)) { try r.receive([0, 0, 0], now: .zero) }
        #expect(throws: RelayFragmentError.empty) { try r.receive([0, 0, 0, 1, 0, 0, 0, 2], now: .zero) }
        #expect(throws: RelayFragmentError.badCount(0)) { try r.receive([0, 0, 0, 1, 0, 0, 0, 0, 9], now: .zero) }
        #expect(throws: RelayFragmentError.indexOutOfRange(index: 2, count: 2)) { try r.receive([0, 0, 0, 1, 0, 2, 0, 2, 9], now: .zero) }
        #expect(throws: RelayFragmentError.badCount(1_000)) { try r.receive([0, 0, 0, 1, 0, 0, 0x03, 0xE8, 9], now: .zero) }
        _ = try r.receive([0, 0, 0, 7, 0, 0, 0, 3, 9], now: .zero)
        #expect(throws: RelayFragmentError.inconsistentCount(id: 7)) { try r.receive([0, 0, 0, 7, 0, 1, 0, 4, 9], now: .zero) }
        #expect(throws: RelayFragmentError.messageTooLarge(RelayControlFragment.maximumMessage + 1)) {
            try RelayControlFragment.split(Self.message(RelayControlFragment.maximumMessage + 1), id: 1)
        }
        #expect(throws: RelayFragmentError.empty) { try RelayControlFragment.split([], id: 1) }
    }

    /// Random bytes and mutated fragments: a typed error, nil, or a message no larger than
    /// the limit — never a trap — and the buffer stays within its bound.
    @Test func fuzzedFragmentsNeverTrapOrGrowTheBuffer() throws {
        var rng = SeededGenerator(seed: 41)
        let good = try RelayControlFragment.split(Self.message(10_000), id: 77)
        var reassembler = RelayControlReassembler<TestInstant>(maximumMessages: 4)
        for i in 0..<5_000 {
            let input = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 1_600) : Mutations.mutate(good[i % good.count], &rng)
            do {
                if let message = try reassembler.receive(input, now: TestInstant(offset: .milliseconds(i))) {
                    #expect(message.count <= RelayControlFragment.maximumMessage)
                }
            } catch {
                _ = error as RelayFragmentError
            }
            #expect(reassembler.pending <= 4)
        }
    }
}

@Suite("Relay link congestion")
struct RelayLinkCongestionTests {
    static func at(_ ms: Int) -> TestInstant { TestInstant(offset: .milliseconds(ms)) }

    @Test func lossDropsTheHighestLayersFirstAndRecoversSlowly() {
        var c = RelayLinkCongestion<TestInstant>()
        #expect(c.evaluate(now: Self.at(0)) == nil)
        #expect(c.ceiling == 2)
        // 1 s of clean traffic: nothing changes.
        c.packetsSent(500)
        #expect(c.evaluate(now: Self.at(1_000)) == nil)
        // 30 % of what crossed was NACKed: smoothed 15 % > 10 %, the top layer goes.
        c.packetsSent(500)
        c.packetsNACKed(150)
        #expect(c.evaluate(now: Self.at(2_000)) == 1)
        c.packetsSent(500)
        c.packetsNACKed(150)
        #expect(c.evaluate(now: Self.at(3_000)) == 0)
        c.packetsSent(500)
        c.packetsNACKed(150)
        #expect(c.evaluate(now: Self.at(4_000)) == nil, "never below the lowest layer")
        #expect(c.ceiling == 0)
        // Clean again: loss decays, then the ceiling rises one layer per 5 s held.
        var ms = 4_000
        var raised: [(Int, Int)] = []
        while ms < 30_000 {
            ms += 1_000
            c.packetsSent(500)
            if let ceiling = c.evaluate(now: Self.at(ms)) { raised.append((ms, ceiling)) }
        }
        #expect(raised.map(\.1) == [1, 2])
        let first = raised.first?.0 ?? 0
        #expect(first >= 12_000, "not before the smoothed loss fell and the hold passed (raised at \(first) ms)")
    }

    /// The link carries only layers 0 and 1 (the far side wants no more): the first step
    /// down sheds layer 1, not the uncarried layer 2.
    @Test func backingOffStartsBelowWhatTheLinkCarries() {
        var c = RelayLinkCongestion<TestInstant>()
        _ = c.evaluate(now: Self.at(0), highestCarried: 1)
        c.packetsSent(100)
        c.packetsNACKed(40)
        #expect(c.evaluate(now: Self.at(1_000), highestCarried: 1) == 0)
    }

    @Test func tooFewPacketsSayNothing() {
        var c = RelayLinkCongestion<TestInstant>()
        _ = c.evaluate(now: Self.at(0))
        c.packetsSent(5)
        c.packetsNACKed(5)
        #expect(c.evaluate(now: Self.at(1_000)) == nil)
        #expect(c.ceiling == 2)
        // Evaluating within an interval does nothing either.
        c.packetsSent(100)
        c.packetsNACKed(100)
        #expect(c.evaluate(now: Self.at(1_500)) == nil)
        #expect(c.evaluate(now: Self.at(2_000)) == 1)
    }
}
