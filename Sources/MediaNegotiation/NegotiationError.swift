public import MediaPackets

/// Why an offer or answer cannot be served by the SFU. Each case names the media section
/// (by mid, or by its 0-based index when it has none) so the client's developer can find
/// the line; signaling returns ``description`` to the client.
public enum NegotiationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not SDP (the parser's line and reason).
    case malformedSDP(SDPError)
    /// The offer has no audio or video section to publish, or the answer none to receive.
    case noMedia
    /// Several media sections but no `a=group:BUNDLE` covering all of them: the SFU has one
    /// transport per peer connection (RFC 8843, JSEP RFC 8829 §5.2.1 max-bundle).
    case bundleRequired
    /// A section outside the BUNDLE group, which would need its own transport.
    case notBundled(mid: String)
    /// A media section without `a=mid` (RFC 8843 §7.2; Unified Plan needs one per section).
    case missingMid(index: Int)
    case duplicateMid(String)
    /// The section is not `UDP/TLS/RTP/SAVPF` (or `UDP/DTLS/SCTP` for data channels).
    case unsupportedProtocol(mid: String, String)
    /// `a=rtcp-mux` is required: RTP and RTCP share the one bundled port (RFC 8858).
    case rtcpMuxRequired(mid: String)
    case missingICECredentials(mid: String)
    case missingFingerprint(mid: String)
    /// Only sha-256 and sha-1 certificate fingerprints can be checked (RFC 8122 §5).
    case unsupportedFingerprintAlgorithm(String)
    /// The SFU is always the DTLS server (`a=setup:passive`), so an offer must say
    /// `actpass` or `active` and an answer to the SFU's offer must say `active` (RFC 8842 §5).
    case unsupportedSetup(mid: String, String?)
    /// None of the section's codecs is one the SFU forwards (Opus; VP8 or H.264).
    case noCommonCodec(mid: String, kind: String)
    /// Browsers send at most three simulcast layers; the forwarding core takes 1 to 3.
    case tooManySimulcastLayers(mid: String, count: Int)
    /// An answer that does not match the offer it answers (a section missing or added).
    case answerDoesNotMatchOffer(String)

    public var description: String {
        switch self {
        case .malformedSDP(let error): "the SDP does not parse: \(error)"
        case .noMedia: "the description has no audio or video section"
        case .bundleRequired: "every media section must be in one a=group:BUNDLE group (the SFU uses max-bundle)"
        case .notBundled(let mid): "media section \(mid) is not in the BUNDLE group"
        case .missingMid(let index): "media section \(index) has no a=mid"
        case .duplicateMid(let mid): "two media sections use a=mid:\(mid)"
        case .unsupportedProtocol(let mid, let proto): "media section \(mid) uses \(proto); only UDP/TLS/RTP/SAVPF is served"
        case .rtcpMuxRequired(let mid): "media section \(mid) lacks a=rtcp-mux, which the SFU requires"
        case .missingICECredentials(let mid): "media section \(mid) has no a=ice-ufrag/a=ice-pwd"
        case .missingFingerprint(let mid): "media section \(mid) has no a=fingerprint"
        case .unsupportedFingerprintAlgorithm(let name): "fingerprint hash \(name) is not supported; use sha-256"
        case .unsupportedSetup(let mid, let setup): "media section \(mid) has a=setup:\(setup ?? "(none)"); the SFU is always the DTLS server"
        case .noCommonCodec(let mid, let kind): "media section \(mid) offers no \(kind) codec the SFU forwards (opus, VP8, H264)"
        case .tooManySimulcastLayers(let mid, let count): "media section \(mid) has \(count) simulcast layers; at most 3 are served"
        case .answerDoesNotMatchOffer(let what): "the answer does not match the offer: \(what)"
        }
    }
}
