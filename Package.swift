// swift-tools-version:6.0
import PackageDescription

// The dependency graph keeps the protocol cores pure: Basics, TotemConfig, Totem, RingLog,
// CMap and Replication never import NIO, Foundation's clock or a thread. The IO shell
// (Node) and the executable sit on top. See ../shared/DESIGN.md section 2.
let package = Package(
    name: "TotemKV",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "totemkv", targets: ["totemkv"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Hardware CRC-32C (SSE4.2) for Basics; the Swift table code is the fallback.
        .target(name: "CCRC32C"),
        .target(name: "Basics", dependencies: ["CCRC32C"]),
        .target(name: "TotemConfig"),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(name: "Zstd", dependencies: ["CZstd"]),
        .target(name: "Totem", dependencies: ["Basics", "TotemConfig"]),
        .target(name: "RingLog", dependencies: ["Basics"]),
        .target(name: "CMap", dependencies: ["Basics", "Zstd"]),
        .target(name: "Quorum", dependencies: ["Basics"]),
        .target(
            name: "Replication",
            dependencies: ["Basics", "Quorum", "Totem", "CMap", .product(name: "DequeModule", package: "swift-collections")]
        ),
        .target(name: "RESP", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "Node",
            dependencies: [
                "Basics", "TotemConfig", "Totem", "RingLog", "CMap", "Quorum", "Replication", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(name: "Simulation", dependencies: ["Basics", "TotemConfig", "Totem", "RingLog", "CMap", "Quorum", "Replication"]),
        .executableTarget(
            name: "totemkv",
            dependencies: [
                "TotemConfig", "Simulation", "Node", "Replication",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        // Benchmarks: run with `swift run -c release <name>`; results go to Bench/results/.
        .executableTarget(name: "RingLogBench", dependencies: ["RingLog", "Basics"], path: "Bench/RingLogBench"),
        .executableTarget(name: "CMapBench", dependencies: ["CMap", "Basics", "Zstd"], path: "Bench/CMapBench"),
        .executableTarget(name: "ReplicationBench", dependencies: ["Simulation", "Replication", "CMap", "TotemConfig", "Basics"], path: "Bench/ReplicationBench"),
        .executableTarget(name: "TotemBench", dependencies: ["Totem", "Simulation", "TotemConfig", "Basics"], path: "Bench/TotemBench"),
        // Starts real `totemkv node` processes: build the `totemkv` product in release too.
        .executableTarget(
            name: "CPGBench",
            dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Bench/CPGBench"
        ),

        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "TotemConfigTests", dependencies: ["TotemConfig", "Basics"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "Basics"]),
        .testTarget(name: "TotemTests", dependencies: ["Totem", "TotemConfig", "Basics"]),
        .testTarget(name: "RingLogTests", dependencies: ["RingLog", "Basics", "Simulation"]),
        .testTarget(name: "CMapTests", dependencies: ["CMap", "Basics", "Zstd"]),
        .testTarget(name: "QuorumTests", dependencies: ["Quorum", "Basics"]),
        .testTarget(name: "ReplicationTests", dependencies: ["Replication", "Basics", "Quorum", "CMap"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node", "Totem", "TotemConfig", "Basics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Replication", "Totem", "TotemConfig", "Basics"]),
        // `totemkv bench`: its argument parsing and summary arithmetic (the executable's module).
        .testTarget(
            name: "BenchCommandTests",
            dependencies: [
                "totemkv", "RESP",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Starts real `totemkv node` processes (the executable built next to the test bundle).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Basics", "Node", "RESP", "Totem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
