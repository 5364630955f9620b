// swift-tools-version: 6.1
// Demarc benchmarks: a separate package so `make test` never builds the
// benchmark harness. Run with `make bench` (or `swift package benchmark` here).
import PackageDescription

let package = Package(
    name: "DemarcBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Demarc", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PlacementBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Placement", package: "Demarc"),
                .product(name: "Residency", package: "Demarc"),
            ],
            path: "Benchmarks/PlacementBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "GossipBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GossipSimulation", package: "Demarc"),
            ],
            path: "Benchmarks/GossipBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "E2EEForwardingBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MediaForwarding", package: "Demarc"),
                .product(name: "MediaPackets", package: "Demarc"),
                .product(name: "SFrame", package: "Demarc"),
                .product(name: "SFrameEnforcement", package: "Demarc"),
            ],
            path: "Benchmarks/E2EEForwardingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
