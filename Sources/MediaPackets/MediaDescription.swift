/// `a=fingerprint` (RFC 8122 §5): hash function name and colon-separated uppercase hex.
public struct SDPFingerprint: Sendable, Equatable {
    public var algorithm: String
    public var value: String

    public init(algorithm: String, value: String) { self.algorithm = algorithm; self.value = value }

    public init?(_ attribute: String) {
        let parts = attribute.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return nil }
        algorithm = parts[0].lowercased()
        value = parts[1].uppercased()
    }

    /// The digest bytes, or nil when the value is not colon-separated hex.
    public var bytes: [UInt8]? {
        let pairs = value.split(separator: ":")
        let bytes = pairs.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        return bytes.count == pairs.count && !bytes.isEmpty ? bytes : nil
    }

    public var attributeValue: String { "\(algorithm) \(value)" }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 8866 §6.6).
public struct RTPMap: Sendable, Equatable {
    public var payloadType: UInt8
    public var encodingName: String
    public var clockRate: Int
    public var channels: Int?

    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    public init?(_ value: String) {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let pt = UInt8(parts[0]), pt < 128 else { return nil }
        let codec = parts[1].split(separator: "/")
        guard codec.count >= 2, let clock = Int(codec[1]), clock > 0 else { return nil }
        payloadType = pt
        encodingName = String(codec[0])
        clockRate = clock
        channels = codec.count > 2 ? Int(codec[2]) : nil
    }

    public var attributeValue: String {
        "\(payloadType) \(encodingName)/\(clockRate)" + (channels.map { "/\($0)" } ?? "")
    }
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
public struct ExtensionMap: Sendable, Equatable {
    public var id: UInt8
    public var direction: String?
    public var uri: String
    public var attributes: String?

    public init(id: UInt8, direction: String? = nil, uri: String, attributes: String? = nil) {
        self.id = id
        self.direction = direction
        self.uri = uri
        self.attributes = attributes
    }

    public init?(_ value: String) {
        let parts = value.split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count >= 2 else { return nil }
        let idParts = parts[0].split(separator: "/", maxSplits: 1)
        guard let id = UInt8(idParts[0]), (1...255).contains(id) else { return nil }
        self.id = id
        direction = idParts.count > 1 ? String(idParts[1]) : nil
        uri = parts[1]
        attributes = parts.count > 2 ? parts[2] : nil
    }

    public var attributeValue: String {
        "\(id)\(direction.map { "/\($0)" } ?? "") \(uri)\(attributes.map { " \($0)" } ?? "")"
    }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
public struct SSRCAttribute: Sendable, Equatable {
    public var ssrc: UInt32
    public var name: String
    public var value: String?
}

/// `a=rid:<id> <send|recv> [<params>]` (RFC 8851 §4).
public struct RIDDescription: Sendable, Equatable {
    public var id: String
    public var direction: String
    public var parameters: String?

    public init(id: String, direction: String, parameters: String? = nil) {
        self.id = id
        self.direction = direction
        self.parameters = parameters
    }
}

/// `a=simulcast:send <streams> [recv <streams>]` (RFC 8853 §5.1). Each stream is a list of
/// alternative rids; a rid starting with `~` is paused.
public struct SimulcastDescription: Sendable, Equatable {
    public var send: [[String]]
    public var receive: [[String]]

    public init(send: [[String]] = [], receive: [[String]] = []) { self.send = send; self.receive = receive }

    public init?(_ value: String) {
        let parts = value.split(separator: " ").map(String.init)
        guard parts.count % 2 == 0, !parts.isEmpty else { return nil }
        var send: [[String]] = []
        var receive: [[String]] = []
        for i in stride(from: 0, to: parts.count, by: 2) {
            let streams = parts[i + 1].split(separator: ";").map { $0.split(separator: ",").map(String.init) }
            switch parts[i] {
            case "send": send = streams
            case "recv": receive = streams
            default: return nil
            }
        }
        self.send = send
        self.receive = receive
    }

    public var attributeValue: String {
        var parts: [String] = []
        if !send.isEmpty { parts.append("send " + send.map { $0.joined(separator: ",") }.joined(separator: ";")) }
        if !receive.isEmpty { parts.append("recv " + receive.map { $0.joined(separator: ",") }.joined(separator: ";")) }
        return parts.joined(separator: " ")
    }
}

/// Media direction attributes (RFC 8866 §6.7).
public enum MediaDirection: String, Sendable {
    case sendrecv, sendonly, recvonly, inactive

    /// The direction the other side should answer with.
    public var reversed: MediaDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        default: self
        }
    }
}

/// One `m=` section and its lines (RFC 8866 §5.14).
public struct MediaDescription: Sendable, Equatable {
    /// `audio`, `video` or `application`.
    public var kind: String
    public var port: Int
    public var portCount: Int?
    /// e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    public var proto: String
    /// Payload types (as text) or, for data channels, `webrtc-datachannel`.
    public var formats: [String]
    public var fields: [SDPField]
    public var attributes: [SDPAttribute]

    public init(kind: String, port: Int = 9, portCount: Int? = nil, proto: String = "UDP/TLS/RTP/SAVPF",
                formats: [String], fields: [SDPField] = [SDPField("c", "IN IP4 0.0.0.0")], attributes: [SDPAttribute] = []) {
        self.kind = kind
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.fields = fields
        self.attributes = attributes
    }

    init?(mLine: String) {
        let parts = mLine.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 3 else { return nil }
        let portParts = parts[1].split(separator: "/", maxSplits: 1)
        guard let port = Int(portParts[0]), (0...65535).contains(port) else { return nil }
        var portCount: Int?
        if portParts.count == 2 {
            guard let count = Int(portParts[1]), count > 0 else { return nil }
            portCount = count
        }
        self.init(kind: parts[0], port: port, portCount: portCount, proto: parts[2], formats: Array(parts.dropFirst(3)), fields: [])
    }

    public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
    public func attributes(_ name: String) -> [String] { attributes.filter { $0.name == name }.compactMap(\.value) }
    public func hasAttribute(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    public var mid: String? { attribute("mid") }

    public var direction: MediaDirection {
        for attribute in attributes.reversed() {
            if attribute.value == nil, let direction = MediaDirection(rawValue: attribute.name) { return direction }
        }
        return .sendrecv
    }

    public var rtcpMux: Bool { hasAttribute("rtcp-mux") }
    public var rtcpReducedSize: Bool { hasAttribute("rtcp-rsize") }
    /// `actpass`, `active`, `passive` or `holdconn` (RFC 4145 §4, RFC 8842 §5).
    public var setup: String? { attribute("setup") }
    public var fingerprint: SDPFingerprint? { attribute("fingerprint").flatMap(SDPFingerprint.init) }
    public var iceOptions: [String] { (attribute("ice-options") ?? "").split(separator: " ").map(String.init) }
    public var candidates: [String] { attributes("candidate") }
    public var endOfCandidates: Bool { hasAttribute("end-of-candidates") }

    public var rtpMaps: [RTPMap] { attributes("rtpmap").compactMap(RTPMap.init) }

    public func rtpMap(payloadType: UInt8) -> RTPMap? { rtpMaps.first { $0.payloadType == payloadType } }

    /// `a=fmtp:<pt> <parameters>` for `payloadType` (RFC 8866 §6.15).
    public func formatParameters(payloadType: UInt8) -> String? {
        let prefix = "\(payloadType) "
        return attributes("fmtp").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// The payload type that retransmits `payloadType` (RFC 4588 §8: `rtx` with `apt=`).
    public func rtxPayloadType(for payloadType: UInt8) -> UInt8? {
        rtpMaps.first { map in
            map.encodingName.lowercased() == "rtx"
                && (formatParameters(payloadType: map.payloadType)?.split(separator: ";").contains { $0.trimmingPrefixSpaces == "apt=\(payloadType)" } ?? false)
        }?.payloadType
    }

    /// `a=rtcp-fb` values for `payloadType`, including those given for `*` (RFC 4585 §4.2).
    public func rtcpFeedback(payloadType: UInt8) -> [String] {
        attributes("rtcp-fb").compactMap { value in
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0] == "*" || UInt8(parts[0]) == payloadType else { return nil }
            return String(parts[1])
        }
    }

    public var extensionMaps: [ExtensionMap] { attributes("extmap").compactMap(ExtensionMap.init) }

    public func extensionID(uri: String) -> UInt8? { extensionMaps.first { $0.uri == uri }?.id }

    public var ssrcs: [SSRCAttribute] {
        attributes("ssrc").compactMap { value in
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let ssrc = UInt32(parts[0]) else { return nil }
            let rest = parts[1]
            if let colon = rest.firstIndex(of: ":") {
                return SSRCAttribute(ssrc: ssrc, name: String(rest[..<colon]), value: String(rest[rest.index(after: colon)...]))
            }
            return SSRCAttribute(ssrc: ssrc, name: String(rest), value: nil)
        }
    }

    /// `a=ssrc-group:<semantics> <ssrc>...` (RFC 5576 §4.2), e.g. FID (RTX) or SIM.
    public var ssrcGroups: [(semantics: String, ssrcs: [UInt32])] {
        attributes("ssrc-group").compactMap { value in
            let parts = value.split(separator: " ")
            guard let semantics = parts.first else { return nil }
            let ssrcs = parts.dropFirst().compactMap { UInt32($0) }
            guard ssrcs.count == parts.count - 1 else { return nil }
            return (String(semantics), ssrcs)
        }
    }

    /// `a=msid:<stream id> [<track id>]` (RFC 8830 §2).
    public var msid: (stream: String, track: String?)? {
        guard let value = attribute("msid") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
        guard let stream = parts.first else { return nil }
        return (stream, parts.count > 1 ? parts[1] : nil)
    }

    public var rids: [RIDDescription] {
        attributes("rid").compactMap { value in
            let parts = value.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count >= 2, parts[1] == "send" || parts[1] == "recv" else { return nil }
            return RIDDescription(id: parts[0], direction: parts[1], parameters: parts.count > 2 ? parts[2] : nil)
        }
    }

    public var simulcast: SimulcastDescription? { attribute("simulcast").flatMap(SimulcastDescription.init) }
}

extension Substring {
    var trimmingPrefixSpaces: Substring { drop { $0 == " " } }
}
