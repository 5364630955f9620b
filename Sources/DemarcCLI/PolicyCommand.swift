import ArgumentParser
import Foundation
import Residency

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Work with tenant residency policies.", subcommands: [Validate.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a residency policy (YAML or JSON); print every problem with its line and a fix.",
            discussion: "Exits 0 when the policy is valid (warnings may still be printed), 1 when it has errors.")

        @Argument(help: "The policy file.") var file: String
        @Option(help: "Jurisdiction catalog (default: Topologies/jurisdictions.yaml).") var jurisdictions: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let catalog = try InputFiles.catalog(jurisdictions)
            let text = try InputFiles.read(file, what: "policy")
            let result = PolicyParser(catalog: catalog).check(text, file: file)
            if json {
                print(try PolicyReport(result).json())
            } else {
                for p in result.problems { print(p) }
                if let policy = result.policy {
                    print("\(file): valid — tenant \(policy.tenant), version \(policy.version)\(result.warnings.isEmpty ? "" : ", \(result.warnings.count) warning\(result.warnings.count == 1 ? "" : "s")")")
                    print(PolicySummary.render(policy))
                } else {
                    print("\(file): invalid — \(result.errors.count) error\(result.errors.count == 1 ? "" : "s"), \(result.warnings.count) warning\(result.warnings.count == 1 ? "" : "s")")
                }
            }
            if result.policy == nil { throw ExitCode(1) }
        }
    }
}

/// A table of what a valid policy allows, as `policy validate` prints it.
enum PolicySummary {
    static func render(_ policy: ResidencyPolicy) -> String {
        var lines = ["  e2ee: \(policy.e2ee.rawValue)   recordings: \(policy.recordings.rawValue)   guests: \(policy.participants.guests.rawValue)   domains: \(policy.participants.domains.isEmpty ? "any" : policy.participants.domains.joined(separator: ", "))"]
        for c in DataCategory.allCases {
            let r = policy.rule(c)
            if c == .recordings, policy.recordings == .disabled {
                lines.append("  \(c.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) disabled")
                continue
            }
            let expr = r.allowExpression.joined(separator: ", ") + (r.denyExpression.isEmpty ? "" : " minus " + r.denyExpression.joined(separator: ", "))
            let retention = r.retention.map { "  retain \($0)" } ?? ""
            lines.append("  \(c.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(expr.isEmpty ? "nowhere" : expr) (\(r.allowed.count) jurisdiction\(r.allowed.count == 1 ? "" : "s"))\(retention)")
        }
        return lines.joined(separator: "\n")
    }
}

struct PolicyReport: Encodable {
    struct Problem: Encodable {
        let severity: String, file: String, line: Int, column: Int, field: String, message: String, fix: String
    }
    let valid: Bool
    let tenant: String?
    let version: Int?
    let problems: [Problem]

    init(_ r: PolicyParser.Result) {
        valid = r.policy != nil
        tenant = r.policy?.tenant
        version = r.policy?.version
        problems = r.problems.map {
            Problem(severity: $0.severity.rawValue, file: $0.location.file, line: $0.location.line, column: $0.location.column,
                    field: $0.field, message: $0.message, fix: $0.fix)
        }
    }

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}
