import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("recycling by size, drain of a busy pool")
  struct Lifecycle {
    /// `max_rss` below any worker's size recycles workers (between jobs, never mid-job).
    @Test func maxRSSRecyclesAWorkerAboveIt() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "sleep""#, "min = 1", "max = 1", #"max_rss = "1MiB""#))
      try h.start()
      let first = try #require(try h.workerPIDs("p").first)
      let id = try h.enqueue("p", #"{"ms": 2500}"#)
      try h.waitUntil("a replacement worker is ready", timeout: .seconds(15)) {
        let pids = try h.workerPIDs("p")
        return !pids.isEmpty && !pids.contains(first)
      }
      #expect(h.log().contains("above max_rss"))
      // The job that was running when the size was noticed finished normally.
      try h.waitUntil("the job completed", timeout: .seconds(15)) {
        try h.jobState(id) == "completed"
      }
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 1)
      #expect(job["errors"]?.arrayValue?.isEmpty == true)
      #expect(try h.stop().exitCode == 0)
    }

    /// `ctl drain` while a job runs: dispatch stops, the running job finishes, prefetched and
    /// queued jobs stay queued untouched (draining, then drained), the workers stay up;
    /// `ctl resume` runs the rest.
    @Test func drainLetsTheRunningJobFinishAndGivesBackPrefetchedOnes() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "sleep""#, "min = 1", "max = 1"))
      try h.start()
      let worker = try #require(try h.workerPIDs("p").first)
      let long = try h.enqueue("p", #"{"ms": 1500}"#)
      var rest: [JobID] = []
      for _ in 0..<3 { rest.append(try h.enqueue("p", #"{"ms": 50}"#)) }
      try h.waitUntil("the long job runs") { try h.jobState(long) == "running" }
      let r = try h.drover(["ctl", "drain"])
      #expect(r.exitCode == 0, "\(r.stderrText)")
      #expect(try h.pool("p")["paused"]?.boolValue == true)
      try h.waitUntil("the supervisor is drained", timeout: .seconds(10)) {
        try h.state() == "drained"
      }
      #expect(try h.jobState(long) == "completed")
      for id in rest {
        let job = try h.job(id)
        #expect(job["state"]?.stringValue == "queued")
        #expect(job["attempts"]?.intValue == 0)
        #expect(job["errors"]?.arrayValue?.isEmpty == true)
      }
      #expect(try h.workerPIDs("p") == [worker])
      SupervisorHarness.pause(.milliseconds(300))
      #expect(try h.stats()["queued"] == 3, "nothing is dispatched while drained")

      #expect(try h.drover(["ctl", "resume"]).exitCode == 0)
      try h.waitUntil("the rest completed") { try h.stats()["completed"] == 4 }
      #expect(try h.state() == "running")
      #expect(try h.stop().exitCode == 0)
    }
  }
}

extension SupervisorTests.Lifecycle {
  /// Another process holds the store's write lock past the busy timeout (10 s): the group
  /// commit fails, the supervisor keeps the outcome and retries without spinning, and once the
  /// lock is gone the job is stored as completed, once.
  @Test func aStoreLockedPastTheBusyTimeoutLosesNoOutcome() throws {
    let h = try SupervisorHarness(
      pools: poolTable("p", #"handler = "sleep""#, "min = 1", "max = 1"))
    try h.start()
    let id = try h.enqueue("p", #"{"ms": 1500}"#)
    try h.waitUntil("the job runs") { try h.jobState(id) == "running" }
    let script = """
      import sqlite3, sys, time
      c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
      c.execute("BEGIN IMMEDIATE")
      print("locked", flush=True)
      time.sleep(12)
      c.execute("COMMIT")
      """
    let locker = try ChildProcess.start("/usr/bin/env", ["python3", "-c", script, h.storePath])
    try h.waitUntil("the commit fails on the lock", timeout: .seconds(25)) {
      h.log().contains("group commit failed")
    }
    let failures = h.log().components(separatedBy: "group commit failed").count - 1
    // Retries wait for the 100 ms tick (each try itself waits out the busy timeout): a few.
    #expect(failures < 5, "commit attempts while locked: \(failures)")
    #expect(try locker.waitForExit(timeout: .seconds(20)).exitCode == 0)
    try h.waitUntil("the job is stored as completed", timeout: .seconds(20)) {
      try h.jobState(id) == "completed"
    }
    #expect(try h.job(id)["attempts"]?.intValue == 1)
    #expect(try h.stop().exitCode == 0)
  }
}

extension SupervisorTests.Lifecycle {
  /// kill -9 of the supervisor while an exec job runs: the worker dies with it (parent-death
  /// signal) and takes its command along (process-group kill), so the retry after the next
  /// start never runs beside a leftover of the attempt it replaces.
  @Test func execCommandsDieWithAKilledSupervisor() throws {
    // The command writes its pid to a file in the harness's folder, known once it exists.
    let h = try SupervisorHarness(pools: poolTable("x", #"handler = "noop""#))
    let pidFile = h.dir.file("command.pid")
    try h.writeConfig(
      SupervisorHarness.configText(
        pools: poolTable(
          "x", #"handler = "exec""#, "min = 1", "max = 1",
          "command = [\"/bin/sh\", \"-c\", \"echo $$ > \\\"$0\\\"; exec sleep 30\", \"\(pidFile)\"]"
        )))
    try h.start()
    let id = try h.enqueue("x")
    var commandPID: Int32 = 0
    try h.waitUntil("the command runs and wrote its pid") {
      guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
      else { return false }
      commandPID = pid
      return SupervisorHarness.isAlive(pid)
    }
    let workers = try h.workerPIDs("x")
    _ = try h.stop(signal: SIGKILL, timeout: .seconds(5))
    try h.waitUntil("the worker and its command are gone", timeout: .seconds(5)) {
      !SupervisorHarness.isAlive(commandPID)
        && workers.allSatisfy { !SupervisorHarness.isAlive($0) }
    }
    #expect(try h.jobState(id) == "running", "left for the next start to rescue")
  }
}
