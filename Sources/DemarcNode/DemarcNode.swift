import NodeConfiguration
import Gossip
import GossipNIO
import ControlPlaneWire
import Placement
import Residency
import Transparency
import TransparencyStore
import TransparencyHTTP
import TenantDirectory
import AccessTokens
import NodeHTTP
import SodiumWrapper
import Hummingbird
import HummingbirdWebSocket
import MediaNIO
import MediaSignaling
import ServiceLifecycle
import NIOPosix
public import Logging
import PostgresNIO
import Foundation

/// One Demarc node: gossip, placement, meetings, the transparency log, the tenant
/// directory and the HTTP API, as services in one `ServiceGroup`. SIGTERM (or SIGINT)
/// drains: the node announces `draining`, its meetings move to compliant nodes, then
/// HTTP stops and the node leaves the gossip cluster.
public struct DemarcNode {
    public static let softwareVersion = "0.2.0"
    /// Issuer and audience of access tokens (as `demarc token issue` writes them).
    public static let tokenIssuer = "demarc"
    public static let tokenAudience = "demarc"

    public static func run(setup: NodeSetup, logger: Logger) async throws {
        let config = setup.config
        let nodeID = config.node.id
        guard let country = CountryCode(setup.identity.jurisdiction) else {
            throw NodeStartupError("certificate jurisdiction '\(setup.identity.jurisdiction)' is not a country code")
        }
        let location = NodeLocation(node: NodeID(nodeID), region: RegionID(setup.identity.region), jurisdiction: country)

        // Stores.
        let dataDirectory: String
        let transparencyConfig: TransparencyStoreConfiguration
        switch config.store {
        case let .sqlite(path):
            dataDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            transparencyConfig = .sqlite(path: path)
        case let .postgres(url):
            dataDirectory = FileManager.default.currentDirectoryPath
            transparencyConfig = .postgres(url: url)
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let (store, postgres) = try transparencyConfig.open()
        let signer = try NoteSigner(keyName: "\(nodeID).demarc", key: setup.nodeKey)
        let log = TransparencyLog(store: store, signer: signer, nodeCertificatePEM: setup.certificate.pem)
        let directory = try TenantDirectory(path: dataDirectory + "/\(nodeID)-tenants.sqlite", catalog: setup.catalog)
        let meetings = try MeetingStore(path: dataDirectory + "/\(nodeID)-meetings.sqlite")

        // Gossip.
        var settings = GossipSettings()
        settings.antiEntropy.pushPullInterval = .seconds(config.gossip.pushPullIntervalSeconds)
        let state = NodeStateMessage(nodeID: nodeID, address: config.gossip.advertise.host, port: UInt32(config.gossip.advertise.port),
                                     region: setup.identity.region, jurisdiction: setup.identity.jurisdiction,
                                     certificate: setup.certificate.message, status: .alive, incarnation: 0, load: 0,
                                     capacity: UInt32(config.node.capacity), softwareVersion: softwareVersion, coordinate: nil,
                                     apiPort: UInt32(config.http.bind.port), mediaPort: UInt32(config.media?.bind.port ?? 0))
        let seeds = config.gossip.seeds
            .filter { !($0.host == config.gossip.advertise.host && $0.port == config.gossip.advertise.port) }
            .map { GossipEndpoint(host: $0.host, port: UInt16($0.port)) }
        let instance = try SWIMInstance(localState: state, seeds: seeds, settings: settings, randomSeed: UInt64.random(in: 1...UInt64.max),
                                        now: .zero)
        var gossipLogger = logger
        gossipLogger[metadataKey: "component"] = "gossip"
        let gossip = GossipNode(instance: instance, keyring: setup.keyring, group: MultiThreadedEventLoopGroup.singleton, logger: gossipLogger)

        // Tokens: every node verifies with the cluster key; this node issues with it.
        let tokens = AccessTokenVerifier(keys: [nil: setup.tokenKey.publicKey], issuers: [tokenIssuer], audience: tokenAudience)
        let issuer = AccessTokenIssuer(key: setup.tokenKey)

        let metrics = NodeMetrics()
        let advertiseHost = config.gossip.advertise.host
        let apiBase = Peer.httpBase(host: advertiseHost, port: config.http.bind.port)
        var meetingLogger = logger
        meetingLogger[metadataKey: "component"] = "meetings"
        let service = try MeetingService(
            nodeID: nodeID, location: location, gossip: gossip, directory: directory, log: log, store: meetings,
            engine: PlacementEngine(catalog: setup.catalog), regions: setup.regions, operators: setup.operators,
            client: PeerClient(nodeID: nodeID, key: setup.nodeKey, timeoutSeconds: 5), metrics: metrics, logger: meetingLogger,
            apiBase: apiBase, mediaEndpoint: config.media.map { "\(advertiseHost):\($0.bind.port)" })
        await gossip.onMembershipChange { _ in Task { await service.reconcile() } }

        // Media (the SFU), when node.yaml has a `media:` section.
        var media: MediaServer?
        if let m = config.media {
            var mc = MediaServerConfiguration()
            mc.bindHost = m.bind.host
            mc.port = m.bind.port
            mc.nodeName = nodeID
            // Host candidates must be reachable: the advertised address when the socket binds all interfaces.
            if m.bind.host == "0.0.0.0" || m.bind.host == "::" { mc.announcedAddresses = [advertiseHost] }
            var mediaLogger = logger
            mediaLogger[metadataKey: "component"] = "media"
            let server = try MediaServer(configuration: mc, logger: mediaLogger)
            await service.attachMediaPlane(server)
            media = server
        }

        // HTTP (with WebSocket upgrades for media signaling).
        let router = Router(context: BasicWebSocketRequestContext.self)
        AdminRoutes(directory: directory, verifier: tokens, issuer: issuer, issuerName: tokenIssuer,
                    participantTokenSeconds: Int64(config.tokens.participantTokenSeconds),
                    auditor: PolicyHistoryAuditor(service: service), observer: TenantReplication(service: service)).register(on: router)
        TransparencyRoutes(log: log, tokens: tokens).register(on: router)
        NodeRoutes(service: service, tokens: tokens, gossip: gossip, metrics: metrics, media: media).register(on: router)
        if let media {
            let signaling = RTCSignaling(media: media, verifier: tokens,
                         node: ["node": nodeID, "region": setup.identity.region, "jurisdiction": setup.identity.jurisdiction],
                         admit: { r in
                             if try await service.admitMediaSession(tenant: r.tenant, meeting: r.meeting, participant: r.participant) {
                                 await media.requireEndToEndEncryption(meeting: RTCSignaling.mediaMeeting(tenant: r.tenant, meeting: r.meeting))
                             }
                         },
                         observe: { r, change in
                             await service.mediaSession(tenant: r.tenant, meeting: r.meeting, participant: r.participant, joined: change == .joined)
                         },
                         alternates: { r in await service.alternates(tenant: r.tenant, meeting: r.meeting) })
            signaling.register(on: router)
            await service.attachSignaling(signaling.sessions)
        }
        // The web client (plain files in Web/), when it is installed.
        if let web = try? NodeSetup.locate(nil, env: "DEMARC_WEB", file: "index.html", directory: "Web", shared: "web/index.html") {
            router.add(middleware: FileMiddleware(URL(fileURLWithPath: web).deletingLastPathComponent().path, searchForIndexHtml: true))
        }
        var httpLogger = logger
        httpLogger[metadataKey: "component"] = "http"
        let app = Application(router: router, server: .http1WebSocketUpgrade(webSocketRouter: router),
                              configuration: .init(address: .hostname(config.http.bind.host, port: config.http.bind.port), serverName: "demarc/\(nodeID)"),
                              logger: httpLogger)

        var services: [any Service] = []
        if let postgres { services.append(PostgresClientService(client: postgres)) }
        services += [
            GossipService(node: gossip, host: config.gossip.bind.host, port: config.gossip.bind.port),
        ]
        if let media { services.append(media) }
        services += [
            app,
            PeriodicService(name: "reconcile", every: .seconds(1)) { await service.reconcile() },
            PeriodicService(name: "relay-watch", every: .milliseconds(250)) { await service.watchRelayLinks() },
            PeriodicService(name: "checkpoint", every: .seconds(30)) { _ = try? await log.checkpoint() },
            DrainService(service: service, timeout: .seconds(20)),
        ]
        logger.info("node starting", metadata: [
            "node": "\(nodeID)", "region": "\(location.region)", "jurisdiction": "\(location.jurisdiction)",
            "gossip": "\(config.gossip.bind)", "http": "\(config.http.bind)",
        ])
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("node stopped", metadata: ["node": "\(nodeID)"])
    }
}

/// Runs `body` every `every` until shutdown.
struct PeriodicService: Service {
    let name: String
    let every: Duration
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await body()
                try? await Task.sleep(for: every)
            }
        }
    }
}

/// On graceful shutdown, drains the node before the services after it stop.
struct DrainService: Service {
    let service: MeetingService
    let timeout: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await service.drain(timeout: timeout)
    }
}

/// The PostgreSQL client's connection pool as a service.
struct PostgresClientService: Service {
    let client: PostgresClient
    func run() async throws {
        await cancelWhenGracefulShutdown { await client.run() }
    }
}
