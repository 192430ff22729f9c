import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Limits through a real supervisor: a full key's jobs wait in the store while other keys
  /// run, a worker's death frees its slot, a bucket spaces the starts out, and a handler's
  /// `RETRY-AFTER` holds its key.
  @Suite("limits")
  struct Limits {
    /// Jobs of one account never overlap, another account's job runs beside them, `drover
    /// why` names the limit and the key, and kill -9 of the worker running the account's job
    /// frees the slot for the next one.
    @Test func aFullKeyWaitsInTheStoreAndAKilledWorkerFreesItsSlot() throws {
      let h = try SupervisorHarness(
        pools: poolTable(
          "work", #"handler = "sleep""#, "min = 3", "max = 3", "max_attempts = 1",
          #"concurrency_limit = { limit = 1, key = "account" }"#))
      try h.start()
      let a1 = try h.enqueue("work", #"{"ms": 60000, "account": "A"}"#)
      let a2 = try h.enqueue("work", #"{"ms": 300, "account": "A"}"#)
      let b1 = try h.enqueue("work", #"{"ms": 300, "account": "B"}"#)
      let a3 = try h.enqueue("work", #"{"ms": 300, "account": "A"}"#, ["--key", "A"])
      try h.waitUntil("B's job completed beside A's", timeout: .seconds(30)) {
        try h.jobState(b1) == "completed" && h.jobState(a1) == "running"
      }
      for id in [a2, a3] {
        let j = try h.job(id)
        #expect(j["state"] == "queued" && j["held"] == true && j["attempts"] == 0, "\(j.render())")
        #expect(j["limit_key"] == "A")
      }
      let why = try h.drover(["why", String(a2)])
      #expect(
        why.trimmedStdout
          == #"held by concurrency_limit 1 for key "A" (1 running, 2 held); it is released "#
          + "when one of them ends", "\(why.stdoutText)\(why.stderrText)")
      let show = try h.drover(["jobs", "show", String(a3)]).stdoutText
      #expect(show.contains("held by concurrency_limit 1"), "\(show)")

      // The worker running A's job dies: its slot is free at once, A's next job runs.
      let pid = try #require(try h.job(a1)["worker_pid"]?.intValue)
      #expect(kill(Int32(pid), SIGKILL) == 0)
      try h.waitUntil("A's other jobs completed", timeout: .seconds(30)) {
        try h.jobState(a2) == "completed" && h.jobState(a3) == "completed"
      }
      #expect(try h.jobState(a1) == "dead")
      let jobs = try storeJobs(h).filter { [a2, a3].contains($0.id) }
      let spans = jobs.compactMap { j in j.startedAt.flatMap { s in j.finishedAt.map { (s, $0) } } }
        .sorted { $0.0 < $1.0 }
      #expect(spans.count == 2)
      if spans.count == 2 { #expect(spans[1].0 >= spans[0].1, "A's jobs overlapped: \(spans)") }
      for j in jobs { #expect(j.attempts == 1) }
      #expect(try h.stop().exitCode == 0)
    }

    /// `rate = "4/1s"`: five jobs enqueued at once start a quarter second apart (the bucket
    /// holds one token), released by the supervisor's timer, not by polling the store.
    @Test func aRateSpacesTheStartsOut() throws {
      let h = try SupervisorHarness(
        pools: poolTable("tick", #"handler = "noop""#, "min = 2", "max = 2", #"rate = "4/1s""#))
      try h.start()
      let file = try h.write(
        "jobs.ndjson",
        (0..<5).map { _ in #"{"type": "tick", "payload": {}}"# }.joined(separator: "\n"))
      let r = try h.drover(["enqueue", "--batch", file])
      #expect(r.exitCode == 0, "\(r.stderrText)")
      try h.waitUntil("the five jobs completed", timeout: .seconds(30)) {
        try h.jobCounts()["completed"] == 5
      }
      let starts = try storeJobs(h).compactMap(\.startedAt).sorted()
      #expect(starts.count == 5)
      let span = Double(starts[4].micros - starts[0].micros) / 1e6
      // Four more tokens at 250 ms each: a second at least (less the first hand-out's delay).
      #expect(span >= 0.8, "starts: \(starts.map(\.rfc3339))")
      #expect(try storeJobs(h).allSatisfy { $0.attempts == 1 && $0.errors.isEmpty })
      #expect(try h.stop().exitCode == 0)
    }

    /// An exec command that exits 75 with `RETRY-AFTER 5`: its job waits in the store keeping
    /// its attempt, `drover why` says the key is held, and a job enqueued meanwhile does not
    /// start before the five seconds are over.
    @Test func retryAfterHoldsTheKeyWithoutSpendingAnAttempt() throws {
      let h = try SupervisorHarness(pools: "")
      let path = try h.write(
        "job.py",
        """
        #!/usr/bin/env python3
        import json, os, sys, time
        d = os.path.dirname(sys.argv[0])
        job = json.load(sys.stdin)
        marker = os.path.join(d, "limited.txt")
        if job.get("limit") and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(time.time()))
            print("RETRY-AFTER 5", flush=True)
            sys.exit(75)

        """, mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "ex", #"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 2", "max = 2",
            "max_attempts = 1", "concurrency_limit = { limit = 2 }")))
      try h.start()
      let x = try h.enqueue("ex", #"{"limit": true}"#)
      try h.waitUntil("the job is held after its RETRY-AFTER", timeout: .seconds(30)) {
        try h.job(x)["held"] == true
      }
      let y = try h.enqueue("ex", "{}")
      let why = try h.drover(["why", String(x)]).trimmedStdout
      #expect(
        why.hasPrefix("held for the pool (no key): its handler reported it rate limited"), "\(why)")
      try h.waitUntil("both jobs completed", timeout: .seconds(40)) {
        try h.jobState(x) == "completed" && h.jobState(y) == "completed"
      }
      let limitedAt = try #require(
        Double(try String(contentsOfFile: h.dir.file("limited.txt"), encoding: .utf8)))
      let jobs = Dictionary(uniqueKeysWithValues: try storeJobs(h).map { ($0.id, $0) })
      let yStart = try #require(jobs[y]?.startedAt)
      #expect(Double(yStart.micros) / 1e6 - limitedAt >= 4.5, "y started during the block")
      let xj = try #require(jobs[x])
      #expect(xj.attempts == 1 && xj.snoozes == 0 && xj.errors.isEmpty)
      #expect(try h.stop().exitCode == 0)
    }
  }
}
