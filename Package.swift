// swift-tools-version: 6.1
import CompilerPluginSupport
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The release version `--version` and `rackswarm_build_info` show.
let rackswarmVersion = "0.1.0"
/// The commit a build is made from: `RACKSWARM_COMMIT` (set by `make package`), else the checkout's HEAD.
let rackswarmCommit = Context.environment["RACKSWARM_COMMIT"] ?? Context.gitInformation?.currentCommit ?? "unknown"

/// The folders of Sources/Reconciler, each in exactly one of the reconciler's targets: a target lists its own as
/// `sources` and excludes the rest (else SwiftPM warns about every file of the others as unhandled).
let reconcilerFolders = ["Model", "Planning", "Diagnostics", "Loading", "Store", "Postgres", "Execution", "Loop",
                         "Exports.swift"]
func otherReconcilerFolders(than own: [String]) -> [String] { reconcilerFolders.filter { !own.contains($0) } }

let package = Package(
    name: "rackswarm",
    // Linux only (namespaces, dnsmasq, dnf, /proc): no Apple platform is claimed.
    products: [
        .executable(name: "reconcile", targets: ["ReconcileCLI"]),
        .library(name: "Reconciler", targets: ["Reconciler"]),
        .library(name: "Drivers", targets: ["Drivers"]),
        .library(name: "Torrent", targets: ["Torrent"]),
        .library(name: "Console", targets: ["Console"]),
        .library(name: "ReconcilerMetrics", targets: ["ReconcilerMetrics"]),
        .executable(name: "provision-agent", targets: ["AgentCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // One trait, named: with its two default traits, SwiftPM passes their -D flags in a random order each time it
        // plans the build, and every such plan recompiled Hummingbird (~40 s). swift-configuration is not used.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // For the one macro, @PublicMemberwiseInit: built for the host, as a compiler plugin.
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.0"),
    ],
    targets: [
        // C system libraries.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),

        // Build identity (version, commit) as C strings set here, and the flags both executables share.
        .target(
            name: "CBuildInfo",
            cSettings: [
                .define("RACKSWARM_VERSION", to: "\"\(rackswarmVersion)\""),
                .define("RACKSWARM_COMMIT", to: "\"\(rackswarmCommit)\""),
            ]
        ),
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "CBuildInfo",
                "RackswarmCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Vocabulary shared by every layer: error intents, sizes and durations.
        .target(name: "RackswarmCore", dependencies: ["MemberwiseInit"], swiftSettings: swiftSettings),

        // @PublicMemberwiseInit, the public memberwise initialiser a public struct needs in another module: the
        // macro (a compiler plugin, built for the host with swift-syntax) and the library that declares it.
        .macro(
            name: "MemberwiseInitMacro",
            dependencies: [
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "MemberwiseInit", dependencies: ["MemberwiseInitMacro"], swiftSettings: swiftSettings),

        // Layers. The reconciler is four targets so that the compiler keeps the layering: the model and the pure
        // planner know no I/O; loading adds libyaml; the store adds SQLite; execution and the loop add the drivers.
        // All four live under Sources/Reconciler, one folder per concern.
        .target(
            name: "ReconcilerModel",
            dependencies: ["MemberwiseInit", "RackswarmCore"],
            path: "Sources/Reconciler",
            exclude: otherReconcilerFolders(than: ["Model", "Planning", "Diagnostics"]),
            sources: ["Model", "Planning", "Diagnostics"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReconcilerLoading",
            dependencies: ["MemberwiseInit", "RackswarmCore", "ReconcilerModel", "CYAML"],
            path: "Sources/Reconciler",
            exclude: otherReconcilerFolders(than: ["Loading"]),
            sources: ["Loading"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReconcilerStore",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "ReconcilerModel",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Sources/Reconciler",
            exclude: otherReconcilerFolders(than: ["Store"]),
            sources: ["Store"],
            swiftSettings: swiftSettings
        ),
        // The shared PostgreSQL store (several reconcilers, racks by lease): its own target, so that only what
        // selects it (the CLI, the store tests) links postgres-nio; the agent and the pure layers never do.
        .target(
            name: "ReconcilerPostgres",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "ReconcilerModel",
                "ReconcilerStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Reconciler",
            exclude: otherReconcilerFolders(than: ["Postgres"]),
            sources: ["Postgres"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reconciler",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "ReconcilerModel",
                "ReconcilerLoading",
                "ReconcilerStore",
                "Drivers",
                "GitDriver",
                "ReconcilerMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Reconciler",
            exclude: otherReconcilerFolders(than: ["Execution", "Loop", "Exports.swift"]),
            sources: ["Execution", "Loop", "Exports.swift"],
            swiftSettings: swiftSettings
        ),
        // The site repository's git client, apart from the other drivers so that only the reconciler links libgit2
        // (provision-agent does not).
        .target(
            name: "GitDriver",
            // Drivers for the command runner the commit verifier runs ssh-keygen and gpgv through.
            dependencies: ["MemberwiseInit", "RackswarmCore", "CLibGit2", "Drivers"],
            path: "Sources/Drivers/Git",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Drivers",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Git"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BootServer",
            dependencies: [
                "MemberwiseInit",
                "Drivers",
                "RackswarmCore",
                "Torrent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReconcilerMetrics",
            dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Console",
            dependencies: [
                "MemberwiseInit",
                "CBuildInfo",
                "Reconciler",
                "Drivers",
                "ReconcilerMetrics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Installer",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "Drivers",
                "Torrent",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DriversTesting",
            dependencies: ["Drivers"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReconcilerTesting",
            dependencies: ["MemberwiseInit", "Reconciler"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Torrent",
            dependencies: [
                "MemberwiseInit",
                "RackswarmCore",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Thin executables.
        .executableTarget(
            name: "ReconcileCLI",
            dependencies: [
                "RackswarmCore",
                "Reconciler",
                "ReconcilerPostgres",
                "Drivers",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                "Torrent",
                "BootServer",
                "Console",
                "CommandLineSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "AgentCLI",
            dependencies: [
                "RackswarmCore",
                "Drivers",
                "Installer",
                "Torrent",
                "CommandLineSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Tests.
        .testTarget(
            name: "MemberwiseInitTests",
            dependencies: [
                "MemberwiseInit",
                "MemberwiseInitMacro",
                .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DistributionLabTests",
            dependencies: ["LabSupport"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LabSupport",
            path: "Tests/LabSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LabSupportTests",
            dependencies: ["LabSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeployTests",
            dependencies: ["LabSupport", "Reconciler"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConvergenceTests",
            dependencies: ["Reconciler", "ReconcilerPostgres", "Drivers", "LabSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DriversTests",
            dependencies: ["LabSupport", "Drivers", "GitDriver"],
            exclude: ["Support/git_http_server.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReconcilerTests",
            dependencies: [
                "RackswarmCore",
                "LabSupport",
                "Reconciler",
                "ReconcilerPostgres",
                "ReconcilerTesting",
                "Drivers",
                "DriversTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PackagesTests",
            dependencies: [
                "LabSupport",
                "Reconciler",
                "Drivers",
                "DriversTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PowerTests",
            dependencies: [
                "LabSupport",
                "Drivers",
                "DriversTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Support/pyghmi_bmc.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TorrentTests",
            dependencies: [
                "LabSupport",
                "Torrent",
                "RackswarmCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InstallTests",
            dependencies: [
                "LabSupport",
                "BootServer",
                "Installer",
                "Torrent",
                "Drivers",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LabTests",
            dependencies: [
                "LabSupport", "Drivers", "Reconciler",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BootTests",
            dependencies: [
                "LabSupport",
                "BootServer",
                "Torrent",
                "Reconciler",
                "Drivers",
                "DriversTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "LabSupport",
                "Console",
                "Reconciler",
                "ReconcilerMetrics",
                "BootServer",
                "Drivers",
                "ReconcilerPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Support/png_colours.py"],
            swiftSettings: swiftSettings
        ),
    ]
)

// libFuzzer harnesses (scripts/fuzz.sh, `make fuzz`): executables over the package's own targets, declared only
// when RACKSWARM_FUZZ is set and built by scripts/fuzz.sh into .build-fuzz with the sanitizer flags in
// Fuzz/toolset.json (which reach the target build only, not the macro built for the host), so ordinary builds and
// tests never compile them. Each is Fuzz/Harnesses/NAMEFuzz.swift, defining LLVMFuzzerTestOneInput and a `main` that
// runs libFuzzer's driver (FuzzDriver; CLibFuzzer declares both), with Fuzz/NAMEDrive.swift when the corpus replay
// test shares its drive.
if Context.environment["RACKSWARM_FUZZ"] != nil {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer"], path: "Fuzz/Driver", swiftSettings: swiftSettings),
    ]
    let harnesses: [(name: String, dependencies: [Target.Dependency])] = [
        ("YAML", ["ReconcilerLoading", "ReconcilerModel"]),
        ("Bencode", ["Torrent"]),
        ("Range", ["BootServer"]),
        ("Announce", ["Torrent"]),
        ("Metainfo", ["Torrent"]),
        ("PeerWire", ["Torrent", .product(name: "NIOCore", package: "swift-nio")]),
        ("ServiceFrame", ["Drivers"]),
        ("IPMI", ["Drivers"]),
        ("InstallReport", ["BootServer", "RackswarmCore"]),
    ]
    for harness in harnesses {
        package.targets.append(
            .executableTarget(
                name: "Fuzz\(harness.name)",
                dependencies: harness.dependencies + ["FuzzDriver"],
                path: "Fuzz",
                sources: ["Harnesses/\(harness.name)Fuzz.swift"]
                    + (harness.name == "YAML" ? [] : ["\(harness.name)Drive.swift"]),
                swiftSettings: swiftSettings
            )
        )
    }
}
