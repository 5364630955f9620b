import ArgumentParser
import MediaLoadTest

/// `demarc`: run nodes, manage keys and certificates, check policies, explain placements.
@main
struct Demarc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demarc",
        abstract: "A multi-region SFU cluster that keeps each meeting inside the jurisdictions its tenant allows.",
        version: DemarcVersion.current,
        subcommands: [
            PolicyCommand.self,
            PlacementCommand.self,
            OperatorCommand.self,
            NodeCommand.self,
            SimulateCommand.self,
            TransparencyCommand.self,
            TokenCommand.self,
            KeyringCommand.self,
            ClusterCommand.self,
            LoadtestCommand.self,
        ]
    )
}

enum DemarcVersion {
    static let current = "0.1.0"
}
