import Testing
import MediaForwarding
import MediaPackets

@Suite struct ActiveSpeakerTests {
    let a = ParticipantID(1)
    let b = ParticipantID(2)

    /// Feeds 50 packets per second per participant for `duration`, evaluating every 100 ms;
    /// returns the changes. Levels are RFC 6464 dBov (0 loud … 127 silent).
    func run(_ detector: inout ActiveSpeakerDetector<TestInstant>, _ now: inout TestInstant, for duration: Duration,
             levels: [ParticipantID: UInt8]) -> [ParticipantID?] {
        var changes: [ParticipantID?] = []
        var elapsed = Duration.zero
        while elapsed < duration {
            for _ in 0..<5 {
                for (who, level) in levels.sorted(by: { $0.key < $1.key }) { detector.observe(who, level: level) }
            }
            now = now.advanced(by: .milliseconds(100))
            elapsed += .milliseconds(100)
            if let change = detector.evaluate(now: now) { changes.append(change) }
        }
        return changes
    }

    @Test func speakerChangesOnlyAfterSustainedLouderSpeech() {
        var config = ActiveSpeakerConfiguration()
        config.evaluationInterval = .milliseconds(100)
        var detector = ActiveSpeakerDetector<TestInstant>(configuration: config)
        var now = TestInstant.zero
        // Silence: nobody.
        #expect(run(&detector, &now, for: .seconds(1), levels: [a: 127, b: 120]).isEmpty)
        // A speaks: A at once (there is no current speaker to protect).
        #expect(run(&detector, &now, for: .seconds(1), levels: [a: 30, b: 120]) == [a])
        // B coughs for 300 ms: shorter than the hold, A stays.
        #expect(run(&detector, &now, for: .milliseconds(300), levels: [a: 30, b: 10]).isEmpty)
        #expect(run(&detector, &now, for: .seconds(1), levels: [a: 30, b: 120]).isEmpty)
        // B about as loud as A for a long time: inside the margin, no flapping.
        #expect(run(&detector, &now, for: .seconds(3), levels: [a: 30, b: 28]).isEmpty)
        // B clearly louder for long enough: B.
        #expect(run(&detector, &now, for: .seconds(2), levels: [a: 60, b: 20]) == [b])
        #expect(detector.currentSpeaker == b)
        // Silence keeps the last speaker; B leaving clears it.
        #expect(run(&detector, &now, for: .seconds(2), levels: [a: 127, b: 127]).isEmpty)
        #expect(detector.remove(b) == .some(nil))
    }

    @Test func routerReadsAudioLevelsAndEmitsSpeakerEvents() throws {
        var router = Router()
        var batch = ForwardingBatch()
        var now = TestInstant.zero
        for p in [a, b] { try router.join(p, extensionMap: Ext.map) }
        try router.publish(audioTrack(1, mid: "0", ssrc: 100), by: a)
        try router.publish(audioTrack(2, mid: "0", ssrc: 200), by: b)
        var changes: [ParticipantID?] = []
        var seq: UInt16 = 0
        func speak(_ levels: [(ParticipantID, UInt32, UInt8)], for duration: Duration) {
            var elapsed = Duration.zero
            while elapsed < duration {
                batch.reset()
                for (who, ssrc, level) in levels {
                    router.receiveRTP(from: who, packet: rtp(ssrc: ssrc, seq: seq, ts: UInt32(seq) * 960, pt: 111, payload: [0xFC],
                                                             extensions: [(Ext.audioLevel, [0x80 | level])]), now: now, into: &batch)
                }
                seq &+= 1
                now = now.advanced(by: .milliseconds(20))
                elapsed += .milliseconds(20)
                router.tick(now: now, into: &batch)
                changes += batch.speakerChanges
            }
        }
        speak([(a, 100, 25), (b, 200, 110)], for: .seconds(1))
        #expect(changes == [a])
        speak([(a, 100, 70), (b, 200, 15)], for: .seconds(3))
        #expect(changes == [a, b])
        #expect(router.activeSpeaker == b)
        batch.reset()
        router.leave(b, into: &batch)
        #expect(batch.speakerChanges == [nil])
    }
}
