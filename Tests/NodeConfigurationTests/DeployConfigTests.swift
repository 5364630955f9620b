import Foundation
import NodeConfiguration
import Residency
import Testing

/// Every YAML file under `Deploy/` is either a node config that `NodeConfig.parse`
/// accepts or a Kubernetes manifest (checked by `DeployManifestTests`), so the
/// examples operators copy can never drift from what the node reads.
@Suite struct DeployConfigTests {
    static let manifestFolder = "Deploy/kubernetes/"

    /// The YAML files under Deploy/ that are not Kubernetes manifests: all must be node configs.
    static let nodeConfigFiles = DeployFiles.yamlFiles().filter { !$0.hasPrefix(manifestFolder) }

    @Test func theExamplesAreFound() {
        // If discovery broke, the parsing test below would pass vacuously.
        for expected in ["Deploy/node.example.yaml", "Deploy/nodes/fra-1.yaml", "Deploy/nodes/dub-1.yaml", "Deploy/nodes/zrh-1.yaml"] {
            #expect(Self.nodeConfigFiles.contains(expected), "\(expected) not found under \(DeployFiles.deploy.path)")
        }
    }

    @Test(arguments: DeployConfigTests.nodeConfigFiles)
    func everyNodeConfigParses(_ file: String) throws {
        let text = try DeployFiles.text(file)
        do {
            let config = try NodeConfig.parse(text, file: file)
            #expect(!config.gossip.seeds.isEmpty, "\(file): a node with no seeds joins nothing")
            #expect(config.tokens.issuerKeyPath.hasPrefix("/") && config.gossip.keyringPath.hasPrefix("/") && config.node.keyPath.hasPrefix("/"),
                    "\(file): examples use absolute paths (a relative one depends on where the file is installed)")
            if case let .sqlite(path) = config.store { #expect(path.hasPrefix("/"), "\(file): store.path must be absolute") }
            // Both catalogs named, so a node never depends on the search path (every node must use the same files).
            #expect(config.trust.jurisdictionsPath?.hasPrefix("/") == true, "\(file): name the jurisdiction catalog (trust.jurisdictions)")
            #expect(config.trust.regionsPath?.hasPrefix("/") == true, "\(file): name the region catalog (trust.regions)")
            if let media = config.media {
                #expect(media.bind.port > 1023, "\(file): the unit has no capabilities: media.bind must be above 1023")
                #expect(media.bind.port != config.gossip.bind.port, "\(file): gossip already uses UDP on \(config.gossip.bind.port)")
            }
        } catch {
            Issue.record("\(file) does not parse:\n\(error.errors.map { "  \($0)" }.joined(separator: "\n"))")
        }
    }

    /// Deploy/nodes/NAME.yaml configures node NAME of Topologies/europe.yaml, in that node's region.
    @Test func perNodeConfigsMatchTheEuropeTopology() throws {
        let topology = try DeployFiles.documents("Topologies/europe.yaml").first
        var regionOf: [String: String] = [:]
        for node in (topology as Any?)["nodes"].list {
            if let id = (node as Any?)["id"].text, let region = (node as Any?)["region"].text { regionOf[id] = region }
        }
        #expect(!regionOf.isEmpty)
        let files = Self.nodeConfigFiles.filter { $0.hasPrefix("Deploy/nodes/") }
        #expect(files.count >= 3)
        for file in files {
            let config = try NodeConfig.parse(try DeployFiles.text(file), file: file)
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            #expect(config.node.id == name, "\(file) configures node '\(config.node.id)'; name the file after it")
            #expect(regionOf[config.node.id] == config.node.region,
                    "\(file): Topologies/europe.yaml has \(config.node.id) in \(regionOf[config.node.id] ?? "no region"), not \(config.node.region)")
            #expect(!config.gossip.seeds.contains(where: { $0.host == "0.0.0.0" }))
        }
    }
}
