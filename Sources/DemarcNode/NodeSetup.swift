public import NodeConfiguration
import Residency
import Placement
import NodeTrust
import Gossip
import SodiumWrapper
import Foundation

/// Why a node refused to start. Each names the file or field and what to do.
public struct NodeStartupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Everything a node reads at start, read and checked once: keys, its certificate
/// (which must verify against a trusted operator key and match node.yaml), the
/// keyring, the jurisdiction and region catalogs.
public struct NodeSetup: Sendable {
    public let config: NodeConfig
    let nodeKey: Ed25519.PrivateKey
    let certificate: NodeCertificate
    let identity: VerifiedNodeIdentity
    let operators: [Ed25519.PublicKey]
    let catalog: JurisdictionCatalog
    let regions: Topology
    let keyring: Keyring
    let tokenKey: Ed25519.PrivateKey

    /// Reads `path` and everything it names (relative paths are resolved against the
    /// config file's directory).
    public static func load(configPath: String) throws(NodeStartupError) -> NodeSetup {
        let dir = URL(fileURLWithPath: configPath).deletingLastPathComponent().path
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : dir + "/" + p }
        func read(_ p: String, _ what: String) throws(NodeStartupError) -> String {
            guard let data = FileManager.default.contents(atPath: p) else {
                throw NodeStartupError("cannot read the \(what) '\(p)' (missing, or permissions)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        var config: NodeConfig
        do { config = try NodeConfig.parse(try read(configPath, "node config"), file: configPath) } catch let e as ConfigError {
            throw NodeStartupError("\(configPath) is invalid:\n\(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        config.node.keyPath = resolve(config.node.keyPath)
        config.node.certificatePath = resolve(config.node.certificatePath)
        config.trust.operatorKeyPaths = config.trust.operatorKeyPaths.map(resolve)
        config.gossip.keyringPath = resolve(config.gossip.keyringPath)
        config.tokens.issuerKeyPath = resolve(config.tokens.issuerKeyPath)
        if case let .sqlite(path) = config.store { config.store = .sqlite(path: resolve(path)) }

        let nodeKey: Ed25519.PrivateKey
        do { nodeKey = try KeyFile.decodeSecret(try read(config.node.keyPath, "node key (node.key)")) } catch let e as KeyFile.Error {
            throw NodeStartupError("node.key '\(config.node.keyPath)': \(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        var operators: [Ed25519.PublicKey] = []
        for p in config.trust.operatorKeyPaths {
            do { operators.append(try KeyFile.decodePublic(try read(p, "operator key (trust.operator_keys)"))) } catch let e as KeyFile.Error {
                throw NodeStartupError("trust.operator_keys '\(p)': \(e)")
            } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        }
        let certificate: NodeCertificate
        do { certificate = try NodeCertificate(pem: try read(config.node.certificatePath, "node certificate (node.certificate)")) } catch let e as CertificateError {
            throw NodeStartupError("node.certificate '\(config.node.certificatePath)': \(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        let identity: VerifiedNodeIdentity
        do { identity = try certificate.verify(trustedOperators: operators, nowUnix: Int64(Date().timeIntervalSince1970)) } catch {
            throw NodeStartupError("node.certificate '\(config.node.certificatePath)' is not valid: \(error); ask the operator for a new one (`demarc node cert issue`)")
        }
        guard identity.nodeID == config.node.id else {
            throw NodeStartupError("node.certificate is for node '\(identity.nodeID)' but node.id is '\(config.node.id)'")
        }
        guard identity.region == config.node.region else {
            throw NodeStartupError("node.certificate pins this node to region '\(identity.region)' but node.region is '\(config.node.region)'")
        }
        guard identity.nodePublicKey == nodeKey.publicKey else {
            throw NodeStartupError("node.certificate certifies a different key than node.key '\(config.node.keyPath)'")
        }

        let keyring: Keyring
        do { keyring = try KeyringFile.parse(try read(config.gossip.keyringPath, "gossip keyring (gossip.keyring)")) } catch let e as KeyringFile.Error {
            throw NodeStartupError("gossip.keyring '\(config.gossip.keyringPath)': \(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        let tokenKey: Ed25519.PrivateKey
        do { tokenKey = try KeyFile.decodeSecret(try read(config.tokens.issuerKeyPath, "token issuer key (tokens.issuer_key)")) } catch let e as KeyFile.Error {
            throw NodeStartupError("tokens.issuer_key '\(config.tokens.issuerKeyPath)': \(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }

        let catalogPath = try locate(config.trust.jurisdictionsPath.map(resolve), env: "DEMARC_JURISDICTIONS", file: "jurisdictions.yaml")
        let catalog: JurisdictionCatalog
        do { catalog = try JurisdictionCatalog.parse(try read(catalogPath, "jurisdiction catalog"), file: catalogPath) } catch let e as ConfigError {
            throw NodeStartupError("the jurisdiction catalog \(catalogPath) is invalid:\n\(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        let regionsPath = try locate(config.trust.regionsPath.map(resolve), env: "DEMARC_REGIONS", file: "regions.yaml")
        let regions: Topology
        do { regions = try Topology.parse(try read(regionsPath, "region catalog"), file: regionsPath, catalog: catalog, requireNodes: false) } catch let e as ConfigError {
            throw NodeStartupError("the region catalog \(regionsPath) is invalid:\n\(e)")
        } catch let e as NodeStartupError { throw e } catch { throw NodeStartupError("\(error)") }
        guard let region = regions.regions.first(where: { $0.id.rawValue == identity.region }) else {
            throw NodeStartupError("region '\(identity.region)' is not in the region catalog \(regionsPath); add it there (trust.regions)")
        }
        guard region.jurisdiction.rawValue == identity.jurisdiction else {
            throw NodeStartupError("the certificate says \(identity.region) is in \(identity.jurisdiction), the region catalog says \(region.jurisdiction)")
        }
        return NodeSetup(config: config, nodeKey: nodeKey, certificate: certificate, identity: identity, operators: operators,
                         catalog: catalog, regions: regions, keyring: keyring, tokenKey: tokenKey)
    }

    /// The explicit path, `$ENV`, `./DIRECTORY/FILE`, the source tree beside the binary,
    /// `/usr/share/demarc/SHARED` (SHARED defaults to FILE).
    public static func locate(_ explicit: String?, env: String, file: String, directory: String = "Topologies",
                              shared: String? = nil) throws(NodeStartupError) -> String {
        if let explicit { return explicit }
        var candidates: [String] = []
        if let e = ProcessInfo.processInfo.environment[env] { candidates.append(e) }
        candidates.append("\(directory)/\(file)")
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../../\(directory)/\(file)").standardized.path)
        candidates.append(exe.appendingPathComponent("../../../\(directory)/\(file)").standardized.path)
        candidates.append("/usr/share/demarc/\(shared ?? file)")
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw NodeStartupError("cannot find \(file); looked in: \(candidates.joined(separator: ", "))")
    }
}
