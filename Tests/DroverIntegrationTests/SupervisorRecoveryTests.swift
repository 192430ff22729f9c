import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("stopping, recycling and recovery")
  struct Recovery {
    static let sleepy = poolTable(
      "sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 3",
      #"backoff = { base = "50ms", cap = "100ms" }"#)

    /// A drain that runs out of drain_timeout stops the worker and puts its job back to
    /// `queued` without spending an attempt, saying why in its errors.
    @Test func aDrainTimeoutReturnsTheRunningJobWithoutSpendingAnAttempt() throws {
      let h = try SupervisorHarness(pools: Self.sleepy, drainTimeout: "1s")
      try h.start()
      let id = try h.enqueue("sleepy", #"{"ms": 10000}"#)
      try h.waitUntil("the job is running") {
        try h.workers("sleepy").first?["busy"]?.boolValue == true
      }
      let t0 = ContinuousClock.now
      let out = try h.stop(signal: SIGTERM, timeout: .seconds(15))
      let took = seconds(since: t0)
      #expect(out.exitCode == 0, "serve exit: \(out.status)")
      #expect(took >= 0.9 && took < 6, "took \(took) s with drain_timeout 1s")
      let job = try h.job(id)
      #expect(job["state"]?.stringValue == "queued", "\(job.render())")
      #expect(job["attempts"]?.intValue == 0, "\(job.render())")
      let errors = try h.jobErrors(id)
      #expect(errors.count == 1 && errors.first?.contains("drain timeout") == true, "\(errors)")
    }

    /// A second SIGTERM during a drain stops waiting for running jobs; they go back to
    /// `queued` without spending an attempt.
    @Test func aSecondSigtermCutsTheDrainShort() throws {
      let h = try SupervisorHarness(pools: Self.sleepy, drainTimeout: "20s")
      let serve = try h.start()
      let id = try h.enqueue("sleepy", #"{"ms": 10000}"#)
      try h.waitUntil("the job is running") {
        try h.workers("sleepy").first?["busy"]?.boolValue == true
      }
      serve.kill(SIGTERM)
      try h.waitUntil("the supervisor says stopping") { try h.state() == "stopping" }
      let t0 = ContinuousClock.now
      serve.kill(SIGTERM)
      let out = try h.waitForExit(timeout: .seconds(15))
      #expect(out.exitCode == 0, "serve exit: \(out.status)")
      #expect(seconds(since: t0) < 6)
      let job = try h.job(id)
      #expect(job["state"]?.stringValue == "queued", "\(job.render())")
      #expect(job["attempts"]?.intValue == 0, "\(job.render())")
    }

    /// A worker frozen mid-job (SIGSTOP) stops heartbeating: it is killed as hung, and its job
    /// is retried elsewhere and completes.
    @Test func aFrozenWorkerIsKilledAsHungAndItsJobRetried() throws {
      let h = try SupervisorHarness(pools: Self.sleepy)
      try h.start(flags: [
        "--heartbeat-ms", "100", "--heartbeat-timeout-ms", "1000", "--stop-grace-ms", "300",
        "--log-level", "debug",
      ])
      let id = try h.enqueue("sleepy", #"{"ms": 1000}"#)
      var frozen: Int32 = 0
      try h.waitUntil("the job is running") {
        guard let w = try h.workers("sleepy").first, w["busy"]?.boolValue == true else {
          return false
        }
        frozen = Int32(w["pid"]?.intValue ?? 0)
        return true
      }
      #expect(kill(frozen, SIGSTOP) == 0)
      try h.waitUntil("the job completed", timeout: .seconds(15), every: .milliseconds(100)) {
        try h.jobState(id) == "completed"
      }
      let errors = try h.jobErrors(id)
      #expect(errors.count == 1 && errors.first?.contains("heartbeat") == true, "\(errors)")
      #expect(try h.job(id)["attempts"]?.intValue == 2)
      #expect(!SupervisorHarness.isAlive(frozen))
      #expect(try h.stop().exitCode == 0)
    }

    /// A job that kills its worker every time ends dead after max_attempts, each attempt's
    /// cause recorded, instead of looping.
    @Test func aJobThatKeepsKillingItsWorkerEndsDead() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "crashy", #"handler = "crash""#, "min = 1", "max = 1", "max_attempts = 3",
          #"backoff = { base = "50ms", cap = "100ms" }"#))
      try h.start()
      let id = try h.enqueue("crashy", #"{"signal": 9}"#)
      try h.waitUntil("the job is dead", timeout: .seconds(15), every: .milliseconds(100)) {
        try h.jobState(id) == "dead"
      }
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 3)
      let errors = try h.jobErrors(id)
      #expect(errors.count == 3 && errors.allSatisfy { $0.contains("signal 9") }, "\(errors)")
      try h.waitUntil("a replacement worker is up") {
        try h.workers("crashy").contains { $0["ready"]?.boolValue == true }
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// max_jobs recycles workers between jobs: every job still runs exactly once, and no
    /// worker runs many more than max_jobs (however deep the prefetch).
    @Test func maxJobsRecyclesWorkersWithoutLosingJobs() throws {
      let h = try SupervisorHarness(
        pools: poolTable("noop", #"handler = "noop""#, "min = 1", "max = 1", "max_jobs = 5"))
      try h.start()
      let lines = (0..<30).map { _ in #"{"type": "noop"}"# }
      let file = try h.write("batch.ndjson", lines.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      try h.waitUntil("every job completed", timeout: .seconds(30), every: .milliseconds(100)) {
        try h.jobCounts()["completed"] == 30
      }
      #expect(try h.stop().exitCode == 0)
      let jobs = try storeJobs(h)
      #expect(jobs.count == 30)
      #expect(jobs.allSatisfy { $0.attempts == 1 && $0.errors.isEmpty })
      var perWorker: [Int32: Int] = [:]
      for j in jobs { perWorker[j.workerPID ?? 0, default: 0] += 1 }
      #expect(perWorker.count >= 5, "jobs per worker: \(perWorker)")
      // max_jobs plus its jitter (10%), plus the one job already started when the limit hit.
      #expect(perWorker.values.allSatisfy { $0 <= 6 }, "jobs per worker: \(perWorker)")
    }

    /// A delayed job runs when due, not before, and without waiting for a poll.
    @Test func aDelayedJobRunsWhenDue() throws {
      let h = try SupervisorHarness(pools: poolTable("noop", #"handler = "noop""#, "min = 1"))
      try h.start()
      let t0 = ContinuousClock.now
      let id = try h.enqueue("noop", "{}", ["--delay", "800ms"])
      #expect(try h.jobState(id) == "scheduled")
      try h.waitUntil("the job completed", timeout: .seconds(5)) {
        try h.jobState(id) == "completed"
      }
      let took = seconds(since: t0)
      #expect(took >= 0.75 && took < 2.5, "completed after \(took) s")
      #expect(try h.stop().exitCode == 0)
    }

    /// Enqueue lines written by a client that hangs up at once are still enqueued.
    @Test func enqueuesFromAClientThatHangsUpAreKept() throws {
      let h = try SupervisorHarness(pools: poolTable("noop", #"handler = "noop""#, "min = 1"))
      try h.start()
      let lines = (0..<100).map { #"{"cmd":"enqueue","type":"noop","payload":{"n":\#($0)}}"# }
      do {
        let c = try ControlSocket(path: h.socketPath)
        try c.send(lines.joined(separator: "\n") + "\n")
      }
      try h.waitUntil("100 jobs completed", timeout: .seconds(10)) {
        try h.jobCounts()["completed"] == 100
      }
      #expect(try h.stop().exitCode == 0)
    }
  }
}
