// swift-tools-version:6.0
// An application that embeds Drover: two typed jobs, the binary that runs them (supervisor and
// workers alike), and a test of its handlers in Drover's testing mode.
import PackageDescription

let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "drover-examples",
  platforms: [.macOS(.v15)],
  dependencies: [.package(name: "drover", path: "..")],
  targets: [
    .target(
      name: "ExampleJobs",
      dependencies: [.product(name: "Drover", package: "drover")],
      swiftSettings: strict),
    .executableTarget(
      name: "example-app",
      dependencies: ["ExampleJobs", .product(name: "Drover", package: "drover")],
      swiftSettings: strict),
    .testTarget(
      name: "ExampleJobsTests",
      dependencies: [
        "ExampleJobs", .product(name: "Drover", package: "drover"),
        .product(name: "DroverTesting", package: "drover"),
      ],
      swiftSettings: strict),
  ]
)
