import DroverCore
import DroverStore
import DroverTestSupport
import Testing

extension SupervisorTests {
  /// Dependencies through a real supervisor: a graph enqueued in one batch runs in order, and
  /// a dead parent cancels its child (or lets a `run` child go).
  @Suite("dependencies")
  struct Dependencies {
    static let pools =
      poolTable("work", #"handler = "sleep""#, "min = 2", "max = 2")
      + poolTable("boom", #"handler = "fail""#, "min = 1", "max = 1", "max_attempts = 1")

    /// The diamond A → (B, C) → D, as one `enqueue_batch` on the socket and as one CLI batch
    /// file: every job starts only after each of its parents finished, and B and C both run.
    @Test func aDiamondRunsInOrder() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.start()
      let batch = """
        {"cmd": "enqueue_batch", "jobs": [
          {"type": "work", "payload": {"ms": 300}, "ref": "d", "after": ["b", "c"]},
          {"type": "work", "payload": {"ms": 300}, "ref": "a"},
          {"type": "work", "payload": {"ms": 300}, "ref": "b", "after": ["a"]},
          {"type": "work", "payload": {"ms": 300}, "ref": "c", "after": ["a"]}]}
        """.split(separator: "\n").joined()
      let reply = try h.request(batch)
      #expect(reply["ok"] == true, "\(reply.render())")
      let ids = (reply["ids"]?.arrayValue ?? []).compactMap(\.intValue)
      #expect(ids.count == 4)
      let file = try h.write(
        "diamond.ndjson",
        [
          #"{"type": "work", "payload": {"ms": 200}, "ref": "a"}"#,
          #"{"type": "work", "payload": {"ms": 200}, "ref": "b", "after": ["a"]}"#,
          #"{"type": "work", "payload": {"ms": 200}, "ref": "c", "after": ["a"]}"#,
          #"{"type": "work", "payload": {"ms": 200}, "ref": "d", "after": ["b", "c"]}"#,
        ].joined(separator: "\n"))
      let r = try h.drover(["enqueue", "--batch", file])
      #expect(r.exitCode == 0, "\(r.stderrText)")
      try h.waitUntil("both diamonds completed", timeout: .seconds(60), every: .milliseconds(100)) {
        try h.jobCounts()["completed"] == 8
      }
      let jobs = Dictionary(uniqueKeysWithValues: try storeJobs(h).map { ($0.id, $0) })
      #expect(jobs.count == 8)
      var gaps: [Double] = []
      for job in jobs.values {
        #expect(job.state == .completed)
        #expect(job.attempts == 1)
        for link in job.parents {
          let parent = try #require(jobs[link.id])
          let started = try #require(job.startedAt)
          let finished = try #require(parent.finishedAt)
          #expect(started >= finished, "job \(job.id) started before its parent \(parent.id)")
          gaps.append(Double(started.micros - finished.micros) / 1000)
        }
      }
      // Each D waits on two parents, each B and C on one: 8 edges.
      #expect(gaps.count == 8)
      print("release-to-start after a parent finished, ms: \(gaps.sorted())")
      // The diamond from the socket: D last, B and C between A and D.
      let (d, a) = (jobs[ids[0]]!, jobs[ids[1]]!)
      #expect(d.parents.map(\.id) == [ids[2], ids[3]])
      #expect(a.children.map(\.id) == [ids[2], ids[3]])
    }

    /// A parent that dies cancels its `cancel` child ("parent #N dead") and releases its `run`
    /// child, which runs; the counters stay exact.
    @Test func aDeadParentCancelsItsChild() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.start()
      let parent = try h.enqueue("boom", #"{"message": "no", "permanent": true}"#)
      let child = try h.enqueue("work", #"{"ms": 10}"#, ["--after", "\(parent)"])
      let reply = try h.request(
        #"{"cmd": "enqueue", "type": "work", "payload": {"ms": 10}, "after": [\#(parent)], "on_parent_failure": "run"}"#
      )
      #expect(reply["ok"] == true, "\(reply.render())")
      let runner = try #require(reply["id"]?.intValue)
      try h.waitUntil("the child cancelled, the runner completed", timeout: .seconds(30)) {
        try h.jobState(child) == "cancelled" && h.jobState(runner) == "completed"
      }
      #expect(try h.jobState(parent) == "dead")
      #expect(try h.jobErrors(child) == ["parent #\(parent) dead"])
      let unknown = try h.request(#"{"cmd": "enqueue", "type": "work", "after": [99999]}"#)
      #expect(unknown["ok"] == false)
      #expect(unknown["error"]?.stringValue?.contains("unknown parent #99999") == true)
      let counts = try h.jobCounts()
      #expect(counts["dead"] == 1)
      #expect(counts["cancelled"] == 1)
      #expect(counts["completed"] == 1)
      #expect(counts["waiting"] == 0)
      let store = try SQLiteStore(path: h.storePath)
      #expect(try store.counts() == store.countByScan())
    }
  }
}
