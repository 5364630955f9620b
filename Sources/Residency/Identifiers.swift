/// An ISO 3166-1 alpha-2 country code such as `DE`, `GB`, `HK`.
/// Construction checks the shape (two ASCII capitals); whether the code is
/// assigned is checked against a `JurisdictionCatalog`.
public struct CountryCode: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// nil unless `text` is exactly two ASCII capital letters.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 2, u.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return nil }
        rawValue = text
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = CountryCode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 3166-1 alpha-2 code"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A name that is just a string with a meaning: region and node ids.
public protocol StringIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, Codable {
    var rawValue: String { get }
    init(_ rawValue: String)
}

extension StringIdentifier {
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A site where nodes run, e.g. `eu-de-fra`.
public struct RegionID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// One SFU node's identity within a cluster, e.g. `fra-1`.
public struct NodeID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}
