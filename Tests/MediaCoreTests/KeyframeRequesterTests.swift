import Testing
import MediaPackets
@testable import MediaCore

@Suite("Keyframe requests")
struct KeyframeRequesterTests {
    @Test func burstsCoalesceIntoOneRequestPerInterval() {
        var requester = KeyframeRequester<TestInstant>(senderSSRC: 1, mediaSSRC: 2, minimumInterval: .milliseconds(300))
        let t0 = TestInstant.zero
        #expect(requester.request(now: t0) == .pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 2)))
        for ms in [10, 50, 200] { #expect(requester.request(now: t0.advanced(by: .milliseconds(ms))) == nil) }
        #expect(requester.nextDeadline == t0.advanced(by: .milliseconds(300)))
        #expect(requester.tick(now: t0.advanced(by: .milliseconds(299))) == nil)
        #expect(requester.tick(now: t0.advanced(by: .milliseconds(300))) != nil)  // the deferred one, once
        #expect(requester.tick(now: t0.advanced(by: .milliseconds(900))) == nil)
    }

    @Test func aKeyframeSatisfiesDeferredRequests() {
        var requester = KeyframeRequester<TestInstant>(senderSSRC: 1, mediaSSRC: 2)
        _ = requester.request(now: .zero)
        _ = requester.request(now: TestInstant.zero.advanced(by: .milliseconds(100)))
        requester.keyframeReceived(now: TestInstant.zero.advanced(by: .milliseconds(150)))
        #expect(requester.nextDeadline == nil)
        #expect(requester.tick(now: TestInstant.zero.advanced(by: .seconds(1))) == nil)
    }

    @Test func firIncrementsItsSequenceNumberPerNewRequest() {
        var requester = KeyframeRequester<TestInstant>(senderSSRC: 1, mediaSSRC: 2, method: .fir, minimumInterval: .milliseconds(100))
        let first = requester.request(now: .zero)
        let second = requester.request(now: TestInstant.zero.advanced(by: .milliseconds(100)))
        #expect(first == .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 1)])))
        #expect(second == .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 2)])))
    }
}
