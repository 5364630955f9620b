import DemarcTestSupport
import NetLab
import Testing

@Suite struct DelayLineTests {
    typealias Line = DelayLine<Int, SeededGenerator>

    @Test func releasesNothingBeforeItsDelayAndEverythingInArrivalOrder() {
        var line = Line(delayNanoseconds: 30_000_000, random: SeededGenerator(seed: 1))
        for i in 0..<10 { line.arrive(i, now: Int64(i) * 1_000_000) }
        #expect(line.release(now: 29_999_999).isEmpty)
        #expect(line.release(now: 30_000_000) == [0])
        #expect(line.nextRelease == 31_000_000)
        #expect(line.release(now: 35_000_000) == [1, 2, 3, 4, 5])
        #expect(line.release(now: 1_000_000_000) == [6, 7, 8, 9])
        #expect(line.count == 0 && line.nextRelease == nil)
        #expect(line.counters.received == 10 && line.counters.forwarded == 10)
    }

    @Test func shorteningTheDelayNeverLetsALaterDatagramOvertake() {
        var line = Line(delayNanoseconds: 100_000_000, random: SeededGenerator(seed: 2))
        line.arrive(1, now: 0)
        line.delayNanoseconds = 1_000_000
        line.arrive(2, now: 1_000_000)
        #expect(line.release(now: 50_000_000).isEmpty, "2 may not leave before 1")
        #expect(line.release(now: 100_000_000) == [1, 2])
    }

    @Test func lossDropsAboutTheConfiguredShareAndCountsIt() {
        var line = Line(delayNanoseconds: 0, lossPercent: 20, capacity: 100_000, random: SeededGenerator(seed: 3))
        for i in 0..<10_000 { line.arrive(i, now: 0) }
        let out = line.release(now: 0)
        #expect(line.counters.droppedByLoss + out.count == 10_000)
        #expect((1_800...2_200).contains(line.counters.droppedByLoss), "dropped \(line.counters.droppedByLoss) of 10000 at 20 %")
        #expect(out == out.sorted(), "loss must not reorder")
    }

    @Test func aFullQueueDropsNewDatagramsAndCountsThem() {
        var line = Line(delayNanoseconds: 1_000, capacity: 3, random: SeededGenerator(seed: 4))
        let admissions = (0..<5).map { line.arrive($0, now: 0) }
        #expect(admissions.filter { $0 == .queueFull }.count == 2)
        #expect(line.counters.droppedQueueFull == 2)
        #expect(line.release(now: 1_000) == [0, 1, 2])
        #expect(line.arrive(5, now: 2_000) == .queued(releaseAt: 3_000), "room again once released")
    }
}
