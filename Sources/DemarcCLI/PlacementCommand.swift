import ArgumentParser
import Foundation
import Placement
import Residency

struct PlacementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement", abstract: "Ask where a meeting would run.", subcommands: [Explain.self])

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place a meeting on a topology under a policy and explain every choice and exclusion.",
            discussion: "Exits 0 with a placement, 1 when the policy, topology or participants are invalid, 2 when no compliant placement exists.")

        @Option(help: "Topology file (regions, nodes, latency matrix).") var topology: String
        @Option(help: "Residency policy file.") var policy: String
        @Option(help: "Participants file.") var participants: String
        @Option(help: "Jurisdiction catalog (default: Topologies/jurisdictions.yaml).") var jurisdictions: String?
        @Option(help: "Node ids to treat as lost, then show the re-placement (comma-separated).") var fail: String?
        @Flag(help: "Print JSON instead of tables.") var json = false

        func run() throws {
            let catalog = try InputFiles.catalog(jurisdictions)
            let topo: Topology, pol: ResidencyPolicy, parts: [Participant]
            do {
                topo = try Topology.parse(try InputFiles.read(topology, what: "topology"), file: topology, catalog: catalog)
                pol = try PolicyParser(catalog: catalog).parse(try InputFiles.read(policy, what: "policy"), file: policy)
                parts = try ParticipantsFile.parse(try InputFiles.read(participants, what: "participants"), file: participants, catalog: catalog)
            } catch let e as ConfigError {
                printError(e.description)
                throw ExitCode(1)
            }
            let engine = PlacementEngine(catalog: catalog)
            var output = ExplainOutput(topology: topo.name, placement: nil, replacement: nil, error: nil)
            var text: [String] = []
            let view: ClusterView
            switch Result(catching: { () throws(PlacementError) in try topo.clusterView() }) {
            case .success(let v): view = v
            case .failure(let e):
                printError("topology \(topology): \(e)")
                throw ExitCode(1)
            }
            switch Result(catching: { () throws(PlacementError) in try engine.place(parts, policy: pol, in: view) }) {
            case .failure(let e):
                output.error = ErrorJSON(e)
                text.append("REFUSED — \(e)\n" + DecisionTable.renderExclusions(e))
            case .success(let decision):
                output.placement = DecisionJSON(decision)
                text.append(DecisionTable.render(decision, view: view, title: "Placement on \(topo.name.isEmpty ? topology : topo.name)"))
                if let fail {
                    let lost = Set(fail.split(separator: ",").map { NodeID(String($0).trimmingCharacters(in: .whitespaces)) })
                    let unknown = lost.filter { view.node($0) == nil }
                    guard unknown.isEmpty else { throw ValidationError("--fail names unknown nodes: \(unknown.map(\.rawValue).sorted().joined(separator: ", "))") }
                    let names = lost.map(\.rawValue).sorted().joined(separator: ", ")
                    let outcome = Result(catching: { () throws(PlacementError) in
                        try engine.replace(decision, participants: parts, policy: pol, in: try view.removing(lost))
                    })
                    switch outcome {
                    case .success(let again):
                        output.replacement = DecisionJSON(again)
                        text.append(DecisionTable.render(again, view: view, title: "After losing \(names)"))
                    case .failure(let e):
                        output.error = ErrorJSON(e)
                        text.append("After losing \(names): REFUSED — \(e)\n" + DecisionTable.renderExclusions(e))
                    }
                }
            }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(output), as: UTF8.self))
            } else {
                print(text.joined(separator: "\n\n"))
            }
            if output.error != nil { throw ExitCode(2) }
        }
    }
}

/// Human-readable tables of a decision.
enum DecisionTable {
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    static func ms(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "?" }

    static func render(_ d: PlacementDecision, view: ClusterView, title: String) -> String {
        var out = ["\(title): \(d.shape.rawValue) on \(d.nodes.count) node\(d.nodes.count == 1 ? "" : "s"), home \(d.home) — tenant \(d.tenant), policy v\(d.policyVersion)"]
        out.append("")
        out.append("  " + pad("PARTICIPANT", 14) + pad("EDGE", 10) + pad("REGION", 16) + pad("JUR", 5) + pad("RTT ms", 8) + "ESTIMATED FROM")
        for a in d.assignments {
            out.append("  " + pad(a.participant, 14) + pad(a.edge.rawValue, 10) + pad(a.region.rawValue, 16) + pad(a.jurisdiction.rawValue, 5)
                       + pad(ms(a.estimatedRTTMilliseconds), 8) + a.latencySource.rawValue)
        }
        if !d.relayTree.isEmpty {
            out.append("")
            out.append("  Relay tree (from home \(d.home)):")
            for l in d.relayTree { out.append("    \(l.parent) → \(l.child)   \(ms(l.rttMilliseconds)) ms RTT") }
        }
        if !d.moves.isEmpty {
            out.append("")
            out.append("  Moved:")
            for m in d.moves { out.append("    \(m.participant): \(m.from) → \(m.to)") }
        }
        out.append("")
        out.append("  Estimated one-way mouth-to-ear latency: mean \(ms(d.meanPairLatencyMilliseconds)) ms, worst \(ms(d.maxPairLatencyMilliseconds)) ms")
        let ex = d.exclusions
        out.append("")
        out.append("  Excluded nodes (\(ex.count)):" + (ex.isEmpty ? " none" : ""))
        out.append(contentsOf: exclusionLines(ex))
        return out.joined(separator: "\n")
    }

    static func exclusionLines(_ ex: [NodeExclusion]) -> [String] {
        ex.map { "    " + pad($0.node.rawValue, 10) + pad($0.region.rawValue, 16) + pad($0.jurisdiction.rawValue, 4) + summary($0) }
    }

    /// One line per node: policy refusals grouped ("policy allows no media, signaling in GB"), then the rest.
    static func summary(_ e: NodeExclusion) -> String {
        var denied: [String] = []
        var other: [String] = []
        for r in e.reasons {
            if case let .jurisdictionNotAllowed(category, _) = r { denied.append(category.rawValue) } else { other.append(r.explanation) }
        }
        let policy = denied.isEmpty ? [] : ["policy does not allow \(denied.joined(separator: ", ")) in \(e.jurisdiction)"]
        return (policy + other).joined(separator: "; ")
    }

    static func renderExclusions(_ e: PlacementError) -> String {
        switch e {
        case let .noCompliantNode(_, _, ex), let .insufficientCapacity(_, _, ex):
            return (["  Excluded nodes (\(ex.count)):"] + exclusionLines(ex)).joined(separator: "\n")
        default: return ""
        }
    }
}

struct ExplainOutput: Encodable {
    var topology: String
    var placement: DecisionJSON?
    var replacement: DecisionJSON?
    var error: ErrorJSON?
}

struct ExclusionJSON: Encodable {
    struct Reason: Encodable { let code: String; let explanation: String }
    let node: String, region: String, jurisdiction: String
    let reasons: [Reason]
    init(_ e: NodeExclusion) {
        node = e.node.rawValue; region = e.region.rawValue; jurisdiction = e.jurisdiction.rawValue
        reasons = e.reasons.map { Reason(code: $0.code, explanation: $0.explanation) }
    }
}

struct ErrorJSON: Encodable {
    let code: String
    let message: String
    let exclusions: [ExclusionJSON]
    init(_ e: PlacementError) {
        code = e.code
        message = e.description
        switch e {
        case let .noCompliantNode(_, _, ex), let .insufficientCapacity(_, _, ex): exclusions = ex.map(ExclusionJSON.init)
        default: exclusions = []
        }
    }
}

struct DecisionJSON: Encodable {
    struct Assignment: Encodable {
        let participant: String, edge: String, region: String, jurisdiction: String
        let estimatedRTTMilliseconds: Double?
        let latencySource: String
    }
    struct Link: Encodable { let parent: String, child: String; let rttMilliseconds: Double }
    struct Move: Encodable { let participant: String, from: String, to: String }
    let tenant: String
    let policyVersion: Int
    let shape: String
    let home: String
    let nodes: [String]
    let assignments: [Assignment]
    let relayTree: [Link]
    let meanPairLatencyMilliseconds: Double
    let maxPairLatencyMilliseconds: Double
    let moves: [Move]
    let exclusions: [ExclusionJSON]

    init(_ d: PlacementDecision) {
        tenant = d.tenant; policyVersion = d.policyVersion; shape = d.shape.rawValue; home = d.home.rawValue
        nodes = d.nodes.map(\.rawValue)
        assignments = d.assignments.map {
            Assignment(participant: $0.participant, edge: $0.edge.rawValue, region: $0.region.rawValue, jurisdiction: $0.jurisdiction.rawValue,
                       estimatedRTTMilliseconds: $0.estimatedRTTMilliseconds.map { ($0 * 10).rounded() / 10 }, latencySource: $0.latencySource.rawValue)
        }
        relayTree = d.relayTree.map { Link(parent: $0.parent.rawValue, child: $0.child.rawValue, rttMilliseconds: $0.rttMilliseconds) }
        meanPairLatencyMilliseconds = (d.meanPairLatencyMilliseconds * 10).rounded() / 10
        maxPairLatencyMilliseconds = (d.maxPairLatencyMilliseconds * 10).rounded() / 10
        moves = d.moves.map { Move(participant: $0.participant, from: $0.from.rawValue, to: $0.to.rawValue) }
        exclusions = d.exclusions.map(ExclusionJSON.init)
    }
}
