import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// `ctl upgrade` to a binary that cannot take over is refused before anything is handed
  /// over: same pid, same workers, jobs keep running. (The successful upgrade between two
  /// builds, with a steady stream of jobs, is in DroverSystemdTests: it needs a release build.)
  @Suite("in-place upgrade refused")
  struct UpgradeRefusal {
    static let pool = poolTable("p", #"handler = "sleep""#, "min = 2", "max = 2")

    /// Starts the supervisor from a copy of drover at `dir/bin/drover`, the file an upgrade
    /// replaces.
    static func start(_ h: SupervisorHarness) throws -> String {
      let bin = h.dir.file("bin/drover")
      try FileManager.default.createDirectory(
        atPath: h.dir.file("bin"), withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: h.binary, toPath: bin)
      try h.start(shellPrefix: "exec '\(bin)' \"$@\"")
      return bin
    }

    /// Puts `text` at `path` the way a package manager does: a new file renamed over it.
    static func replace(_ path: String, with text: String, mode: Int) throws {
      let tmp = path + ".new"
      try Data(text.utf8).write(to: URL(fileURLWithPath: tmp))
      chmod(tmp, mode_t(mode))
      rename(tmp, path)
    }

    @Test(arguments: [
      ("#!/bin/sh\nexit 1\n", 0o755, "exited with status 1"),
      ("not a program", 0o755, "cannot run it"),
      (
        "#!/bin/sh\necho 'drover-upgrade 999 9.9' >&3\n", 0o755,
        "wanted \"drover-upgrade 1 VERSION\""
      ),
    ])
    func anUpgradeToABinaryThatCannotTakeOverIsRefused(
      binary: String, mode: Int, why: String
    ) throws {
      let h = try SupervisorHarness(pools: Self.pool)
      let bin = try Self.start(h)
      let pid = try h.supervisor().pid
      let workers = Set(try h.workerPIDs("p"))
      let running = try h.enqueue("p", #"{"ms": 1500}"#)
      try h.waitUntil("the job runs") { try h.jobState(running) == "running" }
      try Self.replace(bin, with: binary, mode: mode)
      let r = try h.drover(["ctl", "upgrade"])
      #expect(r.exitCode != 0)
      #expect(r.stderrText.contains("upgrade refused, still running"), "\(r.stderrText)")
      #expect(r.stderrText.contains(why), "\(r.stderrText)")
      #expect(try h.status()["pid"]?.intValue == Int64(pid))
      #expect(Set(try h.workerPIDs("p")) == workers)
      try h.waitUntil("the running job completes", timeout: .seconds(20)) {
        try h.jobState(running) == "completed"
      }
      let later = try h.enqueue("p", #"{"ms": 10}"#)
      try h.waitUntil("a new job completes", timeout: .seconds(20)) {
        try h.jobState(later) == "completed"
      }
      #expect(try h.job(running)["errors"]?.arrayValue?.isEmpty == true)
      #expect(try h.stop().exitCode == 0)
    }

    /// A new binary that passes the probe but then cannot take the state over (here a wrapper
    /// that starts drover on a config without the running pool) rolls back: the old binary
    /// runs again in the same process with the same state, and the `ctl upgrade` client hears
    /// why on the same connection. The running job and the workers never notice.
    @Test func aNewImageThatCannotTakeOverRollsBack() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      let bin = try Self.start(h)
      let pid = try h.supervisor().pid
      let workers = Set(try h.workerPIDs("p"))
      let other = try h.write(
        "other.toml",
        SupervisorHarness.configText(
          pools: poolTable("q", #"handler = "noop""#, "min = 0", "max = 1")))
      let running = try h.enqueue("p", #"{"ms": 1500}"#)
      try h.waitUntil("the job runs") { try h.jobState(running) == "running" }
      try Self.replace(
        bin,
        with: """
          #!/bin/sh
          if [ "$1" = serve ]; then exec '\(h.binary)' serve --config '\(other)'; fi
          exec '\(h.binary)' "$@"

          """, mode: 0o755)
      let r = try h.drover(["ctl", "upgrade"])
      #expect(r.exitCode != 0)
      #expect(r.stderrText.contains("upgrade rolled back to"), "\(r.stderrText)\n\(h.logTail())")
      #expect(r.stderrText.contains("has no pool p"), "\(r.stderrText)")
      #expect(try h.status()["pid"]?.intValue == Int64(pid))
      #expect(Set(try h.workerPIDs("p")) == workers)
      try h.waitUntil("the running job completes", timeout: .seconds(20)) {
        try h.jobState(running) == "completed"
      }
      let job = try h.job(running)
      #expect(job["attempts"]?.intValue == 1 && job["errors"]?.arrayValue?.isEmpty == true)
      #expect(try h.stop().exitCode == 0)
    }

    /// SIGUSR2 asks for the same upgrade; a refusal is only logged.
    @Test func aRefusedSIGUSR2UpgradeIsLogged() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      let bin = try Self.start(h)
      try Self.replace(bin, with: "#!/bin/sh\nexit 3\n", mode: 0o755)
      try h.supervisor().kill(SIGUSR2)
      try h.waitUntil("the refusal is logged") { h.log().contains("upgrade (SIGUSR2) refused") }
      #expect(try h.state() == "running")
      #expect(try h.stop().exitCode == 0)
    }
  }
}
