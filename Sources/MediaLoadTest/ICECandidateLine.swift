public import MediaPackets

/// Why an `a=candidate` value was refused.
public enum ICECandidateLineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 8 fields RFC 8839 §5.1 requires (`foundation component transport
    /// priority address port "typ" type`).
    case tooFewFields(Int)
    case badComponent(String)
    case badPriority(String)
    case badPort(String)
    /// The word after the port is not `typ`.
    case missingTyp(String)

    public var description: String {
        switch self {
        case .tooFewFields(let n): "ICE candidate: \(n) fields, RFC 8839 §5.1 needs at least 8"
        case .badComponent(let s): "ICE candidate: component \"\(s)\" is not 1…256"
        case .badPriority(let s): "ICE candidate: priority \"\(s)\" is not a 32-bit number"
        case .badPort(let s): "ICE candidate: port \"\(s)\" is not 0…65535"
        case .missingTyp(let s): "ICE candidate: expected \"typ\", found \"\(s)\""
        }
    }
}

/// One `a=candidate` attribute value (RFC 8839 §5.1), as Janus writes them in its SDP or
/// trickles them: `1 1 udp 2015363327 192.0.2.2 40123 typ host`.
public struct ICECandidateLine: Sendable, Equatable {
    public var foundation: String
    public var component: Int
    /// `udp` or `tcp`, lowercased.
    public var transport: String
    public var priority: UInt32
    public var address: String
    public var port: UInt16
    /// `host`, `srflx`, `prflx` or `relay`.
    public var type: String

    /// Parses the value of `a=candidate:` (with or without the `candidate:` prefix a trickle
    /// message carries).
    public static func parse(_ text: String) throws(ICECandidateLineError) -> ICECandidateLine {
        var value = Substring(text)
        if value.hasPrefix("candidate:") { value = value.dropFirst("candidate:".count) }
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 8 else { throw .tooFewFields(fields.count) }
        guard let component = Int(fields[1]), (1...256).contains(component) else { throw .badComponent(String(fields[1])) }
        guard let priority = UInt32(fields[3]) else { throw .badPriority(String(fields[3])) }
        guard let port = UInt16(fields[5]) else { throw .badPort(String(fields[5])) }
        guard fields[6] == "typ" else { throw .missingTyp(String(fields[6])) }
        return ICECandidateLine(foundation: String(fields[0]), component: component, transport: fields[2].lowercased(),
                                priority: priority, address: String(fields[4]), port: port, type: String(fields[7]))
    }

    /// The transport address when this is an IPv4 UDP candidate for RTP (component 1), the
    /// only kind a synthetic peer on loopback or a LAN uses.
    public var udpIPv4Address: TransportAddress? {
        guard transport == "udp", component == 1 else { return nil }
        let octets = address.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4, address.split(separator: ".", omittingEmptySubsequences: false).count == 4 else { return nil }
        return TransportAddress(address: octets, port: port)
    }
}

extension SessionDescription {
    /// The UDP IPv4 RTP candidates of the bundled transport (the first media section, RFC
    /// 8843 §7.1, else session level), highest priority first.
    public var udpIPv4Candidates: [TransportAddress] {
        let values = (media.first?.candidates ?? []) + attributes.filter { $0.name == "candidate" }.compactMap(\.value)
        return values.compactMap { try? ICECandidateLine.parse($0) }
            .filter { $0.udpIPv4Address != nil }
            .sorted { $0.priority > $1.priority }
            .compactMap(\.udpIPv4Address)
    }
}
