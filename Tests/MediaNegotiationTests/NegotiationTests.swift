import DemarcTestSupport
import Foundation
import MediaForwarding
import MediaPackets
import Testing
@testable import MediaNegotiation

let transport = LocalTransport(
    ufrag: "sfuUfrag1", password: "sfuPasswordThatIsLongEnough",
    fingerprint: SDPFingerprint(algorithm: "sha-256", value: Array(repeating: "AB", count: 32).joined(separator: ":")),
    candidates: [.init(address: "127.0.0.1", port: 40000)])

@Suite("Publisher answers")
struct PublisherAnswerTests {
    @Test func chromiumSimulcastOfferIsAnsweredReceiveOnly() throws {
        let result = try SFUNegotiator.answerPublisherOffer(SDPFixtures.chromiumOffer, transport: transport, sessionID: "42")
        let answer = result.answer
        #expect(answer.isICELite)
        // The data channel is rejected, so it leaves the bundle.
        #expect(answer.bundleMids == ["0", "1"])
        #expect(answer.media.map(\.port) == [40000, 40000, 0])
        let audio = answer.media[0], video = answer.media[1]
        #expect(audio.formats == ["111"])
        #expect(audio.direction == .recvonly)
        #expect(audio.setup == "passive")
        #expect(audio.rtcpMux)
        #expect(answer.iceCredentials(for: audio)?.ufrag == "sfuUfrag1")
        #expect(answer.fingerprint(for: audio) == transport.fingerprint)
        #expect(audio.candidates.first?.contains("127.0.0.1 40000 typ host") == true)
        #expect(audio.extensionID(uri: RTPExtensionURI.audioLevel) == 1)
        #expect(audio.extensionID(uri: RTPExtensionURI.mid) == 4)
        // transport-cc is not accepted by default (no feedback is sent yet).
        #expect(audio.extensionID(uri: RTPExtensionURI.transportWideCC) == nil)

        #expect(video.formats == ["96", "97"])
        #expect(video.rtxPayloadType(for: 96) == 97)
        #expect(video.rtcpFeedback(payloadType: 96) == ["goog-remb", "ccm fir", "nack", "nack pli"])
        #expect(video.rids.map(\.id) == ["q", "h", "f"])
        #expect(video.rids.allSatisfy { $0.direction == "recv" })
        #expect(video.simulcast == SimulcastDescription(receive: [["q"], ["h"], ["f"]]))
        #expect(video.extensionID(uri: RTPExtensionURI.rtpStreamID) == 10)
        #expect(video.extensionID(uri: RTPExtensionURI.repairedRTPStreamID) == 11)
        #expect(video.extensionID(uri: "urn:3gpp:video-orientation") == nil)

        #expect(result.remoteUfrag == "3Q9a")
        #expect(result.remoteFingerprint.algorithm == "sha-256")
        #expect(result.published.map(\.mid) == ["0", "1"])
        #expect(result.published[1].layers.map(\.rid) == ["q", "h", "f"])
        #expect(result.published[1].streamID == "stream-a")
        #expect(result.published[1].trackID == "track-video")
        #expect(result.extensionMap == RTPExtensionMap(mid: 4, rtpStreamID: 10, repairedRTPStreamID: 11, absSendTime: 2, audioLevel: 1))
        // The answer is valid SDP that round-trips.
        #expect(try SessionDescription.parse(answer.serialized()) == answer)
    }

    @Test func realAiortcOfferIsAnsweredWithVP8AndSignaledSSRCs() throws {
        let result = try SFUNegotiator.answerPublisherOffer(SDPFixtures.aiortc116Offer, transport: transport, sessionID: "7")
        #expect(result.answer.bundleMids == ["0", "1"])
        #expect(result.answer.media[0].formats == ["96"])
        #expect(result.answer.media[1].formats == ["97", "98"])
        #expect(result.published.count == 2)
        #expect(result.published[0].codec.encodingName == "opus")
        #expect(result.published[0].layers == [SimulcastLayerDescription(ssrc: 2443344632)])
        #expect(result.published[1].layers == [SimulcastLayerDescription(ssrc: 1339464975, rtxSSRC: 2634840300)])
        #expect(result.published[1].codec.feedback == ["nack", "nack pli", "goog-remb"])
        // aiortc sends three fingerprints; sha-256 is the one checked.
        #expect(result.remoteFingerprint.value.hasPrefix("A2:00:63"))
        #expect(result.remoteUfrag == "IKzP")
    }

    @Test func h264PreferenceTakesConstrainedBaselineWithPacketizationMode1() throws {
        var policy = NegotiationPolicy()
        policy.videoCodecs = [.h264]
        let result = try SFUNegotiator.answerPublisherOffer(SDPFixtures.aiortc116Offer, transport: transport, policy: policy, sessionID: "7")
        #expect(result.answer.media[1].formats == ["99", "100"])
        #expect(result.published[1].codec.formatParameters?.contains("profile-level-id=42001f") == true)
    }

    @Test func transportCCIsAcceptedWhenTheShellSendsFeedback() throws {
        var policy = NegotiationPolicy()
        policy.acceptTransportCC()
        let result = try SFUNegotiator.answerPublisherOffer(SDPFixtures.chromiumOffer, transport: transport, policy: policy, sessionID: "1")
        #expect(result.answer.media[1].extensionID(uri: RTPExtensionURI.transportWideCC) == 3)
        #expect(result.answer.media[1].rtcpFeedback(payloadType: 96).contains("transport-cc"))
        #expect(result.extensionMap.transportWideSequence == 3)
    }

    @Test(arguments: [
        ("a=rtcp-mux\r\n", "", NegotiationError.rtcpMuxRequired(mid: "0")),
        ("a=group:BUNDLE 0 1\r\n", "", NegotiationError.bundleRequired),
        ("a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0\r\n", NegotiationError.notBundled(mid: "1")),
        ("a=setup:actpass", "a=setup:passive", NegotiationError.unsupportedSetup(mid: "0", "passive")),
        ("a=rtpmap:96 opus/48000/2", "a=rtpmap:96 speex/48000/2", NegotiationError.noCommonCodec(mid: "0", kind: "audio")),
        ("a=mid:1\r\n", "a=mid:0\r\n", NegotiationError.duplicateMid("0")),
        ("a=fingerprint:sha-256", "a=fingerprint:md5", NegotiationError.unsupportedFingerprintAlgorithm("md5")),
    ])
    func offersThatCannotBeServedAreRefusedWithTypedErrors(find: String, replace: String, expected: NegotiationError) {
        let offer = SDPFixtures.aiortc116Offer.replacingOccurrences(of: find, with: replace)
        #expect(offer != SDPFixtures.aiortc116Offer)
        #expect(throws: expected) { try SFUNegotiator.answerPublisherOffer(offer, transport: transport, sessionID: "1") }
    }

    @Test func moreThanThreeSimulcastLayersAreRefused() {
        let offer = SDPFixtures.chromiumOffer
            .replacingOccurrences(of: "a=simulcast:send q;h;f", with: "a=rid:x send\r\na=simulcast:send q;h;f;x")
        #expect(throws: NegotiationError.tooManySimulcastLayers(mid: "1", count: 4)) {
            try SFUNegotiator.answerPublisherOffer(offer, transport: transport, sessionID: "1")
        }
    }

    @Test func notSDPIsAMalformedSDPError() {
        #expect(throws: NegotiationError.malformedSDP(SDPError(line: 1, reason: .malformedLine))) {
            try SFUNegotiator.answerPublisherOffer("hello", transport: transport, sessionID: "1")
        }
    }
}

@Suite("Subscriber offers")
struct SubscriberOfferTests {
    static let vp8 = NegotiatedCodec(payloadType: 97, encodingName: "VP8", clockRate: 90000,
                                     feedback: ["nack", "nack pli", "goog-remb"], rtxPayloadType: 98)
    static let opus = NegotiatedCodec(payloadType: 96, encodingName: "opus", clockRate: 48000, channels: 2)
    static let sections = [
        SubscriberSection(mid: "0", kind: "audio", codec: opus, ssrc: 1111, rtxSSRC: nil, streamID: "alice", trackID: "a1", cname: "sfu"),
        SubscriberSection(mid: "1", kind: "video", codec: vp8, ssrc: 2222, rtxSSRC: 3333, streamID: "alice", trackID: "v1", cname: "sfu"),
    ]

    @Test func offerCarriesSSRCsMsidAndRTX() throws {
        let offer = SFUNegotiator.subscriberOffer(Self.sections, transport: transport, sessionID: "9", version: 3)
        #expect(offer.origin.sessionVersion == "3")
        #expect(offer.isICELite)
        #expect(offer.bundleMids == ["0", "1"])
        let video = offer.media[1]
        #expect(video.direction == .sendonly)
        #expect(video.setup == "actpass")
        #expect(video.formats == ["97", "98"])
        #expect(video.rtcpFeedback(payloadType: 97) == ["nack", "nack pli", "goog-remb", "ccm fir"])
        #expect(video.ssrcGroups.first?.ssrcs == [2222, 3333])
        #expect(video.msid?.stream == "alice")
        #expect(video.extensionMaps.isEmpty)
        #expect(try SessionDescription.parse(offer.serialized()) == offer)
    }

    @Test func endedTracksStayAsInactiveSections() {
        var sections = Self.sections
        sections[0].active = false
        let offer = SFUNegotiator.subscriberOffer(sections, transport: transport, sessionID: "9", version: 4)
        #expect(offer.media[0].direction == .inactive)
        #expect(offer.media[0].ssrcs.isEmpty)
        #expect(offer.bundleMids == ["0", "1"])
    }

    /// An answer as a browser writes it: the offer's sections, recvonly, setup active.
    static func answer(to offer: SessionDescription, setup: String = "active", dropRTX: Bool = false) -> String {
        var answer = offer
        answer.attributes.removeAll { $0.name == "ice-lite" }
        for index in answer.media.indices {
            answer.media[index].attributes = answer.media[index].attributes.compactMap { attribute in
                switch attribute.name {
                case "setup": SDPAttribute("setup", setup)
                case "ice-ufrag": SDPAttribute("ice-ufrag", "cli1")
                case "ice-pwd": SDPAttribute("ice-pwd", "clientPasswordLongEnough1")
                case "sendonly": SDPAttribute("recvonly")
                case "ssrc", "ssrc-group", "msid", "candidate": nil
                case "rtcp-fb" where attribute.value?.hasSuffix("goog-remb") == true: nil
                default: attribute
                }
            }
            if dropRTX, answer.media[index].formats.count > 1 { answer.media[index].formats.removeLast() }
        }
        return answer.serialized()
    }

    @Test func answerIsCheckedAndNarrowsFeedback() throws {
        let offer = SFUNegotiator.subscriberOffer(Self.sections, transport: transport, sessionID: "9", version: 1)
        let result = try SFUNegotiator.acceptSubscriberAnswer(Self.answer(to: offer), to: offer)
        #expect(result.remoteUfrag == "cli1")
        #expect(result.accepted["1"]?.rtxPayloadType == 98)
        #expect(result.accepted["1"]?.feedback == ["nack", "nack pli", "ccm fir"])
        #expect(result.accepted["0"]?.payloadType == 96)
        let withoutRTX = try SFUNegotiator.acceptSubscriberAnswer(Self.answer(to: offer, dropRTX: true), to: offer)
        #expect(withoutRTX.accepted["1"]?.rtxPayloadType == nil)
    }

    @Test func answerThatWantsTheSFUToBeDTLSClientIsRefused() {
        let offer = SFUNegotiator.subscriberOffer(Self.sections, transport: transport, sessionID: "9", version: 1)
        #expect(throws: NegotiationError.unsupportedSetup(mid: "0", "passive")) {
            try SFUNegotiator.acceptSubscriberAnswer(Self.answer(to: offer, setup: "passive"), to: offer)
        }
        var shorter = SessionDescription.parseOrFail(Self.answer(to: offer))
        shorter.media.removeLast()
        #expect(throws: NegotiationError.answerDoesNotMatchOffer("1 media sections for 2 offered")) {
            try SFUNegotiator.acceptSubscriberAnswer(shorter.serialized(), to: offer)
        }
    }
}

@Suite("Negotiation fuzzing")
struct NegotiationFuzzTests {
    /// Mutated and truncated real offers never trap: they are answered or refused with a
    /// ``NegotiationError``, and every answer produced is SDP that parses back.
    @Test(arguments: [UInt64(1), 2, 3])
    func mutatedOffersAreAnsweredOrRefused(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let offers = [SDPFixtures.chromiumOffer, SDPFixtures.aiortcOffer, SDPFixtures.aiortc116Offer]
        var answered = 0
        for round in 0..<1500 {
            let base = offers[round % offers.count]
            var text: String
            if round % 3 == 0 {
                // Line-level edits keep most of the document valid.
                var lines = base.components(separatedBy: "\r\n")
                let i = Int.random(in: 0..<lines.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: lines.remove(at: i)
                case 1: lines.insert(lines[Int.random(in: 0..<lines.count, using: &rng)], at: i)
                default: lines[i] = String(decoding: Mutations.mutate(Array(lines[i].utf8), &rng), as: UTF8.self)
                }
                text = lines.joined(separator: "\r\n")
            } else {
                text = String(decoding: Mutations.mutate(Array(base.utf8), &rng), as: UTF8.self)
            }
            let outcome = Result { () throws(NegotiationError) in
                try SFUNegotiator.answerPublisherOffer(text, transport: transport, sessionID: "1")
            }
            guard case .success(let result) = outcome else { continue }
            answered += 1
            let reparsed = try SessionDescription.parse(result.answer.serialized())
            #expect(reparsed.bundleMids?.isEmpty == false)
            #expect(result.published.allSatisfy { (1...3).contains($0.layers.count) })
        }
        #expect(answered > 100)
    }

    @Test func mutatedSubscriberAnswersAreAcceptedOrRefused() throws {
        var rng = SeededGenerator(seed: 99)
        let offer = SFUNegotiator.subscriberOffer(SubscriberOfferTests.sections, transport: transport, sessionID: "9", version: 1)
        let answer = SubscriberOfferTests.answer(to: offer)
        for _ in 0..<2000 {
            let text = String(decoding: Mutations.mutate(Array(answer.utf8), &rng), as: UTF8.self)
            let outcome = Result { () throws(NegotiationError) in try SFUNegotiator.acceptSubscriberAnswer(text, to: offer) }
            if case .success(let result) = outcome {
                #expect(Set(result.accepted.keys).isSubset(of: ["0", "1"]))
            }
        }
    }
}

extension SessionDescription {
    static func parseOrFail(_ text: String) -> SessionDescription {
        (try? parse(text)) ?? SessionDescription(origin: SDPOrigin(sessionID: "0"))
    }
}
