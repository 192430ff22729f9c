import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// The seams later features plug into: store-change wake-ups, the event stream, off-loop
  /// reads, exact counters, bounded prune.
  @Suite("seams")
  struct Seams {
    static let noop = poolTable("email", #"handler = "noop""#, "min = 1", "max = 1")

    /// A job that reaches the store with no `wake` (written by another process straight into
    /// the file) is picked up by an idle supervisor. Before store-change notification it sat
    /// queued forever next to a free worker.
    @Test func aJobWrittenStraightIntoTheStoreIsPickedUpWithoutAWake() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      let probe = try h.events()
      // Let the idle supervisor find nothing to claim first, so only a store change can help.
      let warm = try h.enqueueViaSocket("email")
      try probe.waitFor("job_completed", job: warm)
      SupervisorHarness.pause(.milliseconds(300))
      let store = try SQLiteStore(path: h.storePath)
      let id = try store.enqueue([EnqueueParams(type: "email")])[0].id
      try probe.waitFor("job_completed", job: id, timeout: .seconds(10))
      #expect(try h.jobState(id) == "completed")
    }

    /// `drover enqueue` whose nudge cannot reach the supervisor (its config names another
    /// socket) still gets its job run.
    @Test func aCLIThatCannotReachTheSocketStillGetsItsJobRun() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      let probe = try h.events()
      let other = try h.write(
        "other.toml",
        """
        [store]
        path = "var/drover.db"
        [control]
        socket = "var/nobody-listens.sock"
        \(Self.noop)
        """)
      let r = try ChildProcess.run(
        h.binary, ["enqueue", "email", "{}", "--config", other], environment: h.environment(),
        timeout: .seconds(30))
      #expect(r.exitCode == 0, "enqueue: \(r.stderrText)")
      let id = try #require(JobID(r.trimmedStdout))
      try probe.waitFor("job_completed", job: id, timeout: .seconds(10))
    }

    /// Events follow a job through its life in order, each after it is stored.
    @Test func eventsFollowAJobThroughItsLife() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      let probe = try h.events()
      let id = try h.enqueueViaSocket("email", #"{"n":1}"#)
      let done = try probe.waitFor("job_completed", job: id)
      let names = probe.seen.filter { $0["id"]?.intValue == id }.compactMap {
        $0["event"]?.stringValue
      }
      #expect(names == ["job_created", "job_started", "job_completed"])
      #expect(done["attempt"]?.intValue == 1)
      #expect(done["pool"]?.stringValue == "email")
      // Durable before announced: the store already says so.
      #expect(try h.jobState(id) == "completed")
      // A late subscriber can replay the recent history: what is not routine (workers here;
      // failures, rescues, pools), not every job's start and completion.
      let late = try h.events(replay: true)
      #expect(late.replayed >= 1)
      let replayed = (0..<late.replayed).compactMap { _ in try? late.next(timeout: .seconds(5)) }
      #expect(replayed.contains { $0["event"]?.stringValue == "worker_spawned" })
      #expect(!replayed.contains { $0["id"]?.intValue == id })
    }

    /// kill -9 of a busy worker shows up as a `worker_exited` event with its cause and a
    /// `job_failed` event for the job it ran, then a replacement's `worker_spawned`.
    @Test func killNineOfAWorkerIsAnEventWithItsCause() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 3",
          #"backoff = { base = "100ms", cap = "200ms" }"#))
      try h.start()
      let probe = try h.events()
      let id = try h.enqueueViaSocket("sleepy", #"{"ms": 5000}"#)
      let started = try probe.waitFor("job_started", job: id)
      let pid = try #require(started["worker_pid"]?.intValue)
      kill(Int32(pid), SIGKILL)
      let exited = try probe.waitFor("the worker's exit") {
        $0["event"]?.stringValue == "worker_exited" && $0["worker_pid"]?.intValue == pid
      }
      #expect(exited["cause"]?.stringValue?.contains("signal 9") == true)
      #expect(exited["expected"]?.boolValue == false)
      let failed = try probe.waitFor("job_failed", job: id)
      #expect(failed["error"]?.stringValue?.contains("signal 9") == true)
      #expect(failed["retry_at"]?.stringValue != nil)
      try probe.waitFor("a replacement worker") {
        $0["event"]?.stringValue == "worker_spawned" && $0["worker_pid"]?.intValue != pid
      }
    }

    /// Requests sent after `events` on the same connection are not answered into the event
    /// stream (the socket belongs to its streaming thread), and the supervisor is unharmed.
    @Test func requestsAfterEventsOnTheSameConnectionStayOutOfTheStream() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      let s = try ControlSocket(path: h.socketPath)
      try s.send(#"{"cmd":"events"}"# + "\n" + #"{"cmd":"status"}"# + "\n")
      let greeting = try JSONValue.parse(try #require(try s.readLine()))
      #expect(greeting["ok"]?.boolValue == true)
      let id = try h.enqueueViaSocket("email")
      while true {
        let line = try #require(try s.readLine(timeout: .seconds(20)), "stream ended")
        let e = try JSONValue.parse(line)
        #expect(e["event"] != nil, "not an event: \(line)")
        if e["event"]?.stringValue == "job_completed" && e["id"]?.intValue == id { break }
      }
      #expect(try h.state() == "running")
    }

    /// A subscriber that never reads cannot hold dispatch up: every job completes, and when
    /// it finally reads it is told how many events it lost.
    @Test func aSubscriberThatNeverReadsCannotSlowDispatch() throws {
      let h = try SupervisorHarness(
        pools: poolTable("noop", #"handler = "noop""#, "min = 2", "max = 2"))
      try h.start()
      let stuck = try h.events()
      let count = 20_000
      var text = ""
      for n in 0..<count { text += #"{"type": "noop", "payload": {"n": \#(n)}}"# + "\n" }
      let r = try h.drover(["enqueue", "--batch", try h.write("b.ndjson", text)])
      #expect(r.exitCode == 0, "enqueue --batch: \(r.stderrText)")
      try h.waitUntil("every job completed", timeout: .seconds(90), every: .milliseconds(200)) {
        try h.jobCounts()["completed"] == Int64(count)
      }
      let lost = try stuck.waitFor("events_lost", timeout: .seconds(60))
      #expect((lost["count"]?.intValue ?? 0) > 0)
    }

    /// `jobs` and `job` are answered by the store reader (off the loop), with the contract's
    /// job shape; bad requests get errors naming the key.
    @Test func jobsAndJobRequestsReadTheStore() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      let probe = try h.events()
      let a = try h.enqueueViaSocket("email", #"{"n":1}"#)
      let b = try h.enqueueViaSocket("email", #"{"n":2}"#)
      try probe.waitFor("job_completed", job: b)
      let list = try h.request(#"{"cmd":"jobs","state":"completed","limit":10}"#)
      #expect(list["ok"]?.boolValue == true, "\(list.render())")
      let ids = list["jobs"]?.arrayValue?.compactMap { $0["id"]?.intValue } ?? []
      #expect(Array(ids.prefix(2)) == [b, a], "newest first")
      let one = try h.request(#"{"cmd":"job","id":\#(a)}"#)
      #expect(one["job"]?["payload"]?["n"]?.intValue == 1)
      #expect(one["job"]?["state"]?.stringValue == "completed")
      let missing = try h.request(#"{"cmd":"job","id":999999}"#)
      #expect(missing["ok"]?.boolValue == false)
      #expect(missing["error"]?.stringValue?.contains("999999") == true)
      let bad = try h.request(#"{"cmd":"jobs","state":"nope"}"#)
      #expect(bad["ok"]?.boolValue == false)
      #expect(bad["error"]?.stringValue?.contains("state") == true)
      let badEvents = try h.request(#"{"cmd":"events","type":5}"#)
      #expect(badEvents["error"]?.stringValue?.contains("type") == true)
      // The supervisor is still fine.
      #expect(try h.state() == "running")
    }

    /// The counts `ctl status` reports come from counters kept in the commits: after retries,
    /// dead jobs, a kill -9 of a worker and of the supervisor they still equal a full count.
    @Test func countsStayExactThroughChaos() throws {
      let h = try SupervisorHarness(
        pools: poolTable("noop", #"handler = "noop""#, "min = 1", "max = 2")
          + poolTable(
            "flaky", #"handler = "fail""#, "min = 1", "max = 1", "max_attempts = 2",
            #"backoff = { base = "10ms", cap = "20ms" }"#)
          + poolTable(
            "slow", #"handler = "sleep""#, "min = 2", "max = 2", "max_attempts = 2",
            #"backoff = { base = "10ms", cap = "20ms" }"#))
      try h.start()
      var text = ""
      for n in 0..<600 {
        switch n % 3 {
        case 0: text += #"{"type":"noop","payload":{"n":\#(n)}}"# + "\n"
        case 1: text += #"{"type":"flaky","payload":{"permanent":\#(n % 2 == 0)}}"# + "\n"
        default: text += #"{"type":"slow","payload":{"ms":\#(n % 7 == 0 ? 3000 : 5)}}"# + "\n"
        }
      }
      for n in 0..<20 { text += #"{"type":"noop","delay":"\#(n % 3)s"}"# + "\n" }
      let r = try h.drover(["enqueue", "--batch", try h.write("b.ndjson", text)])
      #expect(r.exitCode == 0, "enqueue --batch: \(r.stderrText)")
      try h.waitUntil("a slow job is running", timeout: .seconds(30)) {
        try h.workers("slow").contains { $0["busy"]?.boolValue == true }
      }
      if let pid = try h.workerPIDs("slow").first { kill(pid, SIGKILL) }
      let cancel = try h.drover(["jobs", "cancel", "620"])
      _ = cancel
      SupervisorHarness.pause(.milliseconds(300))
      try h.supervisor().kill(SIGKILL)
      _ = try h.waitForExit(timeout: .seconds(20))
      try h.start()
      try h.waitUntil("every job is final", timeout: .seconds(120), every: .milliseconds(250)) {
        let c = try h.jobCounts()
        return c["queued"] == 0 && c["scheduled"] == 0 && c["running"] == 0
      }
      let counted = try h.jobCounts()
      var scanned: [String: Int64] = [:]
      for j in try storeJobs(h) { scanned[j.state.name, default: 0] += 1 }
      for s in JobState.allCases {
        #expect(counted[s.name] ?? 0 == scanned[s.name] ?? 0, "\(s.name): counters vs a full count")
      }
      #expect(scanned.values.reduce(0, +) == 620)
    }

    /// Retention pruning deletes in bounded batches across ticks: 3,000 expired jobs go in
    /// batches of at most 1,000 while the supervisor keeps answering.
    @Test func pruneDeletesInBoundedBatches() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.writeConfig(
        SupervisorHarness.configText(pools: Self.noop).replacingOccurrences(
          of: "[store]\n", with: "[store]\nretain_completed = \"1s\"\n"))
      try h.start(flags: SupervisorHarness.fastFlags + ["--prune-interval-ms", "500"])
      var text = ""
      for _ in 0..<3000 { text += #"{"type":"email"}"# + "\n" }
      let r = try h.drover(["enqueue", "--batch", try h.write("b.ndjson", text)])
      #expect(r.exitCode == 0, "enqueue --batch: \(r.stderrText)")
      try h.waitUntil("all pruned but the newest", timeout: .seconds(60), every: .milliseconds(200))
      {
        try h.jobCounts()["completed"] == 1
      }
      // Batches start at 1,000 rows and adapt to their duration: several batches, none of all.
      let batches = h.log().split(separator: "\n").compactMap { line -> Int? in
        guard let r = line.range(of: "pruned ") else { return nil }
        return Int(line[r.upperBound...].prefix { $0.isNumber })
      }
      #expect(batches.count >= 2, "prune batches: \(batches)")
      #expect((batches.max() ?? 0) <= 2000, "prune batches: \(batches)")
      #expect(batches.reduce(0, +) == 2999, "prune batches: \(batches)")
      #expect(try h.state() == "running")
    }
  }
}
