import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What a new user meets first: every problem of a config at once, with the key meant for a
/// misspelled one; handlers and exec programs checked against this host; where the config
/// comes from; the version.
@Suite("CLI: config problems")
struct CLIConfigProblemsTests {
  static let messy = """
    [store]
    path = "var/drover.db"
    retain_complted = "7d"

    [pools.email]
    handler = "noopp"
    min = 5
    max = 2

    [pools.run]
    handler = "exec"
    command = ["/no/such/program"]

    [pools.plain]
    handler = "exec"
    command = ["CONFIG_DIR/not-executable"]

    [supervisr]
    """

  /// `config check` lists every problem, one line each in file order, suggesting the key or
  /// handler meant; other commands fail with the first and say how many more there are.
  @Test func everyProblemIsReportedAtOnce() throws {
    let f = try CLIFixture()
    try f.write("not-executable", "#!/bin/sh\n")
    let text = Self.messy.replacingOccurrences(of: "CONFIG_DIR", with: f.dir.path)
    let bad = try f.write("bad.toml", text)
    let r = try f.drover(["config", "check", bad], config: false)
    #expect(r.exitCode == 1)
    let lines = r.stderrLines
    let expected = [
      #"bad.toml:3: store.retain_complted: unknown key (did you mean "retain_completed"?)"#,
      #"bad.toml:6: pools.email.handler: no handler is registered as "noopp""#,
      "bad.toml:7: pools.email.min: min (5) is greater than max (2)",
      "bad.toml:12: pools.run.command: /no/such/program: No such file or directory",
      "bad.toml:16: pools.plain.command: \(f.dir.path)/not-executable is not executable",
      #"bad.toml:18: supervisr: unknown section (did you mean "supervisor"?)"#,
    ]
    #expect(lines.count == expected.count, "\(r.stderrText)")
    for (line, want) in zip(lines, expected) { #expect(line.contains(want), "\(line)") }
    #expect(lines[1].contains(#"did you mean "noop"?"#), "\(lines[1])")

    let jobs = try f.drover(["jobs", "list", "--config", bad], config: false)
    #expect(jobs.exitCode == 1)
    #expect(jobs.stderrLines.count == 1, "\(jobs.stderrText)")
    #expect(jobs.stderrText.contains("store.retain_complted"), "\(jobs.stderrText)")
    #expect(jobs.stderrText.contains("(and 5 more problems: drover config check)"))
  }

  /// `serve` refuses a pool whose handler no worker could run, instead of reporting ready and
  /// crash-looping; a reload naming one is rejected and the old config goes on.
  @Test func anUnknownHandlerIsRefusedAtStartAndAtReload() throws {
    let good = poolTable("p", #"handler = "noop""#, "min = 1", "max = 1")
    let h = try SupervisorHarness(pools: poolTable("p", #"handler = "nosuch""#))
    try h.start(waitUntilRunning: false)
    let out = try h.waitForExit(timeout: .seconds(30))
    #expect(out.exitCode == 1)
    #expect(h.log().contains(#"pools.p.handler: no handler is registered as "nosuch""#))

    try h.writeConfig(SupervisorHarness.configText(pools: good))
    let serve = try h.start()
    try h.writeConfig(SupervisorHarness.configText(pools: poolTable("p", #"handler = "nosuch""#)))
    serve.kill(SIGHUP)
    try h.waitUntil("the reload was rejected", timeout: .seconds(30)) {
      h.log().contains("rejected") && h.log().contains("no handler is registered")
    }
    let id = try h.enqueueViaSocket("p")
    // The CLI reads the config too: give it the good one back (the supervisor keeps its own).
    try h.writeConfig(SupervisorHarness.configText(pools: good))
    try h.waitUntil("a job runs on the old config", timeout: .seconds(30)) {
      try h.jobState(id) == "completed"
    }
    #expect(try h.stop().exitCode == 0)
  }

  /// A missing config says how to name one; `--version` prints the version.
  @Test func aMissingConfigSaysHowToNameOneAndVersionPrints() throws {
    let f = try CLIFixture()
    #expect(mkdir(f.dir.file("elsewhere"), 0o700) == 0)
    let r = try f.drover(
      ["jobs", "list"], config: false, workingDirectory: f.dir.file("elsewhere"))
    #expect(r.exitCode != 0)
    #expect(r.stderrText.contains("--config PATH or $DROVER_CONFIG"), "\(r.stderrText)")
    let v = try f.drover(["--version"], config: false)
    #expect(v.exitCode == 0)
    #expect(v.trimmedStdout.contains(/^\d+\.\d+\.\d+/), "\(v.stdoutText)")
  }
}
