import ArgumentParser
import Foundation
import Residency

/// Reading the files the CLI is given, with errors that say which file and why.
enum InputFiles {
    static func read(_ path: String, what: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(what) file '\(path)' does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(what) file '\(path)' (permissions?)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Finds the jurisdiction catalog: the explicit path, `$DEMARC_JURISDICTIONS`,
    /// `./Topologies/jurisdictions.yaml`, the source tree next to the binary
    /// (`.build/<config>/demarc` → `../../Topologies`), or `/usr/share/demarc/`.
    static func catalogPath(_ explicit: String?) throws -> String {
        if let explicit { return explicit }
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["DEMARC_JURISDICTIONS"] { candidates.append(env) }
        candidates.append("Topologies/jurisdictions.yaml")
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../../Topologies/jurisdictions.yaml").standardized.path)
        candidates.append(exe.appendingPathComponent("../../../Topologies/jurisdictions.yaml").standardized.path)
        candidates.append("/usr/share/demarc/jurisdictions.yaml")
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw ValidationError("cannot find the jurisdiction catalog; looked in: \(candidates.joined(separator: ", ")). Pass --jurisdictions FILE")
    }

    static func catalog(_ explicit: String?) throws -> JurisdictionCatalog {
        let path = try catalogPath(explicit)
        do { return try JurisdictionCatalog.parse(try read(path, what: "jurisdiction catalog"), file: path) } catch let e as ConfigError {
            throw ValidationError("the jurisdiction catalog is invalid:\n\(e)")
        }
    }
}

/// Writes to standard error (diagnostics and progress; results go to stdout).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
