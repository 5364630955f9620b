import ArgumentParser
import Foundation
import Gossip
import GossipSimulation

/// `demarc simulate`: deterministic simulations of cluster subsystems.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate", abstract: "Run deterministic simulations of the cluster's protocols.",
        subcommands: [Gossip.self])

    struct Gossip: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gossip",
            abstract: "Simulate the SWIM/Lifeguard gossip control plane on an in-memory network.",
            discussion: """
            Starts a converged cluster of N members, observes it in steady state, changes one member's \
            state, then crashes K members, and prints: time for the change to reach every member, time \
            from a crash to the first suspicion and until every member marks it dead, false positives, and \
            bytes sent per member per second. The run is deterministic for a given seed. Progress goes to \
            stderr; results to stdout.
            """)

        @Option(help: "Number of members.") var nodes: Int = 100
        @Option(help: "Probability that any one datagram is lost (0...1, or a percentage such as 5%).") var loss: String = "0"
        @Option(help: "Seed for every random choice of the run.") var seed: UInt64 = 1
        @Option(help: "Simulated seconds of steady state to observe before the change and crashes.") var duration: Double = 30
        @Option(help: "Members to crash at once after the steady state.") var crash: Int = 1
        @Option(help: "Simulated seconds to watch after the crashes.") var observe: Double = 30
        @Option(help: "Protocol period in milliseconds (default: the built-in setting).") var probeInterval: Int?
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard nodes >= 2 else { throw ValidationError("--nodes must be at least 2 (got \(nodes))") }
            guard parsedLoss != nil else { throw ValidationError("--loss must be a probability in 0...1 or a percentage like 5% (got '\(loss)')") }
            guard duration > 0, observe > 0 else { throw ValidationError("--duration and --observe must be positive") }
            guard crash >= 0, crash <= max(0, nodes - 3) else {
                throw ValidationError("--crash must be between 0 and nodes − 3 = \(max(0, nodes - 3)) (the first three members are seeds)")
            }
        }

        var parsedLoss: Double? {
            let text = loss.trimmingCharacters(in: .whitespaces)
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            guard let value, (0...1).contains(value) else { return nil }
            return value
        }

        func run() throws {
            var scenario = GossipScenario(nodeCount: nodes, lossRate: parsedLoss ?? 0, seed: seed)
            scenario.steadyDuration = .milliseconds(Int64(duration * 1000))
            scenario.crashObservation = .milliseconds(Int64(observe * 1000))
            scenario.crashCount = crash
            if let probeInterval { scenario.gossip.probing.interval = .milliseconds(probeInterval) }
            let started = ContinuousClock.now
            let report = try scenario.run { line in
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            let wall = (ContinuousClock.now - started)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(Self.render(report, wallSeconds: Double(wall.components.seconds)))
            }
        }

        static func render(_ r: GossipScenarioReport, wallSeconds: Double) -> String {
            func s(_ v: Double?) -> String { v.map { String(format: "%.2f s", $0) } ?? "not reached" }
            var lines = [
                "gossip simulation: \(r.nodes) members, \(String(format: "%.1f", r.lossRate * 100)) % loss, seed \(r.seed)",
                "  state change reached every member in   \(s(r.stateChangeConvergenceSeconds))",
            ]
            for c in r.crashes {
                lines.append("  crash of \(c.nodeID): first suspicion after \(s(c.firstSuspicionSeconds)), dead everywhere after \(s(c.allDeadSeconds))")
            }
            lines += [
                "  false positives (live members declared dead): \(r.falsePositives) (\(String(format: "%.3f", r.falsePositivesPerMemberHour)) per member-hour)",
                "  false suspicions (refuted): \(r.falseSuspicions)",
                "  bytes sent per member: \(String(format: "%.0f", r.steadyBytesPerSecondPerMember)) B/s steady (push-pull \(String(format: "%.0f", r.steadyPushPullBytesPerSecondPerMember))), \(String(format: "%.0f", r.churnBytesPerSecondPerMember)) B/s while churning",
                "  packets dropped by authentication/replay checks: \(r.packetsDropped)",
                "  \(String(format: "%.0f", r.simulatedSeconds)) s simulated in \(String(format: "%.0f", wallSeconds)) s",
            ]
            return lines.joined(separator: "\n")
        }
    }
}
