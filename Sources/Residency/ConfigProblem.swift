/// Where in a file something was found. Lines and columns start at 1.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One thing wrong (or worth a warning) in a policy, topology or other input file:
/// what, where (file, line, field path), and how to fix it.
public struct ConfigProblem: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable, Codable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation
    /// Dotted path to the field, e.g. `categories.media.allow[2]`.
    public var field: String
    public var message: String
    /// What to change; empty when there is nothing sensible to suggest.
    public var fix: String

    public init(_ severity: Severity, _ location: SourceLocation, field: String, _ message: String, fix: String = "") {
        self.severity = severity
        self.location = location
        self.field = field
        self.message = message
        self.fix = fix
    }

    public var description: String {
        var s = "\(location): \(severity.rawValue): \(field.isEmpty ? "" : field + ": ")\(message)"
        if !fix.isEmpty { s += "\n    fix: \(fix)" }
        return s
    }
}

/// An input file could not be used; carries every problem found (not just the first).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) { self.problems = problems }

    public var errors: [ConfigProblem] { problems.filter { $0.severity == .error } }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Levenshtein distance, for "did you mean" suggestions on short names.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The closest candidate to `word` within `maxDistance` edits (ties: alphabetical), if any.
public func closest(to word: String, in candidates: some Sequence<String>, maxDistance: Int = 2) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(word.lowercased(), c.lowercased())
        guard d <= maxDistance else { continue }
        if best == nil || d < best!.1 || (d == best!.1 && c < best!.0) { best = (c, d) }
    }
    return best?.0
}
