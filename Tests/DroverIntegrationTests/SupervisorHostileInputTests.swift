import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// The real supervisor against extreme configs and hostile requests.
  @Suite("hostile input: extreme configs, reloads, payloads")
  struct HostileInput {
    /// Every range at its new maximum: jobs run, and SIGTERM drains and exits 0 (before the
    /// ranges, such values trapped at the first spawn, after READY or on SIGTERM).
    @Test func theLargestAcceptedValuesRunJobsAndDrain() throws {
      let pools =
        poolTable(
          "p", #"handler = "sleep""#, "min = 1", "max = 2", "concurrency = 1024",
          "max_jobs = 1000000000", #"idle_timeout = "365d""#, #"timeout = "365d""#,
          "max_attempts = 1000000", #"backoff = { base = "365d", cap = "365d" }"#,
          #"max_rss = "1024GiB""#)
        + poolTable("q", #"handler = "noop""#, "min = 0", "max = 1024", "max_jobs = 1000000000")
      let h = try SupervisorHarness(pools: pools, drainTimeout: "365d")
      try h.start(timeout: .seconds(60))
      var ids: [JobID] = []
      for _ in 0..<5 { ids.append(try h.enqueue("p", #"{"ms": 10}"#)) }
      ids.append(try h.enqueueViaSocket("q"))
      try h.waitUntil("the jobs completed", timeout: .seconds(60)) {
        try ids.allSatisfy { try h.jobState($0) == "completed" }
      }
      let long = try h.enqueue("p", #"{"ms": 1500}"#)
      try h.waitUntil("the long job runs", timeout: .seconds(30)) {
        try h.jobState(long) == "running"
      }
      let out = try h.stop(timeout: .seconds(60))
      #expect(out.exitCode == 0, "\(h.logTail())")
      #expect(try h.jobState(long) == "completed", "\(h.logTail())")
    }

    /// A SIGHUP reload whose values are out of range (the overflowing ones of the issue) is
    /// rejected naming the key while jobs run; they finish once, and the old config goes on.
    @Test func anOutOfRangeReloadIsRejectedWhileJobsRun() throws {
      let good = poolTable("p", #"handler = "sleep""#, "min = 1", "max = 1", "concurrency = 2")
      let h = try SupervisorHarness(pools: good)
      let serve = try h.start()
      let running = [try h.enqueue("p", #"{"ms": 2500}"#), try h.enqueue("p", #"{"ms": 2500}"#)]
      try h.waitUntil("both jobs run", timeout: .seconds(30)) {
        try running.allSatisfy { try h.jobState($0) == "running" }
      }
      let bad: [(String, String)] = [
        ("max_jobs = 9223372036854775807", "max_jobs"),
        (#"idle_timeout = "106752d""#, "idle_timeout"),
        ("concurrency = 1000000", "concurrency"),
      ]
      for (line, key) in bad {
        let concurrency = key == "concurrency" ? line : "concurrency = 2"
        let text = poolTable(
          "p", #"handler = "sleep""#, "min = 1", "max = 1", concurrency,
          key == "concurrency" ? "" : line)
        try h.writeConfig(SupervisorHarness.configText(pools: text))
        serve.kill(SIGHUP)
        try h.waitUntil("the reload with \(key) was rejected", timeout: .seconds(30)) {
          h.log().contains("rejected") && h.log().contains("pools.p.\(key): must be between")
        }
        #expect(try h.state() == "running")
      }
      try h.writeConfig(SupervisorHarness.configText(pools: good, drainTimeout: "106752d"))
      serve.kill(SIGHUP)
      try h.waitUntil("the reload with drain_timeout was rejected", timeout: .seconds(30)) {
        h.log().contains("supervisor.drain_timeout: must be between")
      }
      #expect(try h.state() == "running")
      // Back to the good config: the final SIGTERM drains with it.
      try h.writeConfig(SupervisorHarness.configText(pools: good))
      try h.waitUntil("the jobs completed", timeout: .seconds(30)) {
        try running.allSatisfy { try h.jobState($0) == "completed" }
      }
      let after = try h.enqueue("p", #"{"ms": 10}"#)
      try h.waitUntil("a job after the reloads completed", timeout: .seconds(30)) {
        try h.jobState(after) == "completed"
      }
      for id in running + [after] {
        let job = try h.job(id)
        #expect(job["attempts"]?.intValue == 1, "\(job.render())")
        #expect(job["errors"]?.arrayValue?.isEmpty == true, "\(job.render())")
      }
      #expect(try h.stop().exitCode == 0)
    }

    /// Over the control socket: numbers kept as sent, duplicated keys, invalid UTF-8,
    /// oversized payloads and far delays refused with an error naming them; the connection
    /// and the supervisor go on.
    @Test func socketEnqueuesAreCheckedAndKeptExact() throws {
      let h = try SupervisorHarness(pools: poolTable("p", #"handler = "noop""#, "min = 1"))
      try h.writeConfig(
        SupervisorHarness.configText(pools: poolTable("p", #"handler = "noop""#, "min = 1"))
          .replacingOccurrences(
            of: "path = \"var/drover.db\"", with: "path = \"var/drover.db\"\nmax_payload = 2048"))
      try h.start()
      let exact = #"{"big":12345678901234567890,"huge":1e400}"#
      let id = try h.enqueueViaSocket("p", exact)
      try h.waitUntil("the job completed") { try h.jobState(id) == "completed" }
      let shown = try h.drover(["jobs", "show", String(id), "--json"])
      #expect(shown.stdoutText.contains(#""payload":\#(exact)"#), "\(shown.stdoutText)")

      let socket = try ControlSocket(path: h.socketPath)
      let big = String(repeating: "x", count: 3000)
      var lines: [[UInt8]] = [
        Array(#"{"cmd":"enqueue","type":"p","payload":{"a":1,"a":2}}"#.utf8),
        Array(#"{"cmd":"enqueue","type":"p","payload":{"s":""#.utf8) + [0xC3, 0x28]
          + Array("\"}}".utf8),
        Array(#"{"cmd":"enqueue","type":"p","payload":{"s":"\#(big)"}}"#.utf8),
        Array(#"{"cmd":"enqueue","type":"p","delay":"106751990d"}"#.utf8),
        Array(#"{"cmd":"status"}"#.utf8),
      ]
      for k in lines.indices { lines[k].append(0x0A) }
      try socket.send(lines.flatMap { $0 })
      var replies: [String] = []
      for _ in lines {
        replies.append(try #require(try socket.readLine(timeout: .seconds(20))))
      }
      #expect(replies[0].contains(#"duplicate key \"a\""#), "\(replies[0])")
      #expect(replies[1].contains("not valid UTF-8"), "\(replies[1])")
      #expect(replies[2].contains("more than max_payload (2048 bytes)"), "\(replies[2])")
      #expect(replies[3].contains(#"\"delay\" must be at most 36500d"#), "\(replies[3])")
      #expect(replies[4].contains(#""ok":true"#), "\(replies[4])")
      #expect(try storeJobs(h).count == 1)
      #expect(try h.stop().exitCode == 0)
    }

    /// A stored payload too large for a worker frame (written before `max_payload` existed,
    /// or by another writer) fails only its own job, permanently; the worker and the jobs
    /// beside it are untouched.
    @Test func aJobWhoseFrameCannotBeSentFailsAlone() throws {
      let h = try SupervisorHarness(
        pools: poolTable("p", #"handler = "noop""#, "min = 1", "max = 1", "concurrency = 2"))
      try FileManager.default.createDirectory(
        atPath: h.dir.file("var"), withIntermediateDirectories: true)
      let huge = #"{"s":""# + String(repeating: "x", count: 17 << 20) + #""}"#
      let store = try SQLiteStore(path: h.storePath)
      let ids = try store.enqueue([
        EnqueueParams(type: "p", payload: "{}", maxPayload: .max),
        EnqueueParams(type: "p", payload: huge, maxPayload: .max),
        EnqueueParams(type: "p", payload: "{}", maxPayload: .max),
      ]).map(\.id)
      try h.start()
      let worker = try #require(try h.workerPIDs("p").first)
      try h.waitUntil("every job settled", timeout: .seconds(60)) {
        try h.jobState(ids[0]) == "completed" && h.jobState(ids[2]) == "completed"
          && h.jobState(ids[1]) == "dead"
      }
      let dead = try h.job(ids[1])
      #expect(dead["attempts"]?.intValue == 1)
      let errors = try h.jobErrors(ids[1])
      #expect(errors.first?.contains("more than the worker frame limit") == true, "\(errors)")
      for id in [ids[0], ids[2]] {
        #expect(try h.job(id)["attempts"]?.intValue == 1)
        #expect(try h.jobErrors(id).isEmpty)
      }
      #expect(try h.workerPIDs("p") == [worker])
      #expect(try h.stop().exitCode == 0)
    }
  }
}
