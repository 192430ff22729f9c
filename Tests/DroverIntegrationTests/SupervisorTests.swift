import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Process-level tests of `drover serve`: the real binary, real sockets, real signals, job
/// states checked in the store afterwards.
///
/// One serialized suite (nested suites in the other Supervisor*.swift files inherit it): the
/// machine has two cores and these tests measure time, so they run one at a time.
@Suite("Supervisor", .serialized, .timeLimit(.minutes(3)))
struct SupervisorTests {}

/// A `[pools.NAME]` table from `key = value` lines.
func poolTable(_ name: String, _ lines: String...) -> String {
  "[pools.\(name)]\n" + lines.joined(separator: "\n") + "\n"
}

/// The jobs of a store file, opened in this process (after or during a run: WAL readers do not
/// block the supervisor).
func storeJobs(_ h: SupervisorHarness, limit: Int = 100_000) throws -> [Job] {
  try SQLiteStore(path: h.storePath).list(ListParams(limit: limit))
}

/// Monotonic seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
  let d = ContinuousClock.now - start
  return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

extension SupervisorTests {
  @Suite("jobs")
  struct Jobs {
    /// 10,000 jobs drain through 2 workers: all completed, none lost, none run twice.
    @Test func tenThousandNoopJobsDrainWithTwoWorkers() throws {
      let h = try SupervisorHarness(
        pools: poolTable("noop", #"handler = "noop""#, "min = 2", "max = 2"))
      try h.start()
      let count = 10_000
      var text = ""
      text.reserveCapacity(count * 40)
      for n in 0..<count { text += #"{"type": "noop", "payload": {"n": \#(n)}}"# + "\n" }
      let file = try h.write("batch.ndjson", text)
      let r = try h.drover(["enqueue", "--batch", file], timeout: .seconds(60))
      #expect(r.exitCode == 0, "enqueue --batch: \(r.stderrText)")
      #expect(r.trimmedStdout == "\(count)")

      try h.waitUntil("every job completed", timeout: .seconds(90), every: .milliseconds(200)) {
        try h.jobCounts()["completed"] == Int64(count)
      }
      let workers = try h.workers("noop")
      #expect(workers.count == 2)
      // Every outcome a worker reports counts once: more than `count` would be a job run twice.
      let done = workers.reduce(Int64(0)) { $0 + ($1["jobs_done"]?.intValue ?? 0) }
      #expect(done == Int64(count), "outcomes reported by the workers")
      let out = try h.stop()
      #expect(out.exitCode == 0, "serve exit: \(out.status)")

      let jobs = try storeJobs(h)
      #expect(jobs.count == count)
      #expect(jobs.filter { $0.state != .completed }.isEmpty)
      #expect(jobs.filter { $0.attempts != 1 }.map(\.id).isEmpty, "jobs with attempts != 1")
      #expect(jobs.filter { !$0.errors.isEmpty }.map(\.id).isEmpty, "jobs with errors")
      #expect(jobs.filter { $0.progress != 100 }.isEmpty)
    }

    /// kill -9 of a busy worker fails that attempt with the signal, the job is retried and
    /// completes, and a new worker takes the dead one's place.
    @Test func killNineOfABusyWorkerRetriesTheJobOnAReplacement() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 3",
          #"backoff = { base = "100ms", cap = "200ms" }"#))
      try h.start()
      let id = try h.enqueue("sleepy", #"{"ms": 3000}"#)
      var victim: Int32 = 0
      try h.waitUntil("a worker is busy with the job and reported progress") {
        guard let w = try h.workers("sleepy").first(where: { $0["busy"]?.boolValue == true })
        else { return false }
        victim = Int32(w["pid"]?.intValue ?? 0)
        let job = try h.job(id)
        return job["state"]?.stringValue == "running" && (job["progress"]?.intValue ?? 0) >= 10
      }
      #expect(kill(victim, SIGKILL) == 0)

      try h.waitUntil("the job completed", timeout: .seconds(20), every: .milliseconds(100)) {
        try h.jobState(id) == "completed"
      }
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 2)
      #expect(job["progress"]?.intValue == 100)
      let errors = try h.jobErrors(id)
      #expect(errors.count == 1)
      #expect(errors.first?.contains("signal 9") == true, "errors: \(errors)")
      #expect(errors.first?.contains("\(victim)") == true, "the error names the worker: \(errors)")
      let now = try h.workerPIDs("sleepy")
      #expect(now.count == 1)
      #expect(!now.contains(victim))
      #expect(!SupervisorHarness.isAlive(victim))
      #expect(try h.stop().exitCode == 0)
    }

    /// A supervisor killed with SIGKILL loses nothing: its workers die with it, and the next
    /// supervisor runs the rescued jobs without charging an attempt for the lost one.
    @Test func killNineOfTheSupervisorLosesNothing() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 2", "max = 2", "max_attempts = 5"))
      try h.start()
      let batch = (0..<4).map { _ in #"{"type": "sleepy", "payload": {"ms": 1500}}"# }
      let file = try h.write("batch.ndjson", batch.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      try h.waitUntil("both workers are busy") {
        try h.workers("sleepy").filter { $0["busy"]?.boolValue == true }.count == 2
      }
      let workers = try h.workerPIDs("sleepy")
      #expect(workers.count == 2)

      let out = try h.stop(signal: SIGKILL, timeout: .seconds(5))
      #expect(out.status == .signaled(SIGKILL))
      // PR_SET_PDEATHSIG (and the socket's EOF) take the workers down with it.
      try h.waitUntil("the orphaned workers exited by themselves", timeout: .seconds(5)) {
        workers.allSatisfy { !SupervisorHarness.isAlive($0) }
      }
      // Running (and prefetched) jobs stay `running` in the store until the next start.
      let lost = Set(try storeJobs(h).filter { $0.state == .running }.map(\.id))
      #expect(lost.count >= 2)

      try h.start()
      let probe = try h.events(replay: true)
      for id in lost { try probe.waitFor("job_rescued", job: id, timeout: .seconds(10)) }
      try h.waitUntil("every job completed", timeout: .seconds(20), every: .milliseconds(100)) {
        try h.jobCounts()["completed"] == 4
      }
      #expect(try h.stop().exitCode == 0)
      for job in try storeJobs(h) {
        #expect(job.state == .completed)
        #expect(job.attempts == 1, "job \(job.id): the lost attempt must not count")
        guard lost.contains(job.id) else {
          #expect(job.errors.isEmpty, "job \(job.id) was never claimed: \(job.errors)")
          continue
        }
        #expect(job.errors.count == 1, "job \(job.id): \(job.errors)")
        #expect(
          job.errors.first?.message.contains("supervisor") == true
            && job.errors.first?.message.contains("died") == true,
          "job \(job.id): \(job.errors)")
      }
    }

    /// SIGTERM: the running job finishes, queued (and prefetched) jobs stay queued without an
    /// attempt spent, exit 0, well before drain_timeout.
    @Test func sigtermLetsTheRunningJobFinishAndLeavesTheRestQueued() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"),
        drainTimeout: "20s")
      try h.start()
      let first = try h.enqueue("sleepy", #"{"ms": 3000}"#)
      try h.waitUntil("the first job is running") {
        try h.workers("sleepy").first?["busy"]?.boolValue == true
      }
      let rest = try (0..<3).map { _ in try h.enqueue("sleepy", #"{"ms": 3000}"#) }
      // The worker may prefetch one of the rest (the policy decides): it must come back too.
      _ = try? h.waitUntil("a second job is prefetched", timeout: .seconds(1)) {
        try h.stats()["running"] == 2
      }

      let t0 = ContinuousClock.now
      let out = try h.stop(signal: SIGTERM, timeout: .seconds(15))
      let took = seconds(since: t0)
      #expect(out.exitCode == 0, "serve exit: \(out.status); log: \(h.logTail())")
      #expect(took < 10, "took \(took) s; drain_timeout is 20 s")
      #expect(took > 1.5, "took \(took) s: it did not wait for the running job")

      #expect(try h.jobState(first) == "completed")
      for id in rest {
        let job = try h.job(id)
        #expect(job["state"]?.stringValue == "queued", "job \(id): \(job.render())")
        #expect(job["attempts"]?.intValue == 0, "job \(id): \(job.render())")
      }
      #expect(!FileManager.default.fileExists(atPath: h.socketPath), "the socket file is removed")
    }

    /// A job over its pool's timeout is cancelled; with one attempt allowed it ends dead with
    /// "timed out" in its errors.
    @Test func aJobOverItsTimeoutFailsAndEndsDead() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "slow", #"handler = "sleep""#, "min = 1", "max = 1", #"timeout = "1s""#,
          "max_attempts = 1"))
      try h.start()
      let t0 = ContinuousClock.now
      let id = try h.enqueue("slow", #"{"ms": 10000}"#)
      try h.waitUntil("the job is dead", timeout: .seconds(8), every: .milliseconds(100)) {
        try h.jobState(id) == "dead"
      }
      #expect(seconds(since: t0) < 5)
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 1)
      let errors = try h.jobErrors(id)
      #expect(errors.count == 1)
      #expect(errors.first?.contains("timed out") == true, "errors: \(errors)")
      #expect(try h.stop().exitCode == 0)
    }

    /// A handler that ignores the cancel: after --stop-grace-ms its worker is killed, the job
    /// fails with "timed out", and nothing the job started keeps running.
    @Test func aJobThatIgnoresItsTimeoutIsKilledWithEverythingItStarted() throws {
      let pidFile = "cmd.pid"
      let h = try SupervisorHarness(pools: "")
      // A script file, not `sh -c`: this test is about the kill, not about arguments.
      let script = try h.write(
        "stubborn.sh", "#!/bin/sh\ntrap '' TERM\necho $$ > \(h.dir.file(pidFile))\nexec sleep 30\n",
        mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "stubborn", #"handler = "exec""#, #"command = ["\#(script)"]"#, "min = 1", "max = 1",
            #"timeout = "1s""#, "max_attempts = 1")))
      try h.start()
      let id = try h.enqueue("stubborn")
      try h.waitUntil("the job is dead", timeout: .seconds(10), every: .milliseconds(100)) {
        try h.jobState(id) == "dead"
      }
      let errors = try h.jobErrors(id)
      #expect(errors.first?.contains("timed out") == true, "errors: \(errors)")
      let text = try String(contentsOfFile: h.dir.file(pidFile), encoding: .utf8)
      let commandPID = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
      // The attempt is over (and may be retried elsewhere): its command must not live on.
      try h.waitUntil("the timed-out job's command is gone", timeout: .seconds(5)) {
        !SupervisorHarness.isAlive(commandPID)
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// `jobs cancel` of a running job stops it cooperatively within moments; the worker lives.
    @Test func cancellingARunningJobEndsItCancelledQuickly() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"))
      try h.start()
      let id = try h.enqueue("sleepy", #"{"ms": 10000}"#)
      try h.waitUntil("the job is running") {
        try h.workers("sleepy").first?["busy"]?.boolValue == true
      }
      let worker = try h.workerPIDs("sleepy")
      let t0 = ContinuousClock.now
      let r = try h.drover(["jobs", "cancel", String(id)])
      #expect(r.exitCode == 0, "jobs cancel: \(r.stderrText)")
      try h.waitUntil("the job is cancelled", timeout: .seconds(5), every: .milliseconds(50)) {
        try h.jobState(id) == "cancelled"
      }
      #expect(seconds(since: t0) < 3)
      #expect(try h.workerPIDs("sleepy") == worker, "a cooperative cancel keeps the worker")
      #expect(try h.stop().exitCode == 0)
    }

    /// The exec handler: exit 3 is permanent (stderr is the error), 75 is retried, 0 completes
    /// with progress 100.
    @Test func execHandlerExitCodesClassifyTheOutcome() throws {
      let h = try SupervisorHarness(pools: "")
      // A script file: `sh -c` arguments are the next test's business.
      let script = try h.write(
        "ex.sh",
        """
        #!/bin/sh
        read x; echo PROGRESS 50
        case $x in *perm*) echo bad input $x >&2; exit 3;; *temp*) echo try later >&2; exit 75;; esac
        exit 0

        """, mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "ex", #"handler = "exec""#, #"command = ["\#(script)"]"#, "min = 1", "max = 1",
            "max_attempts = 2", #"backoff = { base = "50ms", cap = "100ms" }"#)))
      try h.start()
      let perm = try h.enqueue("ex", #"{"mode": "perm"}"#)
      let temp = try h.enqueue("ex", #"{"mode": "temp"}"#)
      let ok = try h.enqueue("ex", #"{"mode": "fine"}"#)
      try h.waitUntil("all three jobs are final", timeout: .seconds(15), every: .milliseconds(100))
      {
        try [perm, temp, ok].allSatisfy { try ["completed", "dead"].contains(h.jobState($0)) }
      }
      let p = try h.job(perm)
      #expect(p["state"]?.stringValue == "dead")
      #expect(p["attempts"]?.intValue == 1, "a permanent failure is not retried")
      #expect(try h.jobErrors(perm).first?.contains("bad input") == true, "\(p.render())")

      let t = try h.job(temp)
      #expect(t["state"]?.stringValue == "dead")
      #expect(t["attempts"]?.intValue == 2, "exit 75 is retried: \(t.render())")
      let tempErrors = try h.jobErrors(temp)
      #expect(
        tempErrors.count == 2 && tempErrors.allSatisfy { $0.contains("try later") }, "\(tempErrors)"
      )

      let o = try h.job(ok)
      #expect(o["state"]?.stringValue == "completed")
      #expect(o["progress"]?.intValue == 100)
      #expect(o["attempts"]?.intValue == 1)
      #expect(try h.stop().exitCode == 0)
    }

    /// An exec command's arguments reach it as written, also those that start with a dash
    /// (`sh -c …`, the usual way to run a one-liner).
    @Test func execCommandArgumentsMayStartWithADash() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "ex", #"handler = "exec""#, #"command = ["/bin/sh", "-c", "cat > /dev/null; exit 0"]"#,
          "min = 1", "max = 1", "max_attempts = 1"))
      try h.start(waitUntilRunning: false)
      try h.waitUntil("the pool's worker is up", timeout: .seconds(5)) {
        try h.workers("ex").contains { $0["ready"]?.boolValue == true }
      }
      let id = try h.enqueue("ex")
      try h.waitUntil("the job completed", timeout: .seconds(5)) {
        try h.jobState(id) == "completed"
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// `started_at` is when the attempt started (CONTRACT.md), not when a worker prefetched
    /// the job behind another one.
    @Test func startedAtIsWhenTheAttemptStarted() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"))
      try h.start()
      let batch = [
        #"{"type": "sleepy", "payload": {"ms": 800}, "priority": 1}"#,
        #"{"type": "sleepy", "payload": {"ms": 10}}"#,
      ]
      let file = try h.write("batch.ndjson", batch.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      try h.waitUntil("both jobs completed", timeout: .seconds(10)) {
        try h.jobCounts()["completed"] == 2
      }
      let jobs = try storeJobs(h).sorted { $0.id < $1.id }
      let (long, short) = (jobs[0], jobs[1])
      let longEnd = try #require(long.finishedAt)
      let shortStart = try #require(short.startedAt)
      #expect(
        shortStart.micros >= longEnd.micros - 20_000,
        "the second job started at \(shortStart), the first one ended at \(longEnd)")
      #expect(try h.stop().exitCode == 0)
    }

    /// 1000 enqueue lines in one write on one connection: 1000 ok replies, in order, ids
    /// increasing, and every job completes.
    @Test func pipelinedEnqueuesAreAnsweredInOrder() throws {
      let h = try SupervisorHarness(
        pools: poolTable("noop", #"handler = "noop""#, "min = 1", "max = 2"))
      try h.start()
      let count = 1000
      let lines = (0..<count).map { #"{"cmd":"enqueue","type":"noop","payload":{"n":\#($0)}}"# }
      let client = try ControlSocket(path: h.socketPath)
      try client.send(lines.joined(separator: "\n") + "\n")
      var ids: [Int64] = []
      for n in 0..<count {
        guard let line = try client.readLine(timeout: .seconds(20)) else {
          Issue.record("the connection closed after \(n) replies")
          break
        }
        let reply = try JSONValue.parse(line)
        #expect(reply["ok"]?.boolValue == true, "reply \(n): \(line)")
        if let id = reply["id"]?.intValue { ids.append(id) }
      }
      #expect(ids.count == count)
      #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids in request order")
      try h.waitUntil("every job completed", timeout: .seconds(30), every: .milliseconds(100)) {
        try h.jobCounts()["completed"] == Int64(count)
      }
      #expect(Set(try storeJobs(h).map(\.id)) == Set(ids))
      #expect(try h.stop().exitCode == 0)
    }
  }
}
