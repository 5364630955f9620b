public import Foundation
public import Residency

/// Paths into the source tree, for tests that read the shipped data files.
public enum Fixtures {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    public static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    /// The shipped jurisdiction catalog (Topologies/jurisdictions.yaml), parsed once.
    public static let catalog: JurisdictionCatalog = {
        do { return try JurisdictionCatalog.parse(try text("Topologies/jurisdictions.yaml"), file: "jurisdictions.yaml") } catch {
            fatalError("the shipped jurisdiction catalog does not parse: \(error)")
        }
    }()
}
