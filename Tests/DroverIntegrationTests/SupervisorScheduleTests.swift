import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Schedules with real time, across a supervisor killed with SIGKILL.
  @Suite("schedules")
  struct Schedules {
    static let pools =
      poolTable("t", #"types = ["tick", "skip", "slow"]"#, #"handler = "sleep""#, "max = 4")
        + """

        [schedules.all]
        every = "1s"
        type = "tick"
        catch_up = "all"

        [schedules.none]
        every = "1s"
        type = "skip"
        catch_up = "none"

        [schedules.slow]
        every = "1s"
        type = "slow"
        payload = { ms = 2500 }
        overlap = "skip"
        """

    /// The slot instants (seconds) of one schedule's jobs, from their unique keys; and how many
    /// jobs the schedule has in all.
    static func slots(_ h: SupervisorHarness, _ name: String) throws -> (slots: [Int64], jobs: Int)
    {
      let r = try h.drover(["jobs", "list", "--limit", "10000", "--json"])
      let jobs = (try JSONValue.parse(r.stdoutText).arrayValue ?? []).filter {
        $0["unique_key"]?.stringValue?.hasPrefix("schedule:\(name):") == true
      }
      let slots = jobs.compactMap { job -> Int64? in
        guard let key = job["unique_key"]?.stringValue else { return nil }
        return Timestamp.parse(String(key.dropFirst("schedule:\(name):".count)))
          .map { $0.micros / 1_000_000 }
      }
      return (slots.sorted(), jobs.count)
    }

    /// Each slot is enqueued once, also across a kill -9 and a restart; the slots missed while
    /// the supervisor was down are all run (`catch_up = "all"`) or passed (`"none"`); a slot
    /// whose previous run still runs is passed (`overlap = "skip"`).
    @Test func slotsFireOnceAcrossAKillAndCatchUpAsConfigured() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.start()
      try h.waitUntil("three slots fired", timeout: .seconds(30)) {
        try Self.slots(h, "all").jobs >= 3
      }
      _ = try h.stop(signal: SIGKILL)
      SupervisorHarness.pause(.seconds(3))
      try h.start()
      let restartedAt = Int64(Timestamp.now().micros / 1_000_000)
      try h.waitUntil("slots after the restart", timeout: .seconds(30)) {
        try Self.slots(h, "all").slots.last ?? 0 >= restartedAt + 2
      }
      let all = try Self.slots(h, "all")
      #expect(Set(all.slots).count == all.jobs, "a slot ran twice: \(all.slots)")
      // Caught up: every second from the first slot to the last has its job.
      let first = try #require(all.slots.first)
      let last = try #require(all.slots.last)
      #expect(all.slots == Array(first...last), "missing slots: \(all.slots)")

      let none = try Self.slots(h, "none")
      #expect(Set(none.slots).count == none.jobs)
      let gaps = zip(none.slots, none.slots.dropFirst()).map { $1 - $0 }
      #expect(gaps.contains { $0 >= 3 }, "the missed slots were passed over: \(none.slots)")

      // Jobs of 2.5 s every second: the slots while one runs pass without a job.
      let slow = try Self.slots(h, "slow")
      #expect(slow.jobs >= 1)
      let slowGaps = zip(slow.slots, slow.slots.dropFirst()).map { $1 - $0 }
      #expect(slowGaps.allSatisfy { $0 >= 2 }, "overlapping runs: \(slow.slots)")
      #expect(h.log().contains("schedule slot passed without a job"))
      #expect(try h.stop().exitCode == 0)
    }

    /// Pausing makes slots pass without jobs; resuming runs from the next slot; trigger runs
    /// once now with a manual key.
    @Test func pauseResumeAndTrigger() throws {
      let h = try SupervisorHarness(
        pools: poolTable("t", #"types = ["tick"]"#, #"handler = "noop""#)
          + """

          [schedules.all]
          every = "1s"
          type = "tick"
          """)
      let paused = try h.drover(["schedules", "pause", "all"])
      #expect(paused.exitCode == 0, "\(paused.stderrText)")
      try h.start()
      SupervisorHarness.pause(.seconds(2))
      #expect(try Self.slots(h, "all").jobs == 0)
      let show = try h.drover(["schedules", "show", "all"])
      #expect(show.stdoutText.contains("state: paused"), "\(show.stdoutText)")
      #expect(show.stdoutText.contains("passed without a job"), "\(show.stdoutText)")
      let trig = try h.drover(["schedules", "trigger", "all"])
      let id = try #require(JobID(trig.trimmedStdout), "\(trig.stderrText)")
      try h.waitUntil("the triggered job ran", timeout: .seconds(30)) {
        try h.jobState(id) == "completed"
      }
      #expect(try h.job(id)["unique_key"]?.stringValue?.hasPrefix("schedule:all:manual:") == true)
      _ = try h.drover(["schedules", "resume", "all"])
      try h.waitUntil("slots fire again", timeout: .seconds(30)) {
        try Self.slots(h, "all").jobs >= 2
      }
      let unknown = try h.drover(["schedules", "pause", "nope"])
      #expect(unknown.exitCode != 0 && unknown.stderrText.contains("no schedule named"))
      #expect(try h.stop().exitCode == 0)
    }
  }
}
