import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// `drover top` in a real terminal (tmux), against a real supervisor, and the process titles
  /// `ps` and `pgrep` show.
  @Suite("watching: top and process titles")
  struct Watching {
    /// A tmux server of the test's own (its own socket name), killed at the end.
    final class Tmux {
      let socket = "drover-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      func run(_ args: [String]) throws -> ProcessOutput {
        try ChildProcess.run("/usr/bin/tmux", ["-L", socket] + args, timeout: .seconds(30))
      }
      func screen(_ session: String) -> String {
        (try? run(["capture-pane", "-p", "-t", session]).stdoutText) ?? ""
      }
      deinit { _ = try? run(["kill-server"]) }
    }

    /// The screen shows the supervisor, each pool with its workers and their states, the job
    /// counts per type and a dead job's error; it redraws as jobs finish, and `q` quits it.
    @Test func topShowsPoolsWorkersQueuesAndFailuresAndQuitsOnQ() throws {
      let h = try SupervisorHarness(
        pools: poolTable("work", #"handler = "sleep""#, "min = 2", "max = 2")
          + poolTable("flaky", #"handler = "fail""#, "min = 1", "max = 1", "max_attempts = 1"))
      try h.start()
      let dead = try h.enqueue("flaky", #"{"message": "the disk is on fire"}"#)
      try h.waitUntil("the flaky job is dead", timeout: .seconds(30)) {
        try h.jobState(dead) == "dead"
      }
      let long = try h.enqueue("work", #"{"ms": 60000}"#)
      try h.waitUntil("the long job runs", timeout: .seconds(30)) {
        try h.jobState(long) == "running"
      }
      let tmux = Tmux()
      let started = try tmux.run([
        "new-session", "-d", "-s", "top", "-x", "160", "-y", "50",
        "'\(h.binary)' top --config '\(h.configPath)' --interval 0.2",
      ])
      #expect(started.exitCode == 0, "\(started.stderrText)")
      var screen = ""
      try h.waitUntil("top shows the supervisor, pools, workers and the failure") {
        screen = tmux.screen("top")
        return screen.contains(": running") && screen.contains("work  2/2 workers")
          && screen.contains("flaky  1/1 workers") && screen.contains("busy")
          && screen.contains("#\(long)") && screen.contains("the disk is on fire")
          && screen.contains("#\(dead) flaky dead after 1")
      }
      #expect(screen.contains("idle"), "\(screen)")
      // The per-type table: one running job of type work.
      #expect(
        screen.split(separator: "\n").contains { $0.hasPrefix("work ") && $0.contains(" 1 ") },
        "\(screen)")
      _ = try tmux.run(["send-keys", "-t", "top", "q"])
      try h.waitUntil("top quit on q") {
        (try tmux.run(["has-session", "-t", "top"])).exitCode != 0
      }
    }

    /// Workers are titled `drover worker pool=NAME` and named `drover`, so `ps` says what
    /// they are and `pgrep drover` finds them (exec'd through /proc/self/exe they were "exe").
    @Test func workersShowTheirPoolInPsAndPgrepFindsThem() throws {
      let h = try SupervisorHarness(pools: poolTable("mail", #"handler = "noop""#, "min = 1"))
      try h.start()
      let pid = try #require(try h.workerPIDs("mail").first)
      try h.waitUntil("the worker titled itself") {
        SupervisorHarness.commandLine(pid)?.first == "drover worker pool=mail"
      }
      let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
      #expect(comm == "drover\n")
      let found = try ChildProcess.run("/usr/bin/pgrep", ["-x", "drover"])
      #expect(found.stdoutText.split(separator: "\n").contains("\(pid)"), "\(found.stdoutText)")
    }
  }
}

/// The demo a new user runs first: it shows the supervisor working and, when it stops, says
/// how to look at what happened.
@Suite("CLI: the demo")
struct CLIDemoTests {
  /// The package's folder: this file is Tests/DroverIntegrationTests/NAME.swift in it.
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

  @Test func theDemoRunsDrainsAndSaysWhatToLookAtNext() throws {
    let f = try CLIFixture(
      config: try String(
        contentsOfFile: Self.packageRoot + "/config/demo.toml", encoding: .utf8))
    let r = try f.drover(
      ["demo", "--seconds", "3", "--rate", "200"], timeout: .seconds(120))
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.stdoutText.contains(/t=\d+s running \| workers fast=/), "\(r.stdoutText)")
    #expect(r.stderrText.contains("draining the supervisor"), "\(r.stderrText)")
    #expect(r.stdoutText.contains("drover jobs list --state dead --config \(f.configPath)"))
    #expect(r.stdoutText.contains("drover top --config"))
    let stats = try f.drover(["jobs", "stats", "--json"])
    let completed = try JSONValue.parse(stats.stdoutText)["completed"]?.intValue ?? 0
    #expect(completed > 0, "\(stats.stdoutText)")
  }
}
