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
        .library(name: "Residency", targets: ["Residency"]),
        .library(name: "Placement", targets: ["Placement"]),
        .library(name: "NodeTrust", targets: ["NodeTrust"]),
        // For Benchmarks/ (GossipBenchmarks runs the simulator's scenarios).
        .library(name: "GossipSimulation", targets: ["GossipSimulation"]),
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

        // MARK: The command-line tool.
        .executableTarget(
            name: "DemarcCLI",
            dependencies: [
                "Residency", "Placement", "NodeTrust", "SodiumWrapper",
                "Gossip", "GossipSimulation",
                "Transparency", "AccessTokens",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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

        // MARK: Tests.
        .target(name: "DemarcTestSupport", dependencies: ["Residency", "Placement"], path: "Tests/DemarcTestSupport", swiftSettings: strictSettings),
        .testTarget(name: "SodiumWrapperTests", dependencies: ["SodiumWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "OpenSSLWrapperTests", dependencies: ["OpenSSLWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "ControlPlaneWireTests", dependencies: ["ControlPlaneWire", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "ResidencyTests", dependencies: ["Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "NodeTrustTests", dependencies: ["NodeTrust", "SodiumWrapper"], swiftSettings: strictSettings),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DemarcCLITests", dependencies: ["DemarcCLI"], swiftSettings: strictSettings),
        .testTarget(name: "TenantDirectoryTests", dependencies: ["TenantDirectory", "Residency", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "NodeHTTPTests",
            dependencies: [
                "NodeHTTP", "TenantDirectory", "AccessTokens", "SodiumWrapper", "DemarcTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "NodeConfigurationTests", dependencies: ["NodeConfiguration", "Residency"], swiftSettings: strictSettings),
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
        .testTarget(name: "MediaForwardingTests", dependencies: ["MediaForwarding", "MediaPackets", "MediaCore", "DemarcTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "GossipTests", dependencies: ["Gossip", "GossipSimulation", "ControlPlaneWire", "SodiumWrapper", "NodeTrust", "Placement", "Residency"], swiftSettings: strictSettings),
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
