// swift-tools-version: 6.1
// Demarc: a multi-region SFU cluster that keeps each meeting inside the
// jurisdictions its tenant allows, and proves it. Targets layer downward:
// C libraries -> one Swift wrapper each -> pure cores -> transports -> node -> CLI.
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Demarc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "demarc", targets: ["DemarcCLI"]),
        // `demarc loadtest` alone: builds without the node's database and TLS dependencies.
        .executable(name: "demarc-loadtest", targets: ["MediaLoadTestTool"]),
        .library(name: "Residency", targets: ["Residency"]),
        .library(name: "Placement", targets: ["Placement"]),
        .library(name: "NodeTrust", targets: ["NodeTrust"]),
        // For Benchmarks/ (GossipBenchmarks runs the simulator's scenarios).
        .library(name: "GossipSimulation", targets: ["GossipSimulation"]),
        // For Benchmarks/E2EEForwardingBenchmarks (issue 8: forwarding cost of SFrame payloads).
        .library(name: "MediaForwarding", targets: ["MediaForwarding"]),
        .library(name: "MediaPackets", targets: ["MediaPackets"]),
        .library(name: "SFrame", targets: ["SFrame"]),
        .library(name: "SFrameEnforcement", targets: ["SFrameEnforcement"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        // Gossip UDP/TCP shell (issue 3).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // The node's /metrics endpoint (issue 5).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // Media signaling over WebSocket (issue 6).
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
    ],
    targets: [
        // MARK: C libraries (system), each wrapped once below.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        // protoc-c output for proto/ (regenerate with `make proto`; committed).
        .target(name: "CControlPlane", dependencies: ["CProtobufC"]),

        // MARK: Swift wrappers over the C libraries. Nothing above imports a C module.
        .target(name: "SodiumWrapper", dependencies: ["CSodium"], swiftSettings: strictSettings),
        .target(name: "OpenSSLWrapper", dependencies: ["COpenSSL"], swiftSettings: strictSettings),
        .target(name: "ControlPlaneWire", dependencies: ["CControlPlane", "CProtobufC"], swiftSettings: strictSettings),

        // MARK: Pure cores (no I/O, no NIO).
        .target(name: "Residency", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: strictSettings),
        .target(name: "NodeTrust", dependencies: ["SodiumWrapper", "ControlPlaneWire"], swiftSettings: strictSettings),
        .target(name: "Placement", dependencies: ["Residency"], swiftSettings: strictSettings),
        .target(name: "TenantDirectory", dependencies: ["Residency", "SodiumWrapper", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strictSettings),
        .target(
            name: "NodeHTTP",
            dependencies: ["TenantDirectory", "AccessTokens", "Residency", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: strictSettings
        ),
        .target(name: "NodeConfiguration", dependencies: ["Residency", .product(name: "Yams", package: "Yams")], swiftSettings: strictSettings),

        // MARK: Relay links between the nodes of a meeting (issue 7): keys and framing, no I/O.
        .target(name: "RelayLinks", dependencies: ["SodiumWrapper"], swiftSettings: strictSettings),

        // MARK: The node process (issue 5): composes gossip, placement, meetings, log, tenants, HTTP.
        .target(
            name: "DemarcNode",
            dependencies: [
                "NodeConfiguration", "NodeTrust", "Residency", "Placement", "Gossip", "GossipNIO", "ControlPlaneWire",
                "Transparency", "TransparencyStore", "TransparencyHTTP", "TenantDirectory", "AccessTokens", "NodeHTTP", "SodiumWrapper",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                "MediaNIO", "MediaSignaling", "RelayLinks",
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: The command-line tool.
        .executableTarget(
            name: "DemarcCLI",
            dependencies: [
                "Residency", "Placement", "NodeTrust", "SodiumWrapper",
                "Gossip", "GossipSimulation",
                "Transparency", "AccessTokens", "DemarcNode", "NetLab", "NodeConfiguration", "MediaLoadTest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Transparency log (issue 4): pure core -> store -> HTTP endpoint.
        .target(name: "Transparency", dependencies: ["SodiumWrapper", "Residency"], swiftSettings: strictSettings),
        .target(name: "AccessTokens", dependencies: ["SodiumWrapper"], swiftSettings: strictSettings),
        .target(
            name: "TransparencyStore",
            dependencies: [
                "Transparency", "SodiumWrapper",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TransparencyHTTP",
            dependencies: ["Transparency", "TransparencyStore", "AccessTokens", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: strictSettings
        ),
        // Benchmark and crash-test worker for the SQLite log (not shipped).
        .executableTarget(name: "TransparencyBench", dependencies: ["Transparency", "TransparencyStore", "Residency", "SodiumWrapper"], swiftSettings: strictSettings),

        // MARK: Media (issue 6): transport-free WebRTC protocol layers; no NIO, no I/O.
        .target(name: "MediaPackets", dependencies: ["OpenSSLWrapper"], swiftSettings: strictSettings),
        .target(name: "MediaCore", dependencies: ["MediaPackets"], swiftSettings: strictSettings),
        .target(name: "MediaCrypto", dependencies: ["OpenSSLWrapper", "MediaCore", "MediaPackets"], swiftSettings: strictSettings),
        .target(name: "MediaForwarding", dependencies: ["MediaPackets", "MediaCore"], swiftSettings: strictSettings),
        // SDP offer/answer for the SFU (pure).
        .target(name: "MediaNegotiation", dependencies: ["MediaPackets", "MediaForwarding"], swiftSettings: strictSettings),
        // The UDP media shell: one port per node, ICE -> DTLS -> SRTP -> forwarding router.
        .target(
            name: "MediaNIO",
            dependencies: [
                "MediaPackets", "MediaCore", "MediaCrypto", "MediaForwarding", "MediaNegotiation", "OpenSSLWrapper", "SFrameEnforcement", "SFrame", "RelayLinks", "SodiumWrapper",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Synthetic WebRTC peers and the in-process load test behind `demarc loadtest`.
        .target(
            name: "MediaLoadTest",
            dependencies: [
                "MediaNIO", "MediaPackets", "MediaCore", "MediaCrypto", "OpenSSLWrapper", "SodiumWrapper",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "MediaLoadTestTool", dependencies: ["MediaLoadTest"], swiftSettings: strictSettings),
        // WebSocket signaling: GET /v1/rtc, participant tokens, join/publish/subscribe.
        .target(
            name: "MediaSignaling",
            dependencies: [
                "MediaNIO", "AccessTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: End-to-end media encryption (issue 8): SFrame (RFC 9605) and its key
        // management, pure; the SFU's enforcement check on top of the packet parsers.
        .target(name: "SFrame", dependencies: ["OpenSSLWrapper", "SodiumWrapper"], swiftSettings: strictSettings),
        .target(name: "SFrameEnforcement", dependencies: ["SFrame", "MediaPackets"], swiftSettings: strictSettings),

        // MARK: Gossip (issue 3): SWIM + Lifeguard core -> simulated network / NIO shell.
        .target(name: "Gossip", dependencies: ["ControlPlaneWire", "SodiumWrapper", "NodeTrust", "Placement", "Residency"], swiftSettings: strictSettings),
        .target(name: "GossipSimulation", dependencies: ["Gossip", "ControlPlaneWire", "SodiumWrapper", "NodeTrust"], swiftSettings: strictSettings),
        .target(
            name: "GossipNIO",
            dependencies: [
                "Gossip", "ControlPlaneWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Lab networks (issue 5): delaying UDP relays, namespaces and nftables for `demarc cluster`.
        .target(
            name: "NetLab",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictSettings
        ),

        // MARK: Tests.
        .target(name: "DemarcTestSupport", dependencies: ["Residency", "Placement"], path: "Tests/DemarcTestSupport", swiftSettings: strictSettings),
        .testTarget(name: "SodiumWrapperTests", dependencies: ["SodiumWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "OpenSSLWrapperTests", dependencies: ["OpenSSLWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "ControlPlaneWireTests", dependencies: ["ControlPlaneWire", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "ResidencyTests", dependencies: ["Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "NodeTrustTests", dependencies: ["NodeTrust", "SodiumWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "DemarcCLITests",
            dependencies: ["DemarcCLI", "DemarcTestSupport", "NodeConfiguration", "NodeTrust", "NetLab", "Gossip", "AccessTokens"],
            exclude: ["Fixtures"], swiftSettings: strictSettings
        ),
        .testTarget(name: "TenantDirectoryTests", dependencies: ["TenantDirectory", "Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "NodeHTTPTests",
            dependencies: [
                "NodeHTTP", "TenantDirectory", "AccessTokens", "SodiumWrapper", "DemarcTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "RelayLinksTests", dependencies: ["RelayLinks", "SodiumWrapper", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DemarcNodeTests", dependencies: ["DemarcNode", "NodeTrust", "DemarcCLI", "Gossip", "GossipNIO", "ControlPlaneWire", "SodiumWrapper", "AccessTokens", "Placement", "Residency", "Transparency", "TransparencyStore", "TenantDirectory", "DemarcTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")], swiftSettings: strictSettings),
        // Also checks every node config and Kubernetes manifest under Deploy/ (Yams for the manifests).
        .testTarget(name: "NodeConfigurationTests", dependencies: ["NodeConfiguration", "Residency", .product(name: "Yams", package: "Yams")], swiftSettings: strictSettings),
        .testTarget(name: "TransparencyTests", dependencies: ["Transparency", "SodiumWrapper", "Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "AccessTokensTests", dependencies: ["AccessTokens", "SodiumWrapper", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "TransparencyStoreTests",
            dependencies: [
                "TransparencyStore", "Transparency", "SodiumWrapper", "Residency", "TransparencyBench", "NodeTrust",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TransparencyHTTPTests",
            dependencies: [
                "TransparencyHTTP", "TransparencyStore", "Transparency", "AccessTokens", "SodiumWrapper",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "MediaPacketsTests", dependencies: ["MediaPackets", "OpenSSLWrapper", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "MediaCoreTests", dependencies: ["MediaCore", "MediaPackets"], swiftSettings: strictSettings),
        .testTarget(name: "MediaCryptoTests", dependencies: ["MediaCrypto", "MediaPackets", "OpenSSLWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "SFrameTests", dependencies: ["SFrame", "SFrameEnforcement", "MediaPackets", "SodiumWrapper", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "MediaForwardingTests", dependencies: ["MediaForwarding", "MediaPackets", "MediaCore", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "MediaNegotiationTests", dependencies: ["MediaNegotiation", "MediaPackets", "MediaForwarding", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "MediaNIOTests",
            dependencies: [
                "MediaNIO", "MediaLoadTest", "MediaPackets", "MediaCrypto", "MediaForwarding", "OpenSSLWrapper", "SFrame",
                "RelayLinks", "SodiumWrapper", "DemarcTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MediaLoadTestTests",
            dependencies: ["MediaLoadTest", "MediaCore", "MediaPackets"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MediaSignalingTests",
            dependencies: [
                "MediaSignaling", "MediaNIO", "MediaNegotiation", "MediaLoadTest", "AccessTokens", "SodiumWrapper", "DemarcTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "GossipTests", dependencies: ["Gossip", "GossipSimulation", "ControlPlaneWire", "SodiumWrapper", "NodeTrust", "Placement", "Residency"], swiftSettings: strictSettings),
        .testTarget(name: "NetLabTests", dependencies: ["NetLab", "DemarcTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: strictSettings),
        .testTarget(
            name: "GossipNIOTests",
            dependencies: [
                "GossipNIO", "Gossip", "GossipSimulation", "ControlPlaneWire", "SodiumWrapper",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
