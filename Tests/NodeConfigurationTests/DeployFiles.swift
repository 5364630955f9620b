import Foundation
import Yams

/// The repository's `Deploy/` tree as the deployment tests see it.
enum DeployFiles {
    /// The package root: this file is `Tests/NodeConfigurationTests/DeployFiles.swift`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let deploy = root.appendingPathComponent("Deploy")

    /// Every `.yaml`/`.yml` file under `Deploy/`, as paths relative to the package root, sorted.
    static func yamlFiles(under folder: String = "Deploy") -> [String] {
        let base = root.appendingPathComponent(folder).resolvingSymlinksInPath()
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var found: [String] = []
        for case let url as URL in walker where ["yaml", "yml"].contains(url.pathExtension) {
            let path = url.resolvingSymlinksInPath().path
            guard path.hasPrefix(base.path + "/") else { continue }
            found.append(folder + "/" + path.dropFirst(base.path.count + 1))
        }
        return found.sorted()
    }

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// Every document of a (multi-document) YAML file, mappings with String keys.
    static func documents(_ relativePath: String) throws -> [Any] {
        var sequence = try Yams.load_all(yaml: try text(relativePath))
        var documents: [Any] = []
        while let document = sequence.next() { documents.append(normalized(document)) }
        if let error = sequence.error { throw error }
        return documents
    }

    /// Yams builds mappings as `[AnyHashable: Any]`; the tests read `[String: Any]`.
    static func normalized(_ value: Any) -> Any {
        switch value {
        case let m as [AnyHashable: Any]:
            var out: [String: Any] = [:]
            for (k, v) in m { out["\(k.base)"] = normalized(v) }
            return out
        case let a as [Any]:
            return a.map(normalized)
        default:
            return value
        }
    }
}

/// Loose accessors over what Yams loads (`[String: Any]`, `[Any]`, scalars).
extension Optional where Wrapped == Any {
    subscript(_ key: String) -> Any? {
        (self as? [String: Any])?[key]
    }
    var list: [Any] { (self as? [Any]) ?? [] }
    var text: String? {
        switch self {
        case let s as String: s
        case let i as Int: String(i)
        case let b as Bool: String(b)
        default: nil
        }
    }
    var int: Int? {
        switch self {
        case let i as Int: i
        case let s as String: Int(s)
        default: nil
        }
    }
    var mapping: [String: Any]? { self as? [String: Any] }
}
