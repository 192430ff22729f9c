import ArgumentParser

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Run benchmarks (release builds).")

  func run() throws { throw CLIError("bench: not yet") }
}
