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
    .library(name: "Drover", targets: ["Drover", "DroverWorker", "DroverClient"]),
    .library(name: "DroverClient", targets: ["DroverClient"]),
    .library(name: "DroverTesting", targets: ["DroverTesting"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    // Already resolved for async-http-client; named for the SMTP client's STARTTLS.
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    // The dashboard's server-rendered pages (templates compiled into the binary).
    .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
  ],
  targets: [
    .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
    .systemLibrary(name: "CSystemd", path: "Sources/CSystemd"),
    .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
    .target(name: "CDroverShim", path: "Sources/CDroverShim"),
    .target(name: "CSQLiteWAL", dependencies: ["CSQLite"], path: "Sources/CSQLiteWAL"),
    .target(name: "DroverCore", swiftSettings: strict),
    .target(name: "DroverWire", dependencies: ["DroverCore"], swiftSettings: strict),
    .target(
      name: "DroverSystem",
      dependencies: ["DroverCore", "CSystemd", "CDroverShim"],
      swiftSettings: strict),
    .target(
      name: "DroverStore",
      dependencies: ["DroverCore", "DroverSystem", "CSQLite", "CSQLiteWAL", "CLibPQ"],
      swiftSettings: strict),
    .target(name: "DroverSchedule", dependencies: ["DroverCore"], swiftSettings: strict),
    .target(
      name: "DroverWorker",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverClient",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem",
        .product(name: "Instrumentation", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverTesting",
      dependencies: [
        "DroverCore", "DroverWorker", .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverSupervisor",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverStore", "DroverSchedule",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverAlerts",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverStore", "DroverSupervisor",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverTracing",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverSupervisor",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .target(
      name: "DroverHTTP",
      dependencies: [
        "DroverCore", "DroverWire", "DroverStore", "DroverSupervisor", "DroverSystem",
        "DroverSchedule",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Mustache", package: "swift-mustache"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      exclude: ["Dashboard/MARKUP.md"],
      swiftSettings: strict),
    .target(
      name: "Drover",
      dependencies: [
        "DroverCore", "DroverWire", "DroverSystem", "DroverStore", "DroverWorker",
        "DroverSupervisor", "DroverSchedule", "DroverClient", "DroverAlerts", "DroverHTTP",
        "DroverTracing",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .executableTarget(name: "drover", dependencies: ["Drover"], swiftSettings: strict),
    .target(
      name: "DroverTestSupport",
      dependencies: [
        "DroverCore", "DroverStore", "DroverSystem", "DroverWire",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
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
      name: "DroverAlertsTests",
      dependencies: [
        "DroverAlerts", "DroverCore", "DroverWire", "DroverSystem", "DroverTestSupport",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "DroverScheduleTests", dependencies: ["DroverSchedule", "DroverCore"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverHTTPTests", dependencies: ["DroverHTTP", "DroverCore"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverStoreTests", dependencies: ["DroverStore", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverWorkerTests",
      dependencies: ["DroverCore", "DroverWorker", "DroverTesting", "DroverTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "DroverIntegrationTests",
      dependencies: [
        "DroverCore", "DroverStore", "DroverWire", "DroverSystem", "DroverTestSupport",
        "DroverClient", .product(name: "Instrumentation", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict),
    // The dashboard in a real headless Chromium (Debian's package) against a real `drover serve`.
    .testTarget(
      name: "DroverBrowserTests",
      dependencies: ["DroverCore", "DroverSystem", "DroverTestSupport"],
      swiftSettings: strict),
    // The deployment under a real systemd (a booted Debian container): slow, needs root.
    .testTarget(
      name: "DroverSystemdTests", dependencies: ["DroverCore", "DroverTestSupport"],
      swiftSettings: strict),
  ]
)
