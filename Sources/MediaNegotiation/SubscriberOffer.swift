public import MediaPackets

extension SFUNegotiator {
    /// The SFU's offer to a subscriber: one send-only section per track it forwards, in a
    /// stable order (sections are only appended; a track that ends leaves its section
    /// `a=inactive` without SSRCs, so mids never move — JSEP RFC 8829 §5.2.2).
    ///
    /// Each section carries the publisher's payload types (no mapping needed), RTX when the
    /// policy offers it, the SSRCs the SFU chose with `a=ssrc-group:FID`, and `a=msid`
    /// naming the publisher and its track. No header extensions are offered: the forwarding
    /// core passes the publisher's extension ids through unchanged, and publishers' id
    /// spaces may collide inside one subscriber bundle, so the subscriber must ignore them.
    /// `setup:actpass` as an offerer must (RFC 8842 §5.2); the answer must pick `active`.
    public static func subscriberOffer(_ sections: [SubscriberSection], transport: LocalTransport,
                                       policy: NegotiationPolicy = NegotiationPolicy(),
                                       sessionID: String, version: Int) -> SessionDescription {
        var offer = SessionDescription(origin: SDPOrigin(sessionID: sessionID, sessionVersion: String(version)))
        offer.attributes = [SDPAttribute("ice-lite"),
                            SDPAttribute("group", (["BUNDLE"] + sections.map(\.mid)).joined(separator: " ")),
                            SDPAttribute("msid-semantic", " WMS *")]
        for section in sections {
            var codec = section.codec
            let accepted = section.kind == "audio" ? policy.audioFeedback : policy.videoFeedback
            codec.feedback = codec.feedback.filter { accepted.contains($0) && $0 != "transport-cc" }
            if section.kind == "video" {
                for wanted in ["nack", "nack pli", "ccm fir"] where accepted.contains(wanted) && !codec.feedback.contains(wanted) {
                    codec.feedback.append(wanted)
                }
            }
            let rtxSSRC = policy.offerSubscriberRTX && section.kind == "video" ? section.rtxSSRC : nil
            if rtxSSRC == nil {
                codec.rtxPayloadType = nil
            } else if codec.rtxPayloadType == nil {
                codec.rtxPayloadType = unusedPayloadType(besides: codec.payloadType)
            }
            var media = MediaDescription(kind: section.kind, port: transport.connection.port,
                                         formats: [String(codec.payloadType)] + (codec.rtxPayloadType.map { [String($0)] } ?? []),
                                         fields: [transport.connection.field])
            media.attributes.append(SDPAttribute("mid", section.mid))
            appendTransport(transport, setup: "actpass", to: &media)
            appendCodec(codec, to: &media)
            if section.active {
                media.attributes.append(SDPAttribute("sendonly"))
                media.attributes.append(SDPAttribute("msid", "\(section.streamID) \(section.trackID)"))
                if let rtxSSRC {
                    media.attributes.append(SDPAttribute("ssrc-group", "FID \(section.ssrc) \(rtxSSRC)"))
                }
                for ssrc in [section.ssrc] + (rtxSSRC.map { [$0] } ?? []) {
                    media.attributes.append(SDPAttribute("ssrc", "\(ssrc) cname:\(section.cname)"))
                    media.attributes.append(SDPAttribute("ssrc", "\(ssrc) msid:\(section.streamID) \(section.trackID)"))
                }
            } else {
                media.attributes.append(SDPAttribute("inactive"))
            }
            offer.media.append(media)
        }
        return offer
    }

    /// Checks a subscriber's answer to ``subscriberOffer(_:transport:policy:sessionID:version:)``
    /// and reports, per mid, the codec as agreed (nil for a section it rejected or left
    /// inactive). The answer must keep the offer's sections in order (RFC 8829 §5.3.1) and
    /// take the DTLS client role (`a=setup:active`).
    public static func acceptSubscriberAnswer(_ text: String, to offer: SessionDescription) throws(NegotiationError) -> SubscriberNegotiation {
        let answer: SessionDescription
        do { answer = try SessionDescription.parse(text) } catch { throw .malformedSDP(error) }
        guard answer.media.count == offer.media.count else {
            throw .answerDoesNotMatchOffer("\(answer.media.count) media sections for \(offer.media.count) offered")
        }
        let remote = try remoteTransport(of: answer, acceptedSetups: ["active"])
        var accepted: [String: NegotiatedCodec] = [:]
        for (offered, answered) in zip(offer.media, answer.media) {
            guard offered.mid == answered.mid, offered.kind == answered.kind else {
                throw .answerDoesNotMatchOffer("section \(answered.mid ?? "?") in place of \(offered.mid ?? "?")")
            }
            let mid = offered.mid!
            guard answered.port != 0, answered.direction == .recvonly || answered.direction == .sendrecv,
                  offered.direction == .sendonly,
                  let pt = offered.formats.first.flatMap(UInt8.init), answered.formats.contains(String(pt)),
                  let map = offered.rtpMap(payloadType: pt) else {
                accepted[mid] = nil
                continue
            }
            guard answered.rtcpMux else { throw .rtcpMuxRequired(mid: mid) }
            let answeredFeedback = answered.rtcpFeedback(payloadType: pt)
            let rtx = offered.rtxPayloadType(for: pt).flatMap { answered.formats.contains(String($0)) ? $0 : nil }
            accepted[mid] = NegotiatedCodec(payloadType: pt, encodingName: map.encodingName, clockRate: map.clockRate, channels: map.channels,
                                            formatParameters: offered.formatParameters(payloadType: pt),
                                            feedback: offered.rtcpFeedback(payloadType: pt).filter { answeredFeedback.contains($0) },
                                            rtxPayloadType: rtx)
        }
        return SubscriberNegotiation(remoteUfrag: remote.ufrag, remotePassword: remote.password,
                                     remoteFingerprint: remote.fingerprint, accepted: accepted)
    }

    /// A dynamic payload type (RFC 3551 §3: 96–127) other than `payloadType`.
    static func unusedPayloadType(besides payloadType: UInt8) -> UInt8 {
        (96...127).first { $0 != payloadType } ?? 96
    }
}
