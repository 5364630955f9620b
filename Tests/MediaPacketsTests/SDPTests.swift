import DemarcTestSupport
import Testing
@testable import MediaPackets

@Suite("SDP")
struct SDPTests {
    @Test func chromiumOfferParses() throws {
        let sdp = try SessionDescription.parse(SDPFixtures.chromiumOffer)
        #expect(sdp.origin.sessionID == "4611731400430051336")
        #expect(sdp.bundleMids == ["0", "1", "2"])
        #expect(sdp.media.map(\.kind) == ["audio", "video", "application"])
        let audio = sdp.media[0]
        #expect(audio.mid == "0")
        #expect(audio.rtcpMux && audio.rtcpReducedSize)
        #expect(audio.setup == "actpass")
        #expect(audio.direction == .sendrecv)
        #expect(audio.iceOptions == ["trickle"])
        #expect(sdp.iceCredentials(for: audio)?.ufrag == "3Q9a")
        #expect(sdp.iceCredentials(for: audio)?.password == "Ycv1DuFpFq5sCmVlMH/Fs3Ey")
        #expect(audio.rtpMap(payloadType: 111) == RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2))
        #expect(audio.formatParameters(payloadType: 111) == "minptime=10;useinbandfec=1")
        #expect(audio.extensionID(uri: RTPExtensionURI.audioLevel) == 1)
        #expect(audio.ssrcs.first == SSRCAttribute(ssrc: 1001, name: "cname", value: "Zf3x1Y0kqCwRiKPM"))
        let fingerprint = try #require(sdp.fingerprint(for: audio))
        #expect(fingerprint.algorithm == "sha-256")
        #expect(fingerprint.bytes?.count == 32)

        let video = sdp.media[1]
        #expect(video.direction == .sendonly)
        #expect(video.msid?.stream == "stream-a")
        #expect(video.msid?.track == "track-video")
        #expect(video.rtxPayloadType(for: 96) == 97)
        #expect(video.rtxPayloadType(for: 102) == 103)
        #expect(video.rtcpFeedback(payloadType: 96) == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"])
        #expect(video.rids.map(\.id) == ["q", "h", "f"])
        #expect(video.simulcast == SimulcastDescription(send: [["q"], ["h"], ["f"]]))
        #expect(video.extensionID(uri: RTPExtensionURI.rtpStreamID) == 10)
        #expect(video.extensionID(uri: RTPExtensionURI.repairedRTPStreamID) == 11)
        #expect(sdp.media[2].proto == "UDP/DTLS/SCTP")
        #expect(sdp.media[2].formats == ["webrtc-datachannel"])
    }

    @Test func aiortcOfferParses() throws {
        let sdp = try SessionDescription.parse(SDPFixtures.aiortcOffer)
        #expect(sdp.bundleMids == ["0", "1"])
        let video = try #require(sdp.media(mid: "1"))
        #expect(video.port == 50412)
        #expect(video.candidates.count == 1)
        #expect(video.endOfCandidates)
        #expect(video.ssrcGroups.count == 1)
        #expect(video.ssrcGroups[0].semantics == "FID")
        #expect(video.ssrcGroups[0].ssrcs == [1_640_925_871, 3_174_562_209])
        #expect(video.rtxPayloadType(for: 97) == 98)
        #expect(video.simulcast == nil)
        #expect(sdp.media[0].attributes("fingerprint").count == 3)
    }

    @Test func serializingReproducesTheDocument() throws {
        for text in [SDPFixtures.chromiumOffer, SDPFixtures.aiortcOffer] {
            let sdp = try SessionDescription.parse(text)
            #expect(sdp.serialized() == text)
            #expect(try SessionDescription.parse(sdp.serialized()) == sdp)
        }
    }

    @Test func buildsAnAnswerProgrammatically() throws {
        let audio = MediaDescription(kind: "audio", formats: ["111"], attributes: [
            SDPAttribute("mid", "0"), SDPAttribute("recvonly"), SDPAttribute("rtcp-mux"),
            SDPAttribute("ice-ufrag", "abcd"), SDPAttribute("ice-pwd", "0123456789012345678901"),
            SDPAttribute("fingerprint", SDPFingerprint(algorithm: "sha-256", value: "AA:BB").attributeValue),
            SDPAttribute("setup", "passive"),
            SDPAttribute("rtpmap", RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2).attributeValue),
            SDPAttribute("extmap", ExtensionMap(id: 4, uri: RTPExtensionURI.mid).attributeValue),
            SDPAttribute("simulcast", SimulcastDescription(receive: [["f"], ["h", "~q"]]).attributeValue),
        ])
        let answer = SessionDescription(origin: SDPOrigin(sessionID: "1"), attributes: [SDPAttribute("group", "BUNDLE 0"), SDPAttribute("ice-lite")], media: [audio])
        let parsed = try SessionDescription.parse(answer.serialized())
        #expect(parsed == answer)
        #expect(parsed.isICELite)
        #expect(parsed.media[0].direction == .recvonly)
        #expect(parsed.media[0].simulcast?.receive == [["f"], ["h", "~q"]])
        #expect(parsed.media[0].extensionMaps == [ExtensionMap(id: 4, uri: RTPExtensionURI.mid)])
    }

    @Test func errorsNameTheLine() {
        #expect(throws: SDPError(line: 1, reason: .missingVersion)) { try SessionDescription.parse("o=- 1 1 IN IP4 0.0.0.0\r\n") }
        #expect(throws: SDPError(line: 2, reason: .malformedOrigin)) { try SessionDescription.parse("v=0\r\no=- 1\r\ns=-\r\n") }
        #expect(throws: SDPError(line: 3, reason: .malformedLine)) { try SessionDescription.parse("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nbogus\r\n") }
        #expect(throws: SDPError(line: 4, reason: .malformedMediaLine)) {
            try SessionDescription.parse("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=video x UDP 96\r\n")
        }
        #expect(throws: SDPError(line: 2, reason: .missingLine("s"))) { try SessionDescription.parse("v=0\no=- 1 1 IN IP4 0.0.0.0\n") }
    }

    @Test func fuzzedDocumentsParseOrThrowTypedErrors() {
        let valid = Array(SDPFixtures.chromiumOffer.utf8)
        var generator = SeededGenerator(seed: 0x5D9)
        var parsed = 0
        for _ in 0..<1500 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0...2, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...40, using: &generator)))
                default: bytes.insert(contentsOf: [UInt8(ascii: "\n"), UInt8.random(in: 0x20...0x7E, using: &generator)], at: index)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            let sdp: SessionDescription
            do {
                sdp = try SessionDescription.parse(String(decoding: bytes, as: UTF8.self))
            } catch {
                continue  // typed: SDPError
            }
            parsed += 1
            for section in sdp.media {
                _ = (section.rtpMaps, section.extensionMaps, section.ssrcs, section.ssrcGroups, section.rids, section.simulcast, section.msid)
                _ = section.rtcpFeedback(payloadType: 96)
                _ = sdp.fingerprint(for: section)?.bytes
            }
            #expect((try? SessionDescription.parse(sdp.serialized())) == sdp)
        }
        #expect(parsed > 0)
    }

    @Test func truncatedAndRandomDocumentsParseOrThrowTypedErrors() {
        var generator = SeededGenerator(seed: 0x7D9)
        var inputs: [[UInt8]] = []
        for fixture in [SDPFixtures.chromiumOffer, SDPFixtures.aiortcOffer] {
            let bytes = Array(fixture.utf8)
            for length in stride(from: 0, to: bytes.count, by: 7) { inputs.append(Array(bytes.prefix(length))) }
        }
        for _ in 0..<500 { inputs.append(generator.bytes(Int.random(in: 0...300, using: &generator))) }
        let alphabet = Array("vosmacbt=:/ \r\n0123456789".utf8)
        for _ in 0..<500 {
            inputs.append((0..<Int.random(in: 0...200, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        for input in inputs {
            let sdp: SessionDescription
            do {
                sdp = try SessionDescription.parse(String(decoding: input, as: UTF8.self))
            } catch {
                continue  // typed: SDPError
            }
            _ = sdp.media.map { ($0.rtpMaps, $0.rids, $0.simulcast, $0.ssrcGroups) }
            #expect((try? SessionDescription.parse(sdp.serialized())) == sdp)
        }
    }
}

@Suite("Demultiplexing and extension maps")
struct DemultiplexingTests {
    @Test func classifiesByFirstByteAsRFC7983Says() throws {
        #expect(PacketClassifier.classify([0x00, 0x01]) == .stun)
        #expect(PacketClassifier.classify([22, 0xFE, 0xFD]) == .dtls)
        #expect(PacketClassifier.classify([0x80, 96]) == .rtp)
        #expect(PacketClassifier.classify([0x80, 0xE0]) == .rtp)  // marker bit + PT 96
        #expect(PacketClassifier.classify([0x81, 200]) == .rtcp)
        #expect(PacketClassifier.classify([0x8F, 205]) == .rtcp)
        #expect(PacketClassifier.classify([16]) == .unknown)
        #expect(PacketClassifier.classify([]) == .unknown)
        #expect(PacketClassifier.classify([0x80]) == .unknown)
    }

    @Test func extensionMapComesFromTheOfferAndReadsPackets() throws {
        let sdp = try SessionDescription.parse(SDPFixtures.chromiumOffer)
        let map = RTPExtensionMap(sdp.media[1])
        #expect(map == RTPExtensionMap(mid: 4, rtpStreamID: 10, repairedRTPStreamID: 11, absSendTime: 2, transportWideSequence: 3))
        var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1)
        builder.extensions = [(4, Array("1".utf8)), (10, Array("h".utf8))]
        let packet = try builder.build()
        let header = try RTPHeader.parse(packet)
        packet.withUnsafeBytes { raw in
            #expect(header.mid(map, in: raw) == "1")
            #expect(header.rid(map, in: raw) == "h")
        }
    }
}
