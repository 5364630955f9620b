/// Why an SDP document was rejected: the line (1-based) and what was wrong with it.
public struct SDPError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The document does not start with `v=0`.
        case missingVersion
        case unsupportedVersion(String)
        /// A line is not `<letter>=<value>`.
        case malformedLine
        /// The `o=` line does not have six fields.
        case malformedOrigin
        /// The `m=` line does not have `<media> <port> <proto> <fmt>...`.
        case malformedMediaLine
        /// A required line (`o=` or `s=`) is missing.
        case missingLine(Character)
    }

    public var line: Int
    public var reason: Reason

    public init(line: Int, reason: Reason) { self.line = line; self.reason = reason }

    public var description: String { "SDP line \(line): \(reason)" }
}

/// An `a=` line: a property attribute (`a=rtcp-mux`) has no value.
public struct SDPAttribute: Sendable, Equatable {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) { self.name = name; self.value = value }

    var line: String { value.map { "a=\(name):\($0)" } ?? "a=\(name)" }
}

/// A line other than `v=`, `o=`, `s=`, `m=` and `a=`, kept verbatim in document order.
public struct SDPField: Sendable, Equatable {
    public var type: Character
    public var value: String
    public init(_ type: Character, _ value: String) { self.type = type; self.value = value }
}

/// The `o=` line (RFC 8866 §5.2).
public struct SDPOrigin: Sendable, Equatable {
    public var username: String
    /// Kept as text: browsers send 64-bit values that need not fit Int.
    public var sessionID: String
    public var sessionVersion: String
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(username: String = "-", sessionID: String, sessionVersion: String = "2",
                networkType: String = "IN", addressType: String = "IP4", address: String = "127.0.0.1") {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }
}

/// An SDP session description (RFC 8866), as WebRTC uses it (JSEP, RFC 8829).
///
/// Parsing keeps every line, in order, so serializing a parsed description reproduces it
/// (modulo line endings, which are always written as CRLF). Typed views such as
/// ``MediaDescription/rtpMaps`` interpret the attributes on demand.
public struct SessionDescription: Sendable, Equatable {
    public var origin: SDPOrigin
    public var sessionName: String
    /// `i= u= e= p= c= b= t= r= z= k=` lines, in order.
    public var fields: [SDPField]
    public var attributes: [SDPAttribute]
    public var media: [MediaDescription]

    public init(origin: SDPOrigin, sessionName: String = "-", fields: [SDPField] = [SDPField("t", "0 0")],
                attributes: [SDPAttribute] = [], media: [MediaDescription] = []) {
        self.origin = origin
        self.sessionName = sessionName
        self.fields = fields
        self.attributes = attributes
        self.media = media
    }

    /// Parses `text`. Lines may end in CRLF or LF (RFC 8866 §5 asks for CRLF; be liberal).
    public static func parse(_ text: String) throws(SDPError) -> SessionDescription {
        var origin: SDPOrigin?
        var sessionName: String?
        var fields: [SDPField] = []
        var attributes: [SDPAttribute] = []
        var media: [MediaDescription] = []
        var sawVersion = false
        var lineNumber = 0
        var lastLine = 1
        // Split on bytes: in Swift "\r\n" is one Character, so a Character split would miss it.
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawLine
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            if bytes.isEmpty { continue }
            lastLine = lineNumber
            let line = Substring(bytes)
            let utf8 = Array(bytes.prefix(2))
            guard utf8.count == 2, utf8[1] == UInt8(ascii: "="), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(utf8[0]) else {
                throw SDPError(line: lineNumber, reason: .malformedLine)
            }
            let type = Character(Unicode.Scalar(utf8[0]))
            let value = String(line.dropFirst(2))
            if !sawVersion {
                guard type == "v" else { throw SDPError(line: lineNumber, reason: .missingVersion) }
                guard value == "0" else { throw SDPError(line: lineNumber, reason: .unsupportedVersion(value)) }
                sawVersion = true
                continue
            }
            switch type {
            case "o" where media.isEmpty:
                let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard parts.count == 6 else { throw SDPError(line: lineNumber, reason: .malformedOrigin) }
                origin = SDPOrigin(username: parts[0], sessionID: parts[1], sessionVersion: parts[2],
                                   networkType: parts[3], addressType: parts[4], address: parts[5])
            case "s" where media.isEmpty:
                sessionName = value
            case "m":
                guard let section = MediaDescription(mLine: value) else { throw SDPError(line: lineNumber, reason: .malformedMediaLine) }
                media.append(section)
            case "a":
                let attribute: SDPAttribute
                if let colon = value.firstIndex(of: ":") {
                    attribute = SDPAttribute(String(value[..<colon]), String(value[value.index(after: colon)...]))
                } else {
                    attribute = SDPAttribute(value)
                }
                if media.isEmpty { attributes.append(attribute) } else { media[media.count - 1].attributes.append(attribute) }
            default:
                if media.isEmpty { fields.append(SDPField(type, value)) } else { media[media.count - 1].fields.append(SDPField(type, value)) }
            }
        }
        guard sawVersion else { throw SDPError(line: lastLine, reason: .missingVersion) }
        guard let origin else { throw SDPError(line: lastLine, reason: .missingLine("o")) }
        guard let sessionName else { throw SDPError(line: lastLine, reason: .missingLine("s")) }
        return SessionDescription(origin: origin, sessionName: sessionName, fields: fields, attributes: attributes, media: media)
    }

    /// The description as SDP text with CRLF line endings.
    public func serialized() -> String {
        var lines = ["v=0"]
        lines.append("o=\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) \(origin.addressType) \(origin.address)")
        lines.append("s=\(sessionName)")
        lines.append(contentsOf: fields.map { "\($0.type)=\($0.value)" })
        lines.append(contentsOf: attributes.map(\.line))
        for section in media {
            lines.append("m=\(section.kind) \(section.port)\(section.portCount.map { "/\($0)" } ?? "") \(section.proto) \(section.formats.joined(separator: " "))")
            lines.append(contentsOf: section.fields.map { "\($0.type)=\($0.value)" })
            lines.append(contentsOf: section.attributes.map(\.line))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: Session-level views

    public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
    public func hasAttribute(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    /// `a=group` lines (RFC 5888), e.g. `BUNDLE 0 1` (RFC 8843).
    public var groups: [(semantics: String, mids: [String])] {
        attributes.filter { $0.name == "group" }.compactMap { attribute in
            let parts = (attribute.value ?? "").split(separator: " ").map(String.init)
            guard let semantics = parts.first else { return nil }
            return (semantics, Array(parts.dropFirst()))
        }
    }

    /// The mids of the first BUNDLE group, if any (RFC 8843 §7).
    public var bundleMids: [String]? { groups.first { $0.semantics == "BUNDLE" }?.mids }

    public var isICELite: Bool { hasAttribute("ice-lite") }

    /// The DTLS fingerprint for `section`: media-level if present, else session-level (RFC 8122 §5).
    public func fingerprint(for section: MediaDescription) -> SDPFingerprint? {
        section.fingerprint ?? attribute("fingerprint").flatMap(SDPFingerprint.init)
    }

    /// ICE credentials for `section`, falling back to session level (RFC 8839 §5.4).
    public func iceCredentials(for section: MediaDescription) -> (ufrag: String, password: String)? {
        guard let ufrag = section.attribute("ice-ufrag") ?? attribute("ice-ufrag"),
              let password = section.attribute("ice-pwd") ?? attribute("ice-pwd") else { return nil }
        return (ufrag, password)
    }

    public func media(mid: String) -> MediaDescription? { media.first { $0.mid == mid } }
}
