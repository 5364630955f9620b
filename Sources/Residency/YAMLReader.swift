public import Yams

/// Reads a YAML (or JSON, which we read as YAML flow syntax) document into
/// Yams nodes that keep their line and column, and walks it while collecting
/// `ConfigProblem`s instead of stopping at the first.
///
/// Hardening for untrusted input: a size limit, a nesting-depth pre-scan
/// (Yams composes recursively, so `[[[[…` or `- - - …` a million deep would
/// overflow the stack), and a node budget while walking (alias bombs).
public struct YAMLReader {
    public static let maximumBytes = 1 << 20
    public static let maximumDepth = 64
    static let nodeBudget = 200_000

    public let file: String
    public private(set) var problems: [ConfigProblem] = []
    private var budget = YAMLReader.nodeBudget

    public init(file: String) { self.file = file }

    /// Parses `text`; on a syntax error records a problem and returns nil.
    public mutating func parse(_ text: String) -> Node? {
        if text.utf8.count > Self.maximumBytes {
            problems.append(.init(.error, .init(file: file, line: 1, column: 1), field: "",
                                  "file is \(text.utf8.count) bytes; the limit is \(Self.maximumBytes)", fix: "split or shorten the file"))
            return nil
        }
        if let (line, depth) = Self.excessiveNesting(text) {
            problems.append(.init(.error, .init(file: file, line: line, column: 1), field: "",
                                  "nesting is deeper than \(Self.maximumDepth) levels (\(depth))", fix: "flatten the structure"))
            return nil
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                problems.append(.init(.error, .init(file: file, line: 1, column: 1), field: "", "the file is empty",
                                      fix: "write the document; see docs/policy-reference.md"))
                return nil
            }
            return node
        } catch let error as YamlError {
            problems.append(Self.problem(from: error, file: file))
            return nil
        } catch {
            problems.append(.init(.error, .init(file: file, line: 1, column: 1), field: "", "cannot parse: \(error)"))
            return nil
        }
    }

    static func problem(from error: YamlError, file: String) -> ConfigProblem {
        func loc(_ mark: Mark?) -> SourceLocation { .init(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1) }
        switch error {
        case let .scanner(context, problem, mark, _):
            return .init(.error, loc(mark), field: "", "syntax error: \(problem)\(context.map { " (\($0.text))" } ?? "")",
                         fix: "check indentation, quotes and brackets near this line")
        case let .parser(context, problem, mark, _):
            return .init(.error, loc(mark), field: "", "syntax error: \(problem)\(context.map { " (\($0.text))" } ?? "")",
                         fix: "check indentation, quotes and brackets near this line")
        case let .composer(context, problem, mark, _):
            return .init(.error, loc(mark), field: "", "\(problem)\(context.map { " (\($0.text))" } ?? "")")
        case let .duplicatedKeysInMapping(duplicates, context):
            return .init(.error, loc(context.mark), field: duplicates.joined(separator: ", "),
                         "duplicate key '\(duplicates.joined(separator: "', '"))' in one mapping", fix: "keep one entry per key")
        case let .reader(problem, offset, value, _):
            return .init(.error, loc(nil), field: "", "unreadable input: \(problem) at byte \(offset ?? 0) (value \(value))",
                         fix: "save the file as UTF-8 text")
        default:
            return .init(.error, loc(nil), field: "", "cannot parse: \(error)")
        }
    }

    /// A conservative scan for nesting depth before handing text to the recursive composer.
    /// Counts flow brackets outside quotes, and compact block indicators (`- - -`, `? ? ?`).
    static func excessiveNesting(_ text: String) -> (line: Int, depth: Int)? {
        var depth = 0, line = 1
        var quote: UInt8? = nil
        var atLineStart = true, compact = 0, inComment = false
        for c in text.utf8 {
            if c == 10 { line += 1; atLineStart = true; compact = 0; inComment = false; if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { /* multi-line quoted */ }; continue }
            if inComment { continue }
            if let q = quote { if c == q { quote = nil }; continue }
            switch c {
            case UInt8(ascii: "#"): inComment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = c; atLineStart = false
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1; atLineStart = false
                if depth > maximumDepth { return (line, depth) }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1); atLineStart = false
            case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                if atLineStart { compact += 1; if compact > maximumDepth { return (line, compact) } }
            case UInt8(ascii: " "), 9: break
            default: atLineStart = false
            }
        }
        return nil
    }

    // MARK: Walking

    public func location(_ node: Node) -> SourceLocation {
        .init(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    public mutating func error(_ node: Node, _ field: String, _ message: String, fix: String = "") {
        problems.append(.init(.error, location(node), field: field, message, fix: fix))
    }

    public mutating func warning(_ node: Node, _ field: String, _ message: String, fix: String = "") {
        problems.append(.init(.warning, location(node), field: field, message, fix: fix))
    }

    /// Spends one unit of the node budget; false (with a problem recorded once) when exhausted.
    mutating func spend(_ node: Node) -> Bool {
        budget -= 1
        if budget == 0 { error(node, "", "document has too many nodes (limit \(Self.nodeBudget)); aliases expanding?", fix: "remove YAML anchors and aliases") }
        return budget > 0
    }

    /// The entries of a mapping, in order, checking for duplicate and unknown keys.
    /// Returns nil (with a problem) when `node` is not a mapping.
    public mutating func mapping(_ node: Node, _ field: String, allowed: [String]? = nil) -> [(key: String, keyNode: Node, value: Node)]? {
        guard spend(node) else { return nil }
        guard case let .mapping(m) = node else {
            error(node, field, "expected a mapping (key: value lines), found \(Self.kind(node))")
            return nil
        }
        var seen: [String: Node] = [:]
        var out: [(String, Node, Node)] = []
        for (k, v) in m {
            guard let key = k.scalar?.string else {
                error(k, field, "keys must be plain names, found \(Self.kind(k))")
                continue
            }
            let path = field.isEmpty ? key : "\(field).\(key)"
            if let first = seen[key] {
                error(k, path, "duplicate key (first at line \(first.mark?.line ?? 0))", fix: "keep one '\(key)' entry")
                continue
            }
            seen[key] = k
            if let allowed, !allowed.contains(key) {
                let hint = closest(to: key, in: allowed).map { "did you mean '\($0)'? " } ?? ""
                error(k, path, "unknown key '\(key)'", fix: "\(hint)allowed keys here: \(allowed.joined(separator: ", "))")
                continue
            }
            out.append((key, k, v))
        }
        return out
    }

    /// A scalar's text, or nil with a problem.
    public mutating func string(_ node: Node, _ field: String) -> String? {
        guard spend(node) else { return nil }
        guard let s = node.scalar?.string else {
            error(node, field, "expected a single value, found \(Self.kind(node))")
            return nil
        }
        return s
    }

    /// Strings from a sequence (a single scalar is accepted as a one-element list).
    public mutating func strings(_ node: Node, _ field: String) -> [(String, Node)]? {
        guard spend(node) else { return nil }
        if let s = node.scalar?.string {
            return s.isEmpty ? [] : [(s, node)]
        }
        guard case let .sequence(seq) = node else {
            error(node, field, "expected a list like [A, B], found \(Self.kind(node))")
            return nil
        }
        var out: [(String, Node)] = []
        for (i, item) in seq.enumerated() {
            if let s = string(item, "\(field)[\(i)]") { out.append((s, item)) }
        }
        return out
    }

    public mutating func integer(_ node: Node, _ field: String, range: ClosedRange<Int>) -> Int? {
        guard let s = string(node, field) else { return nil }
        guard let v = Int(s), range.contains(v) else {
            error(node, field, "'\(s)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    public mutating func number(_ node: Node, _ field: String, range: ClosedRange<Double>) -> Double? {
        guard let s = string(node, field) else { return nil }
        guard let v = Double(s), v.isFinite, range.contains(v) else {
            error(node, field, "'\(s)' is not a number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    public mutating func sequence(_ node: Node, _ field: String) -> [Node]? {
        guard spend(node) else { return nil }
        guard case let .sequence(seq) = node else {
            error(node, field, "expected a list, found \(Self.kind(node))")
            return nil
        }
        return Array(seq)
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): "the value '\(s.string.prefix(40))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
