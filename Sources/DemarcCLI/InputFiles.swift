import ArgumentParser
import Foundation
import Residency
import DemarcNode

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
        do { return try NodeSetup.locate(explicit, env: "DEMARC_JURISDICTIONS", file: "jurisdictions.yaml") } catch {
            throw ValidationError("\(error). Pass --jurisdictions FILE")
        }
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
