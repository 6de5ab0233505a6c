// swift-tools-version:6.0
import PackageDescription

let strictness: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "evalium",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "evalium", targets: ["evalium"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // The S3-compatible evidence store's client; the tests drive the server with it too.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure domain rules and value types: ids, time, canonical JSON, ledger hashing, problems.
        .target(
            name: "EvaliumCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictness
        ),
        // The only module that talks to PostgreSQL: transaction manager, SQL, migrations, private cluster.
        .target(
            name: "EvaliumStorage",
            dependencies: [
                "EvaliumCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: strictness
        ),
        // Domain services, HTTP routes and middleware, background workers.
        .target(
            name: "EvaliumApp",
            dependencies: [
                "EvaliumCore",
                "EvaliumStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // Streaming evidence files to and from disk (Hummingbird's own file I/O uses it).
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                // The S3-compatible evidence store.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The API contract, served at GET /openapi.yaml; `openapi/evalium.yaml` links here (SwiftPM
            // copies a symlinked resource as a dangling link, so the real file lives in the target).
            resources: [.copy("Resources/evalium.yaml")],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "evalium",
            dependencies: [
                "EvaliumApp",
                "EvaliumStorage",
                "EvaliumCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictness
        ),
        // The benchmark's load driver (scripts/bench): real flows over loopback HTTP, HDR latencies.
        .executableTarget(
            name: "evalium-bench",
            dependencies: [
                "EvaliumCore",
                "EvaliumStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "EvaliumCoreTests",
            dependencies: ["EvaliumCore"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "EvaliumIntegrationTests",
            dependencies: [
                "EvaliumApp",
                "EvaliumStorage",
                "EvaliumCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strictness
        ),
    ]
)
