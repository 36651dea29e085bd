// swift-tools-version: 6.1
import PackageDescription

/// Settings every target of the product shares.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "HealthHelper",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hhctl", targets: ["hhctl"]),
        .executable(name: "hhd", targets: ["hhd"]),
        .executable(name: "hh-relay", targets: ["hh-relay"]),
        .executable(name: "hh-simulate", targets: ["hh-simulate"]),
        .library(name: "VitalsCore", targets: ["VitalsCore"]),
        .library(name: "VoiceCore", targets: ["VoiceCore"]),
        .library(name: "MediaFiles", targets: ["MediaFiles"]),
        .library(name: "Simulation", targets: ["Simulation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
    ],
    targets: [
        // Pure cores: standard library and SIMD only, no I/O.
        .target(name: "VitalsCore", swiftSettings: strictSettings),
        .target(name: "VoiceCore", swiftSettings: strictSettings),
        // Streaming, validated media file readers and writers (Glibc only).
        .target(name: "MediaFiles", swiftSettings: strictSettings),
        // Synthetic patients with known truth, for the tests and the demo.
        .target(name: "Simulation", dependencies: ["VitalsCore", "Devices", "CTurboJPEG"], swiftSettings: strictSettings),
        // The AWS event-stream framing (Transcribe streaming, Bedrock ConverseStream), pure.
        .target(name: "AWSEventStream", swiftSettings: strictSettings),
        // The conversation's pure core: emergency detection (more with the voice-turn issue).
        .target(name: "Conversation", dependencies: ["HHProtocol"], swiftSettings: strictSettings),
        // Wire types shared by kiosk and relay (versioned JSON).
        .target(name: "HHProtocol", swiftSettings: strictSettings),
        // Module maps over the C libraries the kiosk's devices use.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        // The kiosk's echo canceller: speexdsp behind a thin adapter, and the ERLE meter.
        .target(name: "EchoCancellation", dependencies: ["CSpeexDSP"], swiftSettings: strictSettings),
        // Module maps over the relay's offline voice engines.
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev", "pocketsphinx-en-us"])]),
        .systemLibrary(name: "CESpeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        // Speech recognition (PocketSphinx) and synthesis (eSpeak NG) with no cloud: thin
        // adapters, each library on threads of its own.
        .target(
            name: "SpeechEngines",
            dependencies: ["CPocketSphinx", "CESpeakNG", "VoiceCore"],
            swiftSettings: strictSettings
        ),
        // Camera, microphone and speaker (ALSA), and file-backed sources with the same protocols.
        .target(
            name: "Devices",
            dependencies: ["CALSA", "CV4L2", "CTurboJPEG", "Analysis", "MediaFiles", "VitalsCore", "VoiceCore"],
            swiftSettings: strictSettings
        ),
        // The kiosk's SQLite store: measurements, sessions, outbox, retention.
        .target(
            name: "EdgeStore",
            dependencies: ["HHProtocol", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        // What `hhctl` shares with the daemon, and nothing more: the control socket's client and
        // protocol, the status types, the configuration and the paths.
        .target(
            name: "KioskControl",
            dependencies: [
                "HHProtocol", "VitalsCore",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        // The daemon's core: pipeline, sessions, relay delivery, control server.
        .target(
            name: "Kiosk",
            dependencies: [
                "Devices", "EchoCancellation", "EdgeStore", "HHProtocol", "KioskControl", "MediaFiles", "VitalsCore", "VoiceCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        // The cloud relay: device API, auth, storage (SQLite or Postgres), metrics.
        .target(
            name: "AWSSigning",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Relay",
            dependencies: [
                "AWSSigning", "AWSEventStream", "Conversation", "MediaFiles", "SpeechEngines", "VoiceCore",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "HHProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/system-prompt.txt"), .copy("Resources/summary-prompt.txt"), .copy("Resources/web")],
            swiftSettings: strictSettings
        ),
        // Glue between the file formats and the engines, shared by the executables.
        .target(
            name: "Analysis",
            dependencies: ["VitalsCore", "VoiceCore", "MediaFiles"],
            swiftSettings: strictSettings
        ),

        // Executables: thin shells.
        .executableTarget(
            name: "hhctl",
            dependencies: [
                "Analysis", "VoiceCore", "KioskControl", "Devices", "EchoCancellation", "HHProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "hhd",
            dependencies: [
                "Kiosk", "KioskControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "hh-relay",
            dependencies: [
                "Relay", "HHProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "hh-simulate",
            dependencies: [
                "Simulation", "MediaFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),

        // Benchmarks (release builds only; see docs/BENCHMARKS.md).
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/Support",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "vitals-bench",
            dependencies: ["VitalsCore", "Simulation", "BenchmarkSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/VitalsBenchmarks",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "vitals-report",
            dependencies: ["VitalsCore", "Simulation", "BenchmarkSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/VitalsReport",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "voice-bench",
            dependencies: ["VoiceCore", "Analysis", "Kiosk", "EchoCancellation", "BenchmarkSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/VoiceBenchmarks",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "kiosk-bench",
            dependencies: ["Kiosk", "KioskControl", "EdgeStore", "MediaFiles", "Simulation", "VitalsCore", "BenchmarkSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/KioskBenchmarks",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "turn-bench",
            dependencies: [
                "Relay", "HHProtocol", "Conversation", "MediaFiles", "SpeechEngines", "Kiosk", "KioskControl", "EdgeStore", "Devices", "BenchmarkSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/TurnBenchmarks",
            swiftSettings: strictSettings
        ),

        // Training support: dumps the voice features the model is trained on (Training/voice).
        .executableTarget(
            name: "voice-features",
            dependencies: ["VoiceCore", "MediaFiles", "Analysis"],
            path: "Training/VoiceFeatures",
            swiftSettings: strictSettings
        ),

        .testTarget(name: "VitalsCoreTests", dependencies: ["VitalsCore", "Simulation"], swiftSettings: strictSettings),
        .testTarget(name: "VoiceCoreTests", dependencies: ["VoiceCore"], swiftSettings: strictSettings),
        .testTarget(name: "MediaFilesTests", dependencies: ["MediaFiles"], swiftSettings: strictSettings),
        .testTarget(
            name: "SpeechEnginesTests",
            dependencies: ["SpeechEngines", "Conversation", "HHProtocol", "MediaFiles", "VoiceCore", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "ConversationTests", dependencies: ["Conversation", "HHProtocol", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "AWSEventStreamTests", dependencies: ["AWSEventStream"], exclude: ["Fixtures"], swiftSettings: strictSettings),
        .testTarget(
            name: "VitalsAccuracyTests",
            dependencies: ["VitalsCore", "Simulation"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "VoiceAccuracyTests", dependencies: ["Analysis", "VoiceCore"], swiftSettings: strictSettings),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "Relay", "HHProtocol", "AWSSigning", "TestSupport", "Conversation", "MediaFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // What more than one test target needs (running a program to its end).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "AWSSigningTests",
            dependencies: [
                "AWSSigning", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "DevicesTests", dependencies: ["Devices", "VitalsCore", "CTurboJPEG"], swiftSettings: strictSettings),
        .testTarget(name: "EdgeStoreTests", dependencies: ["EdgeStore"], swiftSettings: strictSettings),
        .testTarget(
            name: "EchoCancellationTests",
            dependencies: ["EchoCancellation", "Kiosk", "MediaFiles", "TestSupport", "VoiceCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KioskTests",
            dependencies: [
                "Devices", "Kiosk", "KioskControl", "EdgeStore", "MediaFiles", "VitalsCore", "HHProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HHDTests",
            dependencies: [
                "EdgeStore", "HHProtocol", "Kiosk", "KioskControl", "Simulation", "MediaFiles", "VitalsCore", "VoiceCore", "Relay", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HHCtlTests",
            dependencies: ["Simulation", "MediaFiles", "VitalsCore"],
            swiftSettings: strictSettings
        ),
        // Mutation fuzzing of every parser of outside bytes; seeds and regression inputs are read
        // from the source tree (#filePath), not bundled.
        .testTarget(
            name: "FuzzTests",
            dependencies: [
                "Analysis", "Devices", "HHProtocol", "Kiosk", "KioskControl", "MediaFiles", "Relay", "VitalsCore", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Corpus", "Regressions"],
            swiftSettings: strictSettings
        ),
    ]
)
