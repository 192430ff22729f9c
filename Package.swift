// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "drover",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "drover", targets: ["drover"]),
    .library(name: "Drover", targets: ["Drover"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
  ],
  targets: [
    .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
    .systemLibrary(name: "CSystemd", path: "Sources/CSystemd"),
    .target(name: "CDroverShim", path: "Sources/CDroverShim"),
    .target(name: "DroverCore", swiftSettings: strict),
    .target(name: "DroverWire", dependencies: ["DroverCore"], swiftSettings: strict),
    .target(
      name: "DroverSystem",
      dependencies: ["DroverCore", "CSystemd", "CDroverShim"],
      swiftSettings: strict),
    .target(name: "DroverStore", dependencies: ["DroverCore", "CSQLite"], swiftSettings: strict),
    .target(
      name: "DroverWorker",
      dependencies: ["DroverCore", "DroverWire", "DroverSystem"],
      swiftSettings: strict),
    .target(
      name: "DroverSupervisor",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverStore",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverHTTP",
      dependencies: [
        "DroverCore", "DroverWire", "DroverStore", "DroverSupervisor", "DroverSystem",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "Drover",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverStore", "DroverWorker",
        "DroverSupervisor", "DroverHTTP",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .executableTarget(name: "drover", dependencies: ["Drover"], swiftSettings: strict),
    .target(
      name: "DroverTestSupport",
      dependencies: ["DroverCore", "DroverStore", "DroverSystem", "DroverWire"],
      path: "Tests/DroverTestSupport",
      swiftSettings: strict),
    .testTarget(
      name: "DroverCoreTests", dependencies: ["DroverCore", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverWireTests", dependencies: ["DroverWire", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverSystemTests", dependencies: ["DroverSystem", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverSupervisorTests",
      dependencies: ["DroverSupervisor", "DroverWire", "DroverCore", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverHTTPTests", dependencies: ["DroverHTTP", "DroverCore"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverStoreTests", dependencies: ["DroverStore", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverIntegrationTests",
      dependencies: [
        "DroverCore", "DroverStore", "DroverWire", "DroverSystem", "DroverTestSupport",
      ],
      swiftSettings: strict),
  ]
)
