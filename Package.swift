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
        .executable(name: "hh-simulate", targets: ["hh-simulate"]),
        .library(name: "VitalsCore", targets: ["VitalsCore"]),
        .library(name: "VoiceCore", targets: ["VoiceCore"]),
        .library(name: "MediaFiles", targets: ["MediaFiles"]),
        .library(name: "Simulation", targets: ["Simulation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Pure cores: standard library and SIMD only, no I/O.
        .target(name: "VitalsCore", swiftSettings: strictSettings),
        .target(name: "VoiceCore", swiftSettings: strictSettings),
        // Streaming, validated media file readers and writers (Glibc only).
        .target(name: "MediaFiles", swiftSettings: strictSettings),
        // Synthetic patients with known truth, for the tests and the demo.
        .target(name: "Simulation", dependencies: ["VitalsCore"], swiftSettings: strictSettings),
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
                "Analysis", "VoiceCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
        .executableTarget(
            name: "vitals-bench",
            dependencies: ["VitalsCore", "Simulation"],
            path: "Benchmarks/VitalsBenchmarks",
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "voice-bench",
            dependencies: ["VoiceCore", "Analysis"],
            path: "Benchmarks/VoiceBenchmarks",
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
            name: "VitalsAccuracyTests",
            dependencies: ["VitalsCore", "Simulation"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "VoiceAccuracyTests", dependencies: ["Analysis"], swiftSettings: strictSettings),
        .testTarget(
            name: "HHCtlTests",
            dependencies: ["Simulation", "MediaFiles", "VitalsCore"],
            swiftSettings: strictSettings
        ),
    ]
)
