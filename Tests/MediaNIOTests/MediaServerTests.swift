import MediaLoadTest
import MediaCrypto
import MediaForwarding
import MediaPackets
import OpenSSLWrapper
import Testing
@testable import MediaNIO

/// Runs a media server on loopback for the duration of `body`.
func withMediaServer(_ body: @escaping @Sendable (MediaServer, Int) async throws -> Void) async throws {
    let server = try MediaServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.boundPort()
        do {
            try await body(server, port)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

/// Waits for `participant`'s subscriber offer, answers it as `peer` and connects `peer`.
/// Returns the offer.
@discardableResult
func subscribe(_ peer: SyntheticPeer, as participant: String, events: AsyncStream<MediaEvent>,
               server: MediaServer, port: Int) async throws -> SessionDescription {
    let offer = try await nextSubscriberOffer(events, "\(participant)'s subscriber offer")
    try await server.answerSubscriber(meeting: "m", participant: participant, answer: peer.subscriberAnswer(to: offer))
    try await peer.connect(port: port, remote: offer)
    _ = try await nextEvent(events, "\(participant)'s subscriber connection") { $0 == .connectionState(.subscriber, .connected) ? true : nil }
    return offer
}

@Suite("Media shell over UDP", .serialized)
struct MediaServerTests {
    static let vp8Keyframe: [UInt8] = [0x10, 0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A] + Array(repeating: 0xAB, count: 200)

    /// A publisher's SRTP reaches a subscriber through ICE-lite, DTLS, SRTP and the
    /// forwarding core, rewritten to the SSRC the SFU offered, and the subscription's
    /// keyframe request reaches the publisher as an SRTCP PLI.
    @Test func publisherMediaReachesSubscriber() async throws {
        try await withMediaServer { server, port in
            let alice = try await SyntheticPeer.make()
            let bob = try await SyntheticPeer.make()
            let aliceEvents = try await server.join(meeting: "m", participant: "alice")
            let bobEvents = try await server.join(meeting: "m", participant: "bob")

            let answer = try SessionDescription.parse(try await server.publish(meeting: "m", participant: "alice",
                                                                              offer: alice.publisherOffer(ssrc: 5000, rtxSSRC: 5001)))
            #expect(answer.isICELite)
            #expect(answer.media[0].candidates.first?.contains("127.0.0.1 \(port) typ host") == true)
            try await alice.connect(port: port, remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }

            let offer = try await subscribe(bob, as: "bob", events: bobEvents, server: server, port: port)
            let offeredSSRC = try #require(offer.media.first?.ssrcGroups.first?.ssrcs.first)
            #expect(offer.media.first?.msid?.stream == "alice")

            // Forwarding is set up when bob's SRTP comes up, and it asks alice for a keyframe.
            let aliceSRTP = try #require(alice.srtp)
            let pli = try await alice.receiveRTCP("a PLI at the publisher") { packets -> PictureLossIndication? in
                for case .pictureLossIndication(let pli) in packets { return pli }
                return nil
            }
            #expect(pli.mediaSSRC == 5000)

            var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 100, timestamp: 9000, ssrc: 5000, payload: Self.vp8Keyframe)
            builder.marker = true
            var packet = try builder.build()
            try aliceSRTP.outbound.protectRTP(&packet)
            try await alice.send(packet)

            let received = try await bob.receiveRTP("the forwarded keyframe")
            let header = try RTPHeader.parse(received)
            #expect(header.ssrc == offeredSSRC)
            #expect(header.payloadType == 96)
            #expect(Array(received[header.payloadRange]) == Self.vp8Keyframe)
            let statistics = await server.statistics()
            #expect(statistics.rtpForwarded == 1)
            #expect(statistics.dtlsConnected == 2)

            await server.leave(meeting: "m", participant: "alice")
            _ = try await nextEvent(bobEvents, "alice's track ending") { event -> Bool? in
                if case .trackUnpublished(_, "alice") = event { return true }
                return nil
            }
            let reoffer = try await nextSubscriberOffer(bobEvents, "the renegotiation after alice left")
            #expect(reoffer.media.first?.direction == .inactive)
            await alice.close()
            await bob.close()
        }
    }

    /// The roster, mute, active-speaker and renegotiation events a signaling session relays.
    @Test func rosterMuteSpeakerAndRenegotiationEvents() async throws {
        try await withMediaServer { server, port in
            let alice = try await SyntheticPeer.make()
            let bob = try await SyntheticPeer.make()
            let aliceEvents = try await server.join(meeting: "m", participant: "alice")
            let bobEvents = try await server.join(meeting: "m", participant: "bob")
            _ = try await nextEvent(aliceEvents, "bob joining") { $0 == .participantJoined(MediaParticipantInfo(name: "bob")) ? true : nil }
            _ = try await nextEvent(bobEvents, "alice already there") { $0 == .participantJoined(MediaParticipantInfo(name: "alice")) ? true : nil }

            let answer = try SessionDescription.parse(try await server.publish(
                meeting: "m", participant: "alice", offer: alice.publisherOffer(ssrc: 5000, rtxSSRC: 5001, audioSSRC: 6000)))
            #expect(answer.bundleMids == ["0", "1"])
            let published = try await nextEvent(bobEvents, "alice's two tracks") { event -> MediaTrackInfo? in
                if case .trackPublished(let info) = event, info.kind == "audio" { return info }
                return nil
            }
            #expect(published.id == "T2")
            #expect(published.participant == "alice")
            try await alice.connect(port: port, remote: answer)
            let offer = try await subscribe(bob, as: "bob", events: bobEvents, server: server, port: port)
            #expect(offer.media.map(\.kind) == ["video", "audio"])

            // A voice (RFC 6464: V bit, 20 dB below overload) makes alice the active speaker.
            let srtp = try #require(alice.srtp)
            for sequence in UInt16(1)...10 {
                var builder = RTPPacketBuilder(payloadType: 111, sequenceNumber: sequence, timestamp: UInt32(sequence) * 960, ssrc: 6000,
                                               payload: Array(repeating: 0x11, count: 60))
                builder.extensions = [(id: 1, data: [0x80 | 20])]
                var packet = try builder.build()
                try srtp.outbound.protectRTP(&packet)
                try await alice.send(packet)
            }
            _ = try await nextEvent(bobEvents, "alice as active speaker") { $0 == .activeSpeaker("alice") ? true : nil }
            let audio = try await bob.receiveRTP("alice's audio")
            #expect(try RTPHeader.parse(audio).payloadType == 111)

            try await server.setMuted(meeting: "m", participant: "alice", track: "T1", muted: true)
            _ = try await nextEvent(bobEvents, "the mute") { $0 == .trackMuted(id: "T1", muted: true) ? true : nil }
            await #expect(throws: MediaSessionError.notYourTrack("T1")) {
                try await server.setMuted(meeting: "m", participant: "bob", track: "T1", muted: false)
            }

            // Alice stops sending video: a re-offer on the same connection ends T1 only.
            _ = try await server.publish(meeting: "m", participant: "alice",
                                         offer: alice.publisherOffer(ssrc: 5000, rtxSSRC: 5001, audioSSRC: 6000, videoDirection: "inactive"))
            _ = try await nextEvent(bobEvents, "T1 ending") { $0 == .trackUnpublished(id: "T1", participant: "alice") ? true : nil }
            let reoffer = try await nextSubscriberOffer(bobEvents, "the renegotiation")
            #expect(reoffer.media.map(\.direction) == [.inactive, .sendonly])
            #expect(reoffer.origin.sessionVersion == "2")
            #expect(await server.tracks(meeting: "m").map(\.id) == ["T2"])

            await server.leave(meeting: "m", participant: "bob")
            _ = try await nextEvent(aliceEvents, "bob leaving") { $0 == .participantLeft("bob") ? true : nil }
            await alice.close()
            await bob.close()
        }
    }

    /// A subscriber whose DTLS certificate is not the one its answer named gets no keys.
    @Test func certificateNotMatchingTheAnswerFailsTheConnection() async throws {
        try await withMediaServer { server, port in
            let alice = try await SyntheticPeer.make()
            let mallory = try await SyntheticPeer.make()
            _ = try await server.join(meeting: "m", participant: "alice")
            let events = try await server.join(meeting: "m", participant: "mallory")
            _ = try await server.publish(meeting: "m", participant: "alice", offer: alice.publisherOffer(ssrc: 7000, rtxSSRC: 7001))
            let offer = try await nextSubscriberOffer(events, "an offer")
            let someoneElse = try ECDSACertificate(commonName: "other").fingerprint()
            try await server.answerSubscriber(meeting: "m", participant: "mallory",
                                              answer: mallory.subscriberAnswer(to: offer, fingerprint: someoneElse))
            try await mallory.connect(port: port, remote: offer)
            _ = try await nextEvent(events, "the failure") { $0 == .connectionState(.subscriber, .failed) ? true : nil }
            #expect(await server.statistics().dtlsFailures == 1)
            await alice.close()
            await mallory.close()
        }
    }

    @Test func unauthenticatedSTUNAndStrangersAreNotRouted() async throws {
        try await withMediaServer { server, port in
            let stranger = try await SyntheticPeer.make()
            stranger.server = try .init(ipAddress: "127.0.0.1", port: port)
            var request = STUNMessageBuilder(type: .bindingRequest, transactionID: .random())
            try request.appendUsername("nobody:\(stranger.ufrag)")
            try request.appendMessageIntegrity(key: Array("x".utf8))
            request.appendFingerprint()
            try await stranger.send(request.bytes)
            try await stranger.send([0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])  // RTP from nowhere
            try await stranger.send([0x16, 0xFE, 0xFD])  // DTLS from nowhere
            try await within(.seconds(10), "the datagrams to be counted") {
                while await server.statistics().unroutable < 3 { await Task.yield() }
            }
            #expect(await server.statistics().datagramsSent == 0)
            await stranger.close()
        }
    }

    @Test func publishingBeforeJoiningAndBadOffersAreRefused() async throws {
        try await withMediaServer { server, _ in
            await #expect(throws: MediaSessionError.notJoined(meeting: "m", participant: "zed")) {
                try await server.publish(meeting: "m", participant: "zed", offer: "v=0")
            }
            _ = try await server.join(meeting: "m", participant: "zed")
            await #expect(throws: MediaSessionError.alreadyJoined(meeting: "m", participant: "zed")) {
                try await server.join(meeting: "m", participant: "zed")
            }
            await #expect(throws: MediaSessionError.negotiation(.noMedia)) {
                try await server.publish(meeting: "m", participant: "zed", offer: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
            }
            await #expect(throws: MediaSessionError.noOutstandingOffer) {
                try await server.answerSubscriber(meeting: "m", participant: "zed", answer: "v=0")
            }
            #expect(await server.statistics().peerConnections == 1)  // zed's subscriber connection only
        }
    }

    /// `demarc loadtest`'s runner at a light load: every packet the publishers send reaches
    /// every subscriber through the SFU.
    @Test func loadTestDeliversEverythingAtALightLoad() async throws {
        var configuration = LoadTestConfiguration()
        configuration.meetings = 2
        configuration.subscribersPerMeeting = 2
        configuration.packetsPerSecond = 200
        configuration.duration = .seconds(1)
        let report = try await LoadTest.run(configuration)
        #expect(report.sent >= 100)
        #expect(report.statistics.rtpForwarded == report.expected)
        #expect(report.deliveredFraction > 0.95, "\(report)")
        #expect(report.statistics.srtpFailures == 0)
    }

    /// Issue 6's publisher shape: three rid-announced simulcast layers plus Opus. Each
    /// subscriber gets the audio and one layer, so the SFU forwards fewer packets than it
    /// receives; what it forwards arrives, and its own thread's CPU time is measured.
    @Test func simulcastWithAudioLoadReachesSubscribers() async throws {
        var configuration = LoadTestConfiguration()
        configuration.meetings = 1
        configuration.subscribersPerMeeting = 2
        configuration.shape = .simulcastWithAudio(videoBitsPerSecond: 2_500_000)
        configuration.duration = .seconds(2)
        let report = try await LoadTest.run(configuration)
        #expect(report.statistics.srtpFailures == 0)
        #expect(report.sfuForwarded > 0, "\(report)")
        // Audio (50/s) and one layer per subscriber, never all three layers.
        #expect(report.sfuForwarded < report.sent * configuration.subscribersPerMeeting, "\(report)")
        #expect(report.sfuForwarded > 2 * 50 * configuration.subscribersPerMeeting, "\(report)")
        #expect(report.deliveredFraction > 0.95, "\(report)")
        #expect(report.sfuCPUSeconds > 0)
        #expect(report.forwardingDelayP99 > 0 && report.forwardingDelayP50 <= report.forwardingDelayP99)
    }

    /// `demarc loadtest --srtp-only`: both profiles protect and then authenticate and decrypt
    /// what they protected (it throws otherwise), and report a rate.
    @Test func srtpThroughputRunsForEachProfile() throws {
        let results = try SRTPThroughput.measureEachProfile(payloadBytes: 200, packets: 2_000)
        #expect(results.map(\.profile) == [.aes128CMHMACSHA1_80, .aeadAES128GCM])
        for result in results {
            #expect(result.protectPerSecond > 0 && result.unprotectPerSecond > 0, "\(result)")
        }
    }
}
