// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KubeCore", targets: ["KubeCore"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "KubeRuntime", targets: ["KubeRuntime"]),
        .executable(name: "tandem", targets: ["tandem"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .target(name: "KubeCore"),
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "KubeRuntime",
            dependencies: [
                "KubeCore", "KubeClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TandemAPI",
            dependencies: ["KubeCore", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "Sizing"),
        .target(name: "Autoscaling", dependencies: ["KubeCore", "TandemAPI"]),
        .target(name: "Routing", dependencies: ["KubeCore", "TandemAPI", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Rendering",
            dependencies: ["KubeCore", "TandemAPI", "Sizing", "Routing", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "Simulation",
            dependencies: [
                "KubeCore", "KubeClient", "KubeRuntime", "Sizing", "TandemAPI", "Autoscaling", "Routing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "TandemOperator",
            dependencies: [
                "KubeCore", "KubeClient", "KubeRuntime", "TandemAPI", "Sizing", "Rendering", "Autoscaling", "Routing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Lab/test support: the chaos suite's fault proxy. The `tandem` executable never depends on it.
        .target(
            name: "FaultProxy",
            dependencies: [
                "KubeCore", "KubeClient", "TandemAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "KubeTestSupport",
            dependencies: ["KubeCore", "KubeClient"]
        ),
        .executableTarget(
            name: "tandem",
            dependencies: [
                "KubeCore", "KubeClient", "KubeRuntime", "TandemAPI", "Sizing", "Rendering", "TandemOperator", "Simulation", "Autoscaling", "Routing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Issue 14's overflow fuzz: a child process the SizingTests' fuzz test spawns (and
        // hack/fuzz.sh runs); not a dependency of `tandem`.
        .executableTarget(
            name: "tandem-fuzz",
            dependencies: ["KubeCore", "KubeTestSupport", "Rendering", "Sizing", "TandemAPI", "TandemOperator"]
        ),
        // Issue 14's soak driver (`make soak`, hack/soak.sh): creates and deletes pools against a
        // running operator and samples its memory and /metrics; not a dependency of `tandem`.
        .executableTarget(
            name: "tandem-soak",
            dependencies: [
                "KubeCore", "KubeClient", "TandemAPI", "Rendering", "Autoscaling",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "KubeCoreTests", dependencies: ["KubeCore"]),
        .testTarget(name: "TandemSoakTests", dependencies: ["tandem-soak", "TandemAPI"]),
        .testTarget(name: "FaultProxyTests", dependencies: ["FaultProxy"]),
        .testTarget(
            name: "KubeClientTests",
            dependencies: [
                "KubeClient", "KubeCore", "KubeRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KubeRuntimeTests",
            dependencies: ["KubeRuntime", "KubeCore", "KubeTestSupport", .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .testTarget(name: "TandemAPITests", dependencies: ["TandemAPI", "KubeCore", "KubeTestSupport"]),
        .testTarget(name: "SizingTests", dependencies: ["Sizing"]),
        .testTarget(name: "AutoscalingTests", dependencies: ["Autoscaling", "KubeTestSupport"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "TandemAPI", "KubeCore", "KubeTestSupport"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Sizing", "KubeCore", "TandemAPI", "Autoscaling"]),
        .testTarget(name: "TandemOperatorTests", dependencies: ["TandemOperator", "TandemAPI", "Rendering", "KubeCore", "KubeRuntime", "Autoscaling"]),
        .testTarget(
            name: "RenderingTests",
            dependencies: ["Rendering", "Routing", "TandemAPI", "Sizing", "KubeCore", "KubeTestSupport", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "KubeClient", "KubeCore", "KubeRuntime", "KubeTestSupport", "TandemAPI", "TandemOperator", "Simulation", "Sizing", "Autoscaling", "Routing", "Rendering",
                "FaultProxy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
