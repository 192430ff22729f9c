import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

@Suite("CLI config and store errors")
struct CLIConfigTests {
  static let badConfig = """
    [store]
    path = "var/drover.db"

    [control]
    socket = "var/control.sock"

    [pools.email]
    min = 5
    max = 2
    """

  @Test func configCheckSaysOk() throws {
    let f = try CLIFixture()
    let r = try f.drover(["config", "check"])
    #expect(r.exitCode == 0)
    #expect(r.stdoutText == "ok\n")
    #expect(r.stderrText.isEmpty)
    let positional = try f.drover(["config", "check", f.configPath], config: false)
    #expect(positional.stdoutText == "ok\n")
  }

  @Test func configCheckNamesFileLineAndKey() throws {
    let f = try CLIFixture()
    let bad = try f.write("bad.toml", Self.badConfig)
    let r = try f.drover(["config", "check", bad], config: false)
    #expect(r.exitCode == 1)
    #expect(r.stdoutText.isEmpty)
    #expect(r.stderrText.contains("bad.toml:"), "\(r.stderrText)")
    #expect(r.stderrText.contains("pools.email"), "\(r.stderrText)")
    let line = try #require(r.stderrLines.first)
    #expect(line.contains(/bad\.toml:\d+: pools\.email\./), "\(line)")
  }

  @Test(arguments: [
    ["jobs", "stats"], ["enqueue", "email"], ["jobs", "list"], ["dead", "list"],
    ["jobs", "show", "1"],
  ])
  func otherCommandsFailOnABadConfigWithOneLine(args: [String]) throws {
    let f = try CLIFixture(config: Self.badConfig)
    let r = try f.drover(args)
    #expect(r.exitCode == 1)
    #expect(r.stdoutText.isEmpty)
    #expect(r.stderrLines.count == 1, "\(r.stderrText)")
    #expect(r.stderrText.hasPrefix("drover: "))
    #expect(r.stderrText.contains("pools.email"))
    #expect(!FileManager.default.fileExists(atPath: f.storePath), "no store for a bad config")
  }

  @Test func aMissingConfigFileIsOneLine() throws {
    let f = try CLIFixture()
    let r = try f.drover(["jobs", "stats", "--config", f.dir.file("absent.toml")], config: false)
    #expect(r.exitCode == 1)
    #expect(r.stderrLines.count == 1)
    #expect(r.stderrText.contains("absent.toml"))
  }

  @Test func configFlagBeatsTheEnvironmentWhichBeatsTheWorkingDirectory() throws {
    let f = try CLIFixture()
    func config(_ name: String) -> String {
      """
      [store]
      path = "\(name).db"
      [control]
      socket = "\(name).sock"
      [pools.email]
      """
    }
    let flag = try f.write("flag.toml", config("flag"))
    let env = try f.write("env.toml", config("env"))
    try f.write("drover.toml", config("cwd"))

    let viaFlag = try f.drover(
      ["enqueue", "email", "--config", flag], config: false,
      environment: ["DROVER_CONFIG": env], workingDirectory: f.dir.path)
    #expect(viaFlag.exitCode == 0, "\(viaFlag.stderrText)")
    let viaEnv = try f.drover(
      ["enqueue", "email"], config: false, environment: ["DROVER_CONFIG": env],
      workingDirectory: f.dir.path)
    #expect(viaEnv.exitCode == 0, "\(viaEnv.stderrText)")
    let viaCwd = try f.drover(
      ["enqueue", "email"], config: false, workingDirectory: f.dir.path)
    #expect(viaCwd.exitCode == 0, "\(viaCwd.stderrText)")
    let emptyEnv = try f.drover(
      ["enqueue", "email"], config: false, environment: ["DROVER_CONFIG": ""],
      workingDirectory: f.dir.path)
    #expect(emptyEnv.exitCode == 0, "\(emptyEnv.stderrText)")

    for (name, count) in [("flag", 1), ("env", 1), ("cwd", 2)] {
      let store = try SQLiteStore(path: f.dir.file("\(name).db"))
      #expect(try store.stats()[.queued] == count, "\(name)")
    }

    // config check: a positional PATH beats --config.
    let bad = try f.write("bad.toml", Self.badConfig)
    let check = try f.drover(["config", "check", bad, "--config", flag], config: false)
    #expect(check.exitCode == 1)
  }

  @Test func aStoreThatIsNotADroverDatabaseIsLeftUntouched() throws {
    let f = try CLIFixture()
    try FileManager.default.createDirectory(
      atPath: f.dir.file("var"), withIntermediateDirectories: true)
    let text = "these are my notes, not a job store\n"
    try f.write("var/drover.db", text)
    for args in [["jobs", "stats"], ["enqueue", "email"], ["enqueue", "--batch", "-"]] {
      let r = try f.drover(args, stdin: #"{"type": "email"}"#)
      #expect(r.exitCode == 1, "\(args)")
      #expect(r.stdoutText.isEmpty)
      #expect(r.stderrLines.count == 1, "\(r.stderrText)")
      #expect(r.stderrText.contains("not a Drover database"), "\(r.stderrText)")
      #expect(r.stderrText.contains(f.storePath))
    }
    #expect(try String(contentsOfFile: f.storePath, encoding: .utf8) == text)
    #expect(!FileManager.default.fileExists(atPath: f.storePath + "-wal"))
  }

  @Test func unknownFlagsAreUsageErrors() throws {
    let f = try CLIFixture()
    let r = try f.drover(["jobs", "list", "--colour"])
    #expect(r.exitCode == 64)
    #expect(r.stdoutText.isEmpty)
    let help = try f.drover(["enqueue", "--help"], config: false)
    #expect(help.exitCode == 0)
    #expect(help.stdoutText.contains("--unique-key"))
  }
}
