import MediaPackets
import MediaForwarding

/// SDP offer/answer for the SFU (JSEP, RFC 8829), pure and transport-free.
///
/// The SFU is an ICE-lite agent (RFC 8445 §2.5) with host candidates on one UDP port, always
/// the DTLS server (`a=setup:passive`), and bundles everything onto one transport with
/// rtcp-mux (RFC 8843, RFC 8858). A publisher offers and the SFU answers
/// (``answerPublisherOffer(_:transport:policy:sessionID:)``); toward a subscriber the SFU
/// offers (``subscriberOffer(_:transport:policy:sessionID:version:)``) and checks the answer
/// (``acceptSubscriberAnswer(_:to:)``).
public enum SFUNegotiator {
    /// Answers a publisher's offer: every audio/video section the client sends on is
    /// accepted receive-only with one codec (Opus; the first of the policy's video codecs the
    /// offer has, with its RTX), the header extensions the policy accepts (the offer's ids),
    /// and `a=rid`/`a=simulcast` recv for simulcast. Data channels and unknown media are
    /// rejected (port 0) rather than failing the whole offer.
    public static func answerPublisherOffer(_ text: String, transport: LocalTransport, policy: NegotiationPolicy = NegotiationPolicy(),
                                            sessionID: String) throws(NegotiationError) -> PublisherNegotiation {
        let offer: SessionDescription
        do { offer = try SessionDescription.parse(text) } catch { throw .malformedSDP(error) }
        let remote = try remoteTransport(of: offer, acceptedSetups: ["actpass", "active"])

        var answerSections: [MediaDescription] = []
        var published: [PublishedSection] = []
        var bundled: [String] = []
        var extensionIDs: [ExtensionMap] = []
        for section in offer.media {
            let mid = section.mid!  // checked by remoteTransport
            guard section.port != 0, section.kind == "audio" || section.kind == "video" else {
                answerSections.append(rejected(section))
                continue
            }
            guard section.proto.uppercased().hasSuffix("RTP/SAVPF") else { throw .unsupportedProtocol(mid: mid, section.proto) }
            guard section.rtcpMux else { throw .rtcpMuxRequired(mid: mid) }
            let codec = try chooseCodec(in: section, policy: policy)
            let sends = section.direction == .sendonly || section.direction == .sendrecv
            let layers = try publishedLayers(of: section, sends: sends)

            var answer = MediaDescription(kind: section.kind, port: transport.connection.port, proto: section.proto,
                                          formats: [String(codec.payloadType)] + (codec.rtxPayloadType.map { [String($0)] } ?? []),
                                          fields: [transport.connection.field])
            answer.attributes.append(SDPAttribute("mid", mid))
            appendTransport(transport, setup: "passive", to: &answer)
            let accepted = section.extensionMaps.filter { policy.publisherExtensions.contains($0.uri) }
            for map in accepted {
                answer.attributes.append(SDPAttribute("extmap", ExtensionMap(id: map.id, uri: map.uri).attributeValue))
                if !extensionIDs.contains(where: { $0.uri == map.uri }) { extensionIDs.append(map) }
            }
            answer.attributes.append(SDPAttribute(sends ? "recvonly" : "inactive"))
            appendCodec(codec, to: &answer)
            if layers.count > 1 || layers.first?.rid != nil {
                for layer in layers { answer.attributes.append(SDPAttribute("rid", "\(layer.rid!) recv")) }
                answer.attributes.append(SDPAttribute("simulcast", SimulcastDescription(receive: layers.map { [$0.rid!] }).attributeValue))
            }
            answerSections.append(answer)
            bundled.append(mid)
            if sends {
                let msid = section.msid ?? section.ssrcs.first { $0.name == "msid" }.flatMap { ssrc in
                    ssrc.value.map { value -> (stream: String, track: String?) in
                        let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
                        return (parts[0], parts.count > 1 ? parts[1] : nil)
                    }
                }
                published.append(PublishedSection(mid: mid, kind: section.kind, codec: codec, layers: layers,
                                                  streamID: msid?.stream, trackID: msid?.track))
            }
        }
        guard !bundled.isEmpty else { throw .noMedia }

        var answer = SessionDescription(origin: SDPOrigin(sessionID: sessionID, sessionVersion: "1"))
        answer.attributes = [SDPAttribute("ice-lite"), SDPAttribute("group", (["BUNDLE"] + bundled).joined(separator: " "))]
        if offer.hasAttribute("extmap-allow-mixed") { answer.attributes.append(SDPAttribute("extmap-allow-mixed")) }
        answer.media = answerSections
        let map = RTPExtensionMap(
            mid: extensionIDs.first { $0.uri == RTPExtensionURI.mid }?.id,
            rtpStreamID: extensionIDs.first { $0.uri == RTPExtensionURI.rtpStreamID }?.id,
            repairedRTPStreamID: extensionIDs.first { $0.uri == RTPExtensionURI.repairedRTPStreamID }?.id,
            absSendTime: extensionIDs.first { $0.uri == RTPExtensionURI.absSendTime }?.id,
            transportWideSequence: extensionIDs.first { $0.uri == RTPExtensionURI.transportWideCC }?.id,
            audioLevel: extensionIDs.first { $0.uri == RTPExtensionURI.audioLevel }?.id)
        return PublisherNegotiation(answer: answer, remoteUfrag: remote.ufrag, remotePassword: remote.password,
                                    remoteFingerprint: remote.fingerprint, published: published, extensionMap: map)
    }

    // MARK: Shared checks

    struct RemoteTransport {
        var ufrag: String
        var password: String
        var fingerprint: SDPFingerprint
    }

    /// Mids, BUNDLE, ICE credentials, fingerprint and DTLS role of a remote description.
    /// Every used section must be in the first BUNDLE group and agree on one transport.
    static func remoteTransport(of sdp: SessionDescription, acceptedSetups: Set<String>) throws(NegotiationError) -> RemoteTransport {
        var mids: Set<String> = []
        for (index, section) in sdp.media.enumerated() {
            guard let mid = section.mid, !mid.isEmpty else { throw .missingMid(index: index) }
            guard mids.insert(mid).inserted else { throw .duplicateMid(mid) }
        }
        let used = sdp.media.filter { $0.port != 0 }
        guard let first = used.first else { throw .noMedia }
        if used.count > 1 || sdp.bundleMids != nil {
            guard let bundle = sdp.bundleMids else { throw .bundleRequired }
            for section in used where !bundle.contains(section.mid!) { throw .notBundled(mid: section.mid!) }
        }
        // The BUNDLE-tagged (first) section carries the transport (RFC 8843 §7.1).
        let tagged = sdp.bundleMids?.first.flatMap { sdp.media(mid: $0) }.flatMap { $0.port != 0 ? $0 : nil } ?? first
        let mid = tagged.mid!
        guard let credentials = sdp.iceCredentials(for: tagged) else { throw .missingICECredentials(mid: mid) }
        let fingerprints = (tagged.attributes("fingerprint") + sdp.attributes.filter { $0.name == "fingerprint" }.compactMap(\.value))
            .compactMap(SDPFingerprint.init)
        guard !fingerprints.isEmpty else { throw .missingFingerprint(mid: mid) }
        guard let fingerprint = fingerprints.first(where: { $0.algorithm == "sha-256" }) ?? fingerprints.first(where: { $0.algorithm == "sha-1" }) else {
            throw .unsupportedFingerprintAlgorithm(fingerprints[0].algorithm)
        }
        guard fingerprint.bytes != nil else { throw .missingFingerprint(mid: mid) }
        let setup = tagged.setup ?? sdp.attribute("setup")
        guard let setup, acceptedSetups.contains(setup) else { throw .unsupportedSetup(mid: mid, setup) }
        return RemoteTransport(ufrag: credentials.ufrag, password: credentials.password, fingerprint: fingerprint)
    }

    static func rejected(_ section: MediaDescription) -> MediaDescription {
        var answer = MediaDescription(kind: section.kind, port: 0, proto: section.proto, formats: section.formats)
        if let mid = section.mid { answer.attributes.append(SDPAttribute("mid", mid)) }
        return answer
    }

    static func appendTransport(_ transport: LocalTransport, setup: String, to section: inout MediaDescription) {
        section.attributes.append(SDPAttribute("ice-ufrag", transport.ufrag))
        section.attributes.append(SDPAttribute("ice-pwd", transport.password))
        section.attributes.append(SDPAttribute("fingerprint", transport.fingerprint.attributeValue))
        section.attributes.append(SDPAttribute("setup", setup))
        section.attributes.append(SDPAttribute("rtcp-mux"))
        section.attributes.append(SDPAttribute("rtcp-rsize"))
        for candidate in transport.candidateValues { section.attributes.append(SDPAttribute("candidate", candidate)) }
        section.attributes.append(SDPAttribute("end-of-candidates"))
    }

    static func appendCodec(_ codec: NegotiatedCodec, to section: inout MediaDescription) {
        let map = RTPMap(payloadType: codec.payloadType, encodingName: codec.encodingName, clockRate: codec.clockRate, channels: codec.channels)
        section.attributes.append(SDPAttribute("rtpmap", map.attributeValue))
        for feedback in codec.feedback { section.attributes.append(SDPAttribute("rtcp-fb", "\(codec.payloadType) \(feedback)")) }
        if let parameters = codec.formatParameters { section.attributes.append(SDPAttribute("fmtp", "\(codec.payloadType) \(parameters)")) }
        if let rtx = codec.rtxPayloadType {
            section.attributes.append(SDPAttribute("rtpmap", "\(rtx) rtx/\(codec.clockRate)"))
            section.attributes.append(SDPAttribute("fmtp", "\(rtx) apt=\(codec.payloadType)"))
        }
    }

    /// Opus for audio; for video the policy's first codec the section offers. For H.264 the
    /// payload type with packetization-mode=1 and a constrained-baseline profile (42xxxx)
    /// is preferred, which every browser decodes.
    static func chooseCodec(in section: MediaDescription, policy: NegotiationPolicy) throws(NegotiationError) -> NegotiatedCodec {
        let mid = section.mid ?? "?"
        let offered = section.formats.compactMap(UInt8.init).compactMap { section.rtpMap(payloadType: $0) }
        let wanted: [ForwardableCodec] = section.kind == "audio" ? [.opus] : policy.videoCodecs
        var chosen: RTPMap?
        for codec in wanted {
            let candidates = offered.filter { ForwardableCodec(encodingName: $0.encodingName) == codec }
            if codec == .h264 {
                func parameters(_ map: RTPMap) -> String { section.formatParameters(payloadType: map.payloadType) ?? "" }
                chosen = candidates.first { parameters($0).contains("packetization-mode=1") && parameters($0).contains("profile-level-id=42") }
                    ?? candidates.first { parameters($0).contains("packetization-mode=1") } ?? candidates.first
            } else {
                chosen = candidates.first
            }
            if chosen != nil { break }
        }
        guard let chosen else { throw .noCommonCodec(mid: mid, kind: section.kind) }
        let accepted = section.kind == "audio" ? policy.audioFeedback : policy.videoFeedback
        let feedback = section.rtcpFeedback(payloadType: chosen.payloadType).filter { accepted.contains($0) }
        let rtx = policy.acceptPublisherRTX && section.kind == "video" ? section.rtxPayloadType(for: chosen.payloadType) : nil
        return NegotiatedCodec(payloadType: chosen.payloadType, encodingName: chosen.encodingName, clockRate: chosen.clockRate,
                               channels: chosen.channels, formatParameters: section.formatParameters(payloadType: chosen.payloadType),
                               feedback: feedback, rtxPayloadType: rtx)
    }

    /// The layers a section will carry: one per `a=simulcast` send stream (first
    /// alternative, `~` pause prefix kept off), or one from `a=ssrc`/`a=ssrc-group:FID`.
    static func publishedLayers(of section: MediaDescription, sends: Bool) throws(NegotiationError) -> [SimulcastLayerDescription] {
        let mid = section.mid ?? "?"
        if let simulcast = section.simulcast, !simulcast.send.isEmpty {
            let sendRIDs = Set(section.rids.filter { $0.direction == "send" }.map(\.id))
            let rids = simulcast.send.compactMap { alternatives in
                alternatives.first.map { $0.hasPrefix("~") ? String($0.dropFirst()) : $0 }
            }.filter { sendRIDs.isEmpty || sendRIDs.contains($0) }
            guard rids.count <= 3 else { throw .tooManySimulcastLayers(mid: mid, count: rids.count) }
            if !rids.isEmpty { return rids.map { SimulcastLayerDescription(rid: $0) } }
        }
        if let fid = section.ssrcGroups.first(where: { $0.semantics == "FID" }), fid.ssrcs.count >= 2 {
            return [SimulcastLayerDescription(ssrc: fid.ssrcs[0], rtxSSRC: fid.ssrcs[1])]
        }
        return [SimulcastLayerDescription(ssrc: section.ssrcs.first?.ssrc)]
    }
}
