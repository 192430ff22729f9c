import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// A temp folder with a config file, and a way to run the real `drover` against it.
final class CLIFixture {
  /// Two pools: `email` (max_attempts 5) and `reports` (types report and export).
  static let defaultConfig = """
    [store]
    path = "var/drover.db"

    [control]
    socket = "var/control.sock"

    [pools.email]
    max_attempts = 5

    [pools.reports]
    types = ["report", "export"]
    """

  let dir: TempDirectory
  let configPath: String
  let binary: String

  init(config: String = CLIFixture.defaultConfig) throws {
    dir = try TempDirectory(prefix: "drover-cli")
    binary = try DroverBinary.path()
    configPath = dir.file("drover.toml")
    try write("drover.toml", config)
  }

  /// The store file of the default config.
  var storePath: String { dir.file("var/drover.db") }
  /// The control socket of the default config.
  var socketPath: String { dir.file("var/control.sock") }

  /// Writes `text` to `name` inside the folder and returns its path.
  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    let path = dir.file(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// The environment children get: this process's, without variables that would change
  /// what they do, plus `changes`.
  func environment(_ changes: [String: String?] = [:]) -> [String: String] {
    var all: [String: String?] = ["DROVER_CONFIG": nil, "NOTIFY_SOCKET": nil]
    for (k, v) in changes { all[k] = v }
    return ChildProcess.environment(all)
  }

  /// Runs `drover ARGS --config <the fixture's config>` (without `--config` when `config` is
  /// false) to completion.
  func drover(
    _ args: [String], stdin: String = "", config: Bool = true,
    environment changes: [String: String?] = [:], workingDirectory: String? = nil,
    timeout: Duration = .seconds(60)
  ) throws -> ProcessOutput {
    try ChildProcess.run(
      binary, args + (config ? ["--config", configPath] : []), environment: environment(changes),
      stdin: Array(stdin.utf8), workingDirectory: workingDirectory, timeout: timeout)
  }

  /// Starts `drover ARGS --config <config>` in the background.
  func start(_ args: [String], stdin: String = "") throws -> RunningChild {
    try ChildProcess.start(
      binary, args + ["--config", configPath], environment: environment(),
      stdin: Array(stdin.utf8))
  }

  /// `enqueue ARGS`, expecting success; returns the printed id.
  func enqueue(_ args: [String]) throws -> JobID {
    let r = try drover(["enqueue"] + args)
    #expect(r.exitCode == 0, "enqueue \(args) failed: \(r.stderrText)")
    return try #require(JobID(r.trimmedStdout), "enqueue printed \(r.stdoutText)")
  }

  /// `jobs show ID --json`, parsed.
  func show(_ id: JobID) throws -> JSONValue {
    let r = try drover(["jobs", "show", String(id), "--json"])
    #expect(r.exitCode == 0, "jobs show failed: \(r.stderrText)")
    return try JSONValue.parse(r.stdoutText)
  }

  /// `jobs stats --json`, as state name → count.
  func stats() throws -> [String: Int64] {
    let r = try drover(["jobs", "stats", "--json"])
    #expect(r.exitCode == 0, "jobs stats failed: \(r.stderrText)")
    var counts: [String: Int64] = [:]
    for f in try JSONValue.parse(r.stdoutText).objectValue ?? [] {
      counts[f.key] = f.value.intValue
    }
    return counts
  }

  /// The fixture's store, opened in this process (the tests' way to put jobs into states no
  /// CLI command reaches without a supervisor).
  func openStore() throws -> SQLiteStore {
    try SQLiteStore(path: storePath)
  }
}

extension ProcessOutput {
  /// stderr's non-empty lines.
  var stderrLines: [Substring] { stderrText.split(separator: "\n") }
}
