import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("stalls")
  struct Stalls {
    /// The supervisor itself stopped (SIGSTOP, a VM pause) for longer than the heartbeat
    /// timeout: on resume its workers are not killed as hung (their heartbeats wait in the
    /// socket), and the running job finishes on its first attempt.
    @Test func aStoppedSupervisorDoesNotBlameItsWorkers() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"))
      let serve = try h.start()
      let probe = try h.events()
      let id = try h.enqueueViaSocket("sleepy", #"{"ms": 6000}"#)
      let started = try probe.waitFor("job_started", job: id)
      let pid = started["worker_pid"]?.intValue
      serve.kill(SIGSTOP)
      // Longer than the 3 s heartbeat timeout of the fast flags.
      SupervisorHarness.pause(.seconds(5))
      serve.kill(SIGCONT)
      let done = try probe.waitFor("job_completed", job: id, timeout: .seconds(30))
      #expect(done["worker_pid"]?.intValue == pid)
      #expect(probe.count("worker_exited") == 0, "\(probe.seen.map { $0.render() })")
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 1)
      #expect(job["errors"]?.arrayValue?.isEmpty == true)
    }
  }
}
