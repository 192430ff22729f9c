import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("recycling, hung workers and quiet mode")
  struct Lifecycle {
    /// A worker that stops sending heartbeats (SIGSTOP) is killed and replaced; its running
    /// job's attempt fails with the cause.
    @Test func aHungWorkerIsKilledAndReplaced() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 1"))
      try h.start()
      let id = try h.enqueue("p", #"{"ms": 20000}"#)
      try h.waitUntil("the job runs") { try h.jobState(id) == "running" }
      let hung = try #require(try h.workerPIDs("p").first)
      kill(hung, SIGSTOP)
      // fastFlags: heartbeats every 200 ms, hung after 3 s.
      try h.waitUntil("the job is dead", timeout: .seconds(15)) { try h.jobState(id) == "dead" }
      let errors = try h.jobErrors(id)
      #expect(errors.contains { $0.contains("heartbeat") && $0.contains("\(hung)") }, "\(errors)")
      try h.waitUntil("a replacement worker is ready") {
        let pids = try h.workerPIDs("p")
        return pids.count == 1 && pids[0] != hung
      }
      #expect(!SupervisorHarness.isAlive(hung))
      #expect(try h.stop().exitCode == 0)
    }

    /// `max_jobs` recycles a worker between jobs: every job completes on its first attempt
    /// and several worker processes took turns.
    @Test func maxJobsRecyclesWorkersBetweenJobs() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "noop""#, "min = 1", "max = 1", "max_jobs = 5"))
      try h.start()
      var ids: [JobID] = []
      for _ in 0..<30 { ids.append(try h.enqueue("p")) }
      try h.waitUntil("all jobs completed", timeout: .seconds(20)) {
        try h.stats()["completed"] == 30
      }
      for id in ids {
        let job = try h.job(id)
        #expect(job["attempts"]?.intValue == 1)
        #expect(job["errors"]?.arrayValue?.isEmpty == true)
      }
      let pids = Set(ids.compactMap { try? h.job($0)["worker_pid"]?.intValue })
      // 30 jobs at 5-5.5 jobs per worker: at least 5 workers took turns.
      #expect(pids.count >= 5, "workers used: \(pids)")
      #expect(h.log().contains("recycling worker after"))
      #expect(try h.stop().exitCode == 0)
    }

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

    /// `ctl drain`: dispatch stops, the running job finishes, prefetched and queued jobs stay
    /// queued untouched, the workers stay up; `ctl resume` runs the rest.
    @Test func drainIsAQuietModeUntilResume() throws {
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
