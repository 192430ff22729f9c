import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("pools")
  struct Pools {
    /// A pool whose workers cannot boot (exit 78: here a worker executable that refuses the
    /// pool, as a binary replaced by one without the pool's handler would; a config naming an
    /// unknown handler is refused at load) is marked crash-looping and respawned sparingly,
    /// while the other pools keep working.
    @Test func aPoolThatCannotBootIsCrashLoopingNotAForkBomb() throws {
      let h = try SupervisorHarness(
        pools: poolTable("good", #"handler = "noop""#, "min = 1", "max = 1")
          + poolTable("broken", #"handler = "noop""#, "min = 2", "max = 2"))
      let worker = try h.write(
        "worker.sh",
        """
        #!/bin/sh
        case " $* " in *" --pool broken "*) echo "drover worker: cannot boot" >&2; exit 78;; esac
        exec '\(h.binary)' "$@"
        """)
      #expect(chmod(worker, 0o755) == 0)
      try h.start(flags: SupervisorHarness.fastFlags + ["--worker-executable", worker])
      try h.waitUntil("the broken pool is crash-looping") {
        try h.pool("broken")["crash_looping"]?.boolValue == true
      }
      #expect(try h.pool("good")["crash_looping"]?.boolValue == false)
      // The event history since start says how often it spawned, and that it said so once.
      let probe = try h.events(replay: true)
      probe.drain()
      func spawns() -> Int {
        probe.count("worker_spawned") { $0["pool"]?.stringValue == "broken" }
      }
      let before = spawns()
      #expect(probe.count("pool_crash_looping") { $0["pool"]?.stringValue == "broken" } == 1)
      SupervisorHarness.pause(.seconds(3))
      probe.drain()
      let after = spawns()
      #expect(before <= 5, "spawns before crash-looping was noticed: \(before)")
      #expect(after - before <= 4, "spawns in 3 s of crash-looping: \(after - before)")
      #expect(h.log().contains("status 78"), "the log names exit status 78: \(h.logTail())")
      #expect(try h.pool("broken")["crash_looping"]?.boolValue == true)

      let id = try h.enqueue("good")
      try h.waitUntil("a job of the good pool completed") { try h.jobState(id) == "completed" }
      #expect(try h.stop().exitCode == 0)
    }

    /// `ctl scale` pins a pool's worker count within min and max, and `auto` releases it.
    @Test func scaleUpDownOutOfBoundsAndAuto() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "noop""#, "min = 1", "max = 4"))
      let serve = try h.start()
      func liveWorkerProcesses() -> Int {
        SupervisorHarness.children(of: serve.pid).filter(SupervisorHarness.isAlive).count
      }
      func ready() throws -> Int {
        try h.workers("p").filter {
          $0["ready"]?.boolValue == true && $0["retiring"]?.boolValue != true
        }.count
      }
      #expect(try h.workerPIDs("p").count == 1)

      var r = try h.drover(["ctl", "scale", "p", "3"])
      #expect(r.exitCode == 0, "scale 3: \(r.stderrText)")
      try h.waitUntil("3 workers are up") {
        try ready() == 3 && h.workers("p").count == 3 && liveWorkerProcesses() == 3
      }
      let p = try h.pool("p")
      #expect(p["auto"]?.boolValue == false)
      #expect(p["target"]?.intValue == 3)

      r = try h.drover(["ctl", "scale", "p", "1"])
      #expect(r.exitCode == 0, "scale 1: \(r.stderrText)")
      try h.waitUntil("1 worker is left", timeout: .seconds(10)) {
        try h.workers("p").count == 1 && liveWorkerProcesses() == 1
      }

      for bad in ["9", "0"] {
        r = try h.drover(["ctl", "scale", "p", bad])
        #expect(r.exitCode != 0, "scale \(bad) must fail")
        #expect(
          r.stderrText.contains("min 1") && r.stderrText.contains("max 4"),
          "scale \(bad): \(r.stderrText)")
      }
      r = try h.drover(["ctl", "scale", "nosuch", "2"])
      #expect(r.exitCode != 0)
      #expect(r.stderrText.contains("nosuch"), "\(r.stderrText)")
      #expect(try h.pool("p")["target"]?.intValue == 1, "a refused scale changes nothing")

      r = try h.drover(["ctl", "scale", "p", "auto"])
      #expect(r.exitCode == 0, "scale auto: \(r.stderrText)")
      #expect(try h.pool("p")["auto"]?.boolValue == true)
      let reply = try h.request(#"{"cmd":"scale","pool":"p","workers":2}"#)
      #expect(reply["ok"]?.boolValue == true && reply["target"]?.intValue == 2, "\(reply.render())")
      try h.waitUntil("2 workers are up") { try ready() == 2 && liveWorkerProcesses() == 2 }
      #expect(try h.stop().exitCode == 0)
    }

    /// `ctl status` shows each worker's current job and how long it has run, growing while it
    /// runs and gone when it ends.
    @Test func statusShowsEachWorkersJobAndHowLongItHasRun() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"))
      try h.start()
      let id = try h.drover(["enqueue", "sleepy", #"{"ms": 3000}"#]).trimmedStdout
      func busy() throws -> JSONValue? {
        try h.workers("sleepy").first { $0["job"]?.intValue.map(String.init) == id }
      }
      var first = 0.0
      try h.waitUntil("the worker shows the job running", timeout: .seconds(20)) {
        first = try busy()?["job_running_ms"]?.doubleValue ?? 0
        return first > 0
      }
      try h.waitUntil("the run time grows", timeout: .seconds(20)) {
        (try busy()?["job_running_ms"]?.doubleValue ?? 0) > first + 100
      }
      try h.waitUntil("the job ends and the worker is idle", timeout: .seconds(30)) {
        try h.workers("sleepy").allSatisfy { $0["job_running_ms"] == .null && $0["job"] == .null }
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// A job handed to a busy worker behind its running one is "claimed, not started" in
    /// `ctl status` (not its current job), and a job's `started_at` is when its handler began
    /// in the worker: later than the claim even for a job claimed in its own enqueue's commit.
    @Test func aClaimedJobIsNotRunningAndStartedAtIsTheHandlersStart() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "concurrency = 1"))
      try h.start()
      try h.waitUntil("the worker is up") { try h.workers("sleepy").count == 1 }
      // Over the socket: claimed in the enqueue's own commit, so the claim time equals
      // created_at; the worker starts it after.
      let quick = try h.enqueueViaSocket("sleepy", #"{"ms": 1}"#)
      try h.waitUntil("the quick job completes") { try h.jobState(quick) == "completed" }
      let q = try h.job(quick)
      let created = try #require(q["created_at"]?.stringValue.flatMap(Timestamp.parse))
      let started = try #require(q["started_at"]?.stringValue.flatMap(Timestamp.parse))
      #expect(
        started > created, "started_at \(started) must be the handler's start, after \(created)")

      // Two long jobs: the first runs, the second is prefetched behind it (the pool's jobs
      // are short so far, so a worker takes two).
      let ids = [
        try h.enqueue("sleepy", #"{"ms": 1500}"#), try h.enqueue("sleepy", #"{"ms": 1500}"#),
      ]
      try #require(ids.count == 2)
      try h.waitUntil("the second job is claimed behind the first", timeout: .seconds(20)) {
        guard let w = try h.workers("sleepy").first else { return false }
        return w["job"]?.intValue == ids[0]
          && w["claimed"]?.arrayValue?.compactMap(\.intValue) == [ids[1]]
      }
      let shown = try h.drover(["jobs", "show", String(ids[0])]).stdoutText
      let pid = try h.workerPIDs("sleepy").first ?? 0
      #expect(
        shown.contains("running attempt 1 of") && shown.contains("on worker \(pid)"),
        "a running job shows its attempt and worker: \(shown)")
      try h.waitUntil("both complete", timeout: .seconds(30)) {
        try ids.allSatisfy { try h.jobState($0) == "completed" }
      }
      let first = try h.job(ids[0])
      let second = try h.job(ids[1])
      let firstStart = try #require(
        first["started_at"]?.stringValue.flatMap(Timestamp.parse))
      let secondStart = try #require(
        second["started_at"]?.stringValue.flatMap(Timestamp.parse))
      #expect(
        secondStart.micros - firstStart.micros >= 1_500_000,
        "the prefetched job started when the first one's 1.5 s ended, not at its claim")
      #expect(try h.stop().exitCode == 0)
    }

    /// `drover why` on a real supervisor: a job behind a busy worker waits for a free one,
    /// with the ready jobs ahead of it counted; a drained pool is named; with no supervisor
    /// or no pool for the type, that is what it says.
    @Test func whySaysWhatHoldsAQueuedJob() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "concurrency = 1"))
      try h.start()
      try h.waitUntil("the worker is up") {
        try h.workers("sleepy").first?["ready"]?.boolValue == true
      }
      func why(_ id: JobID) throws -> String { try h.drover(["why", String(id)]).trimmedStdout }
      let long = try h.enqueue("sleepy", #"{"ms": 6000}"#)
      try h.waitUntil("the long job runs") { try h.jobState(long) == "running" }
      let ids = try (0..<3).map { _ in try h.enqueue("sleepy", #"{"ms": 10}"#) }
      // One of them may be claimed behind the long job; the last is queued behind the rest.
      try h.waitUntil("the last one waits for a free worker", timeout: .seconds(10)) {
        let line = try why(ids[2])
        return line.contains("waiting for a free worker (pool sleepy: 1 of 1 workers busy)")
          && line.contains("ready job")
      }
      #expect(try why(long).hasPrefix("running attempt 1 of"))
      #expect(try h.drover(["ctl", "drain", "sleepy"]).exitCode == 0)
      try h.waitUntil("the pool is drained") { try h.pool("sleepy")["paused"]?.boolValue == true }
      let drained = try why(ids[2])
      // Every pool drained is the supervisor drained (its state says so).
      #expect(drained.contains("is drained (`drover ctl resume"), "\(drained)")
      let shown = try h.job(ids[2])
      #expect(shown["why"]?.stringValue?.contains("is drained") == true, "jobs show --json has why")
      let orphan = try h.enqueue("nobody.runs.this")
      #expect(try why(orphan).contains(#"no pool runs type "nobody.runs.this""#))
      #expect(try h.stop().exitCode == 0)
      #expect(try why(ids[2]).contains("no supervisor is running"))
      let missing = try h.drover(["why", "999999"])
      #expect(missing.exitCode != 0 && missing.stderrText.contains("no job with id 999999"))
    }

    /// Autoscaling: a backlog raises the pool to max; idle_timeout after it is gone, back to min.
    @Test func autoscaleUpWithABacklogAndDownWhenIdle() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "sleepy", #"handler = "sleep""#, "min = 1", "max = 3", #"idle_timeout = "1s""#,
          "concurrency = 1"))
      try h.start()
      let batch = (0..<12).map { _ in #"{"type": "sleepy", "payload": {"ms": 300}}"# }
      let file = try h.write("batch.ndjson", batch.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      var most = 0
      try h.waitUntil("the backlog is done", timeout: .seconds(20), every: .milliseconds(50)) {
        let s = try h.status()
        let live =
          s["pools"]?.arrayValue?.first?["workers"]?.arrayValue?
          .filter { $0["retiring"]?.boolValue != true }.count ?? 0
        most = max(most, live)
        return s["jobs"]?["completed"]?.intValue == 12
      }
      #expect(most == 3, "most live workers seen: \(most)")
      try h.waitUntil("the pool is back to min", timeout: .seconds(8), every: .milliseconds(100)) {
        try h.workers("sleepy").count == 1
      }
      #expect(try h.pool("sleepy")["target"]?.intValue == 1)
      #expect(try h.stop().exitCode == 0)
    }

    /// SIGHUP applies a new config (a new pool, a new max); a bad config is rejected by
    /// SIGHUP and by `reload`, naming the key, and the old pools keep running.
    @Test func reloadAppliesAGoodConfigAndRejectsABadOne() throws {
      let a = poolTable("a", #"handler = "noop""#, "min = 1", "max = 2")
      let h = try SupervisorHarness(pools: a)
      let serve = try h.start()
      let b = poolTable("b", #"handler = "noop""#, #"types = ["btype"]"#, "min = 2", "max = 2")
      let a3 = poolTable("a", #"handler = "noop""#, "min = 1", "max = 3")
      try h.writeConfig(SupervisorHarness.configText(pools: a3 + b))
      serve.kill(SIGHUP)
      try h.waitUntil("pool b is up and a's max is 3") {
        let ready = try h.workers("b").filter { $0["ready"]?.boolValue == true }.count
        return try ready == 2 && h.pool("a")["max"]?.intValue == 3
      }
      let id = try h.enqueue("btype")
      try h.waitUntil("a job of the new pool completed") { try h.jobState(id) == "completed" }

      let bad = a3 + b + "bogus_key = 1\n"
      try h.writeConfig(SupervisorHarness.configText(pools: bad))
      serve.kill(SIGHUP)
      try h.waitUntil("the reload was rejected in the log") {
        h.log().contains("rejected") && h.log().contains("bogus_key")
      }
      #expect(try h.state() == "running")
      let names = try h.status()["pools"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
      #expect(names == ["a", "b"])
      #expect(try h.pool("a")["max"]?.intValue == 3)
      #expect(try h.workers("b").count == 2)

      let reply = try h.request(#"{"cmd":"reload"}"#)
      #expect(reply["ok"]?.boolValue == false)
      #expect(reply["error"]?.stringValue?.contains("bogus_key") == true, "\(reply.render())")
      let r = try h.drover(["ctl", "reload"])
      #expect(r.exitCode != 0)
      #expect(r.stderrText.contains("bogus_key"), "\(r.stderrText)")

      // Removing a pool retires its workers and forgets it; a new handler rolls the workers.
      let bWorkers = try h.workerPIDs("b")
      let aWorkers = try h.workerPIDs("a")
      let aSleep = poolTable("a", #"handler = "sleep""#, "min = 1", "max = 3")
      try h.writeConfig(SupervisorHarness.configText(pools: aSleep))
      #expect(try h.request(#"{"cmd":"reload"}"#)["ok"]?.boolValue == true)
      try h.waitUntil("pool b is gone with its workers, and a's workers are new") {
        let names = try h.status()["pools"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        let a = try h.workers("a")
        return names == ["a"] && bWorkers.allSatisfy { !SupervisorHarness.isAlive($0) }
          && aWorkers.allSatisfy { !SupervisorHarness.isAlive($0) } && a.count == 1
          && a.first?["ready"]?.boolValue == true
      }
      let slept = try h.enqueue("a", #"{"ms": 10}"#)
      try h.waitUntil("a job of the rolled pool completed") { try h.jobState(slept) == "completed" }
      #expect(try h.stop().exitCode == 0)
    }

    /// A pool with min 0 has no workers until work comes, then scales back to none when idle.
    @Test func aPoolScalesFromZeroAndBack() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "lazy", #"handler = "noop""#, "min = 0", "max = 2", #"idle_timeout = "1s""#))
      try h.start()
      #expect(try h.workers("lazy").isEmpty)
      let t0 = ContinuousClock.now
      let id = try h.enqueue("lazy")
      try h.waitUntil("the job completed", timeout: .seconds(5)) {
        try h.jobState(id) == "completed"
      }
      #expect(seconds(since: t0) < 3, "a job on an empty pool waited \(seconds(since: t0)) s")
      try h.waitUntil("the pool is empty again", timeout: .seconds(6)) {
        try h.workers("lazy").isEmpty
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// concurrency N: one worker runs N jobs at once.
    @Test func oneWorkerRunsConcurrencyJobsAtOnce() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "concurrency = 4"))
      try h.start()
      let lines = (0..<8).map { _ in #"{"type": "sleepy", "payload": {"ms": 600}}"# }
      let file = try h.write("batch.ndjson", lines.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      try h.waitUntil("every job completed", timeout: .seconds(10), every: .milliseconds(50)) {
        try h.jobCounts()["completed"] == 8
      }
      let jobs = try storeJobs(h)
      // Two waves of four: four finish together, the next four about 0.6 s later.
      let ends = jobs.compactMap(\.finishedAt).sorted().map { Double($0.micros) / 1e6 }
      #expect(ends.count == 8)
      if ends.count == 8 {
        #expect(ends[3] - ends[0] < 0.3, "first wave finished at \(ends)")
        #expect(ends[4] - ends[3] > 0.4, "a fifth job ran alongside the first four: \(ends)")
        #expect(ends[7] - ends[4] < 0.3, "second wave finished at \(ends)")
      }
      #expect(Set(jobs.compactMap(\.workerPID)).count == 1)
      #expect(jobs.allSatisfy { $0.attempts == 1 && $0.errors.isEmpty })
      #expect(try h.stop().exitCode == 0)
    }

    /// A job prefetched behind a long one moves to a sibling that becomes idle (work
    /// stealing) instead of waiting for the long one to end.
    @Test func aPrefetchedJobDoesNotWaitBehindALongOne() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "sleep""#, "min = 1", "max = 2", "concurrency = 1"))
      try h.start()
      #expect(try h.drover(["ctl", "scale", "p", "1"]).exitCode == 0)
      let first = try #require(try h.workerPIDs("p").first)
      let long = try h.enqueue("p", #"{"ms": 4000}"#)
      try h.waitUntil("the long job is running") { try h.jobState(long) == "running" }
      let short = try h.enqueue("p", #"{"ms": 10}"#)
      try h.waitUntil("the short job is prefetched behind it") {
        try h.jobState(short) == "running"
      }
      #expect(try h.drover(["ctl", "scale", "p", "2"]).exitCode == 0)
      try h.waitUntil("the short job completed", timeout: .seconds(3)) {
        try h.jobState(short) == "completed"
      }
      #expect(try h.jobState(long) == "running", "the short job waited for the long one")
      let ranOn = try h.job(short)["worker_pid"]?.intValue
      #expect(ranOn != nil && ranOn != Int64(first), "the short job ran on the new worker")
    }

    /// `ctl drain` stops dispatch but keeps the workers and stays up; `resume` picks the queued
    /// work up again, in claim order.
    @Test func drainIsAQuietModeUntilResume() throws {
      let h = try SupervisorHarness(
        pools: poolTable("q", #"handler = "sleep""#, "min = 1", "max = 1", "concurrency = 1"))
      try h.start()
      let workers = try h.workerPIDs("q")
      var r = try h.drover(["ctl", "drain"])
      #expect(r.exitCode == 0, "\(r.stderrText)")
      try h.waitUntil("drained") { try h.state() == "drained" }
      #expect(try h.pool("q")["paused"]?.boolValue == true)
      // Queued while drained; once resumed they run by priority, then FIFO. Each takes 30 ms
      // so their finish times differ.
      let priorities = [0, 5, 1, 9, 5, 3]
      var ids: [JobID] = []
      for p in priorities {
        ids.append(try h.enqueue("q", #"{"ms": 30}"#, ["--priority", String(p)]))
      }
      SupervisorHarness.pause(.milliseconds(300))
      #expect(try h.jobCounts()["queued"] == Int64(priorities.count))
      #expect(try h.workerPIDs("q") == workers)
      r = try h.drover(["ctl", "resume"])
      #expect(r.exitCode == 0, "\(r.stderrText)")
      try h.waitUntil("the jobs completed after resume") {
        try h.jobCounts()["completed"] == Int64(priorities.count)
      }
      #expect(try h.state() == "running")
      let finished = try storeJobs(h).sorted {
        ($0.finishedAt ?? .now(), $0.id) < ($1.finishedAt ?? .now(), $1.id)
      }
      #expect(finished.map(\.id) == [ids[3], ids[1], ids[4], ids[5], ids[2], ids[0]])
      #expect(try h.stop().exitCode == 0)
    }
  }
}
