import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `[alerts]` text for `webhooks` and the other lines given.
func alertsTable(_ webhooks: [String], _ lines: String...) -> String {
  "[alerts]\nwebhooks = [" + webhooks.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
    + lines.joined(separator: "\n") + "\n"
}

extension SupervisorTests {
  /// Webhook alerts from a real `drover serve` to a real HTTP receiver on 127.0.0.1.
  @Suite("alerts")
  struct Alerts {
    /// The alerts a receiver got, as (alert, state, subject) with subject the pool or job id.
    static func summary(_ r: HTTPReceiver) -> [String] {
      r.bodies.map { b in
        let subject =
          (b["pool"] as? String) ?? ((b["job"] as? [String: Any])?["id"]).map { "\($0)" } ?? "-"
        return "\(b["alert"] ?? "?") \(b["state"] ?? "?") \(subject)"
      }
    }

    /// A backlog above 3 fires once, then resolves once after the jobs drain; every POST is
    /// signed with the secret (checked by openssl), and the body has the contract's keys.
    @Test func backlogFiresThenResolvesSigned() throws {
      let r = try HTTPReceiver()
      let h = try SupervisorHarness(
        pools: poolTable("slow", #"handler = "sleep""#, "min = 1", "max = 1"))
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable("slow", #"handler = "sleep""#, "min = 1", "max = 1"))
          + alertsTable([r.url], #"secret = "s3cret""#, "backlog_above = 3"))
      try h.start()
      var text = ""
      for _ in 0..<10 { text += #"{"type": "slow", "payload": {"ms": 400}}"# + "\n" }
      #expect(try h.drover(["enqueue", "--batch", h.write("b.ndjson", text)]).exitCode == 0)
      try h.waitUntil("backlog fired and resolved", timeout: .seconds(30)) {
        Self.summary(r).contains("backlog resolved slow")
      }
      SupervisorHarness.pause(.seconds(2))
      #expect(Self.summary(r) == ["backlog firing slow", "backlog resolved slow"])
      for req in r.requests {
        #expect(
          req.headers["x-drover-signature"] == HTTPReceiver.hmacSHA256Hex(req.body, key: "s3cret"))
        #expect(req.headers["content-type"] == "application/json")
      }
      let first = try #require(r.bodies.first)
      #expect(
        Set(first.keys) == ["alert", "state", "pool", "job", "value", "threshold", "at", "id"])
      #expect(first["job"] is NSNull)
      #expect((first["value"] as? Int ?? 0) > 3)
      #expect(first["threshold"] as? Int == 3)
      #expect((first["at"] as? String)?.hasSuffix("Z") == true)
      #expect(try h.stop().exitCode == 0)
    }

    /// A dead job fires job_dead with the job as `jobs show --json` has it (retried after the
    /// receiver answers 500); a job running past stuck_after fires job_stuck and resolves when
    /// it ends. SIGHUP applies a new secret, and a bad [alerts] is rejected with the old kept.
    @Test func deadAndStuckJobsRetryAndReload() throws {
      let r = try HTTPReceiver()
      r.answer([500])
      let pools =
        poolTable("bad", #"handler = "fail""#, "max_attempts = 1", "min = 1", "max = 1")
        + poolTable("nap", #"handler = "sleep""#, "min = 1", "max = 1")
      let h = try SupervisorHarness(pools: pools)
      func config(_ lines: String...) -> String {
        SupervisorHarness.configText(pools: pools)
          + "[alerts]\n" + lines.joined(separator: "\n") + "\n"
      }
      try h.writeConfig(
        config("webhooks = [\"\(r.url)\"]", #"secret = "one""#, #"stuck_after = "1s""#))
      let serve = try h.start()
      let dead = try h.enqueue("bad")
      try h.waitUntil("job_dead arrived twice (500, then 200)", timeout: .seconds(30)) {
        r.requests.count >= 2
      }
      let reqs = r.requests
      #expect(reqs[0].body == reqs[1].body, "the retry sends the same body")
      let body = try #require(r.bodies.first)
      #expect(body["alert"] as? String == "job_dead")
      #expect(body["state"] as? String == "firing")
      #expect(body["pool"] as? String == "bad")
      let job = try #require(body["job"] as? [String: Any])
      #expect(job["id"] as? Int == Int(dead))
      #expect(job["state"] as? String == "dead")
      #expect((job["errors"] as? [Any])?.count == 1)

      let nap = try h.enqueue("nap", #"{"ms": 3500}"#)
      try h.waitUntil("job_stuck resolved", timeout: .seconds(30)) {
        Self.summary(r).contains("job_stuck resolved nap")
      }
      #expect(
        Self.summary(r).filter { $0.hasPrefix("job_stuck") }
          == ["job_stuck firing nap", "job_stuck resolved nap"])
      let stuck = try #require(r.bodies.first { $0["alert"] as? String == "job_stuck" })
      #expect((stuck["job"] as? [String: Any])?["id"] as? Int == Int(nap))
      #expect((stuck["value"] as? Double ?? 0) > 1)

      // Reload: a new secret applies…
      try h.writeConfig(config("webhooks = [\"\(r.url)\"]", #"secret = "two""#))
      kill(serve.pid, SIGHUP)
      try h.waitUntil("the alerts reloaded") { h.log().contains("alerts: settings reloaded") }
      // …and a bad [alerts] is refused, the old settings kept.
      try h.writeConfig(config(#"webhooks = ["ftp://nowhere"]"#))
      kill(serve.pid, SIGHUP)
      try h.waitUntil("the bad reload is rejected") { h.log().contains("alerts.webhooks") }
      let before = r.requests.count
      // Over the socket: the CLI would refuse the bad file the supervisor just refused.
      _ = try h.enqueueViaSocket("bad")
      try h.waitUntil("the second job_dead arrived", timeout: .seconds(30)) {
        r.requests.count > before
      }
      let last = try #require(r.requests.last)
      #expect(
        last.headers["x-drover-signature"] == HTTPReceiver.hmacSHA256Hex(last.body, key: "two"))
      #expect(try h.stop().exitCode == 0)
    }

    /// A pool whose workers cannot boot fires crash_looping and workers_below_min, and both
    /// resolve once its workers boot again; both are critical, so PagerDuty (critical only by
    /// default) gets a trigger and then a resolve of each, keyed by host.
    @Test func crashLoopingAndWorkersBelowMinFireAndResolve() throws {
      let r = try HTTPReceiver()
      let pd = try HTTPReceiver()
      let pools =
        poolTable("good", #"handler = "noop""#, "min = 1", "max = 1")
        + poolTable("broken", #"handler = "noop""#, "min = 1", "max = 1")
      let h = try SupervisorHarness(pools: pools)
      try h.writeConfig(
        SupervisorHarness.configText(pools: pools) + alertsTable([r.url])
          + "[alerts.pagerduty]\nrouting_key = \"k\"\nurl = \"http://127.0.0.1:\(pd.port)/e\"\n")
      let fixed = h.dir.file("fixed")
      let worker = try h.write(
        "worker.sh",
        """
        #!/bin/sh
        case " $* " in *" --pool broken "*) [ -e '\(fixed)' ] || exit 78;; esac
        exec '\(h.binary)' "$@"
        """)
      #expect(chmod(worker, 0o755) == 0)
      try h.start(flags: SupervisorHarness.fastFlags + ["--worker-executable", worker])
      try h.waitUntil("crash_looping and workers_below_min fired", timeout: .seconds(30)) {
        let s = Self.summary(r)
        return s.contains("crash_looping firing broken")
          && s.contains("workers_below_min firing broken")
      }
      _ = try h.write("fixed", "")
      try h.waitUntil("both resolved", timeout: .seconds(60)) {
        let s = Self.summary(r)
        return s.contains("crash_looping resolved broken")
          && s.contains("workers_below_min resolved broken")
      }
      SupervisorHarness.pause(.seconds(2))
      let s = Self.summary(r)
      #expect(s.filter { $0.hasSuffix(" good") }.isEmpty, "\(s)")
      #expect(s.filter { $0.hasPrefix("crash_looping") }.count == 2, "\(s)")
      #expect(s.filter { $0.hasPrefix("workers_below_min") }.count == 2, "\(s)")
      let events = pd.bodies.map {
        "\($0["event_action"] ?? "?") \(($0["dedup_key"] as? String)?.split(separator: "/").dropFirst(2).joined(separator: "/") ?? "?")"
      }
      for key in ["crash_looping/broken", "workers_below_min/broken"] {
        #expect(events.filter { $0.hasSuffix(" " + key) } == ["trigger " + key, "resolve " + key])
      }
      #expect(events.count == 4, "\(events)")
      #expect(try h.stop().exitCode == 0)
    }

    /// 2,000 jobs drain with an unreachable webhook in about the time they take without
    /// [alerts]: dispatch never waits on a webhook. Twice: noop jobs (the cost of the engine's
    /// subscription and ticks), and jobs that each die (a job_dead alert each, the queue
    /// overflowing and dropping). The figures are printed.
    @Test(arguments: ["noop", "fail"])
    func anUnreachableWebhookDoesNotSlowDispatch(_ handler: String) throws {
      // DROVER_ALERT_JOBS raises it for a steadier figure (the README's is 20,000).
      let count = Int(ProcessInfo.processInfo.environment["DROVER_ALERT_JOBS"] ?? "") ?? 2_000
      let final = handler == "fail" ? "dead" : "completed"
      func drain(alerts: String) throws -> Double {
        let pools = poolTable(
          "d", "handler = \"\(handler)\"", "max_attempts = 1", "min = 2", "max = 2")
        let h = try SupervisorHarness(pools: pools)
        try h.writeConfig(SupervisorHarness.configText(pools: pools) + alerts)
        try h.start()
        var text = ""
        for n in 0..<count { text += #"{"type": "d", "payload": {"n": \#(n)}}"# + "\n" }
        let file = try h.write("b.ndjson", text)
        let start = ContinuousClock.now
        #expect(try h.drover(["enqueue", "--batch", file], timeout: .seconds(60)).exitCode == 0)
        try h.waitUntil("every job is \(final)", timeout: .seconds(120), every: .milliseconds(20)) {
          try h.jobCounts()[final] == Int64(count)
        }
        let took = seconds(since: start)
        if !alerts.isEmpty && handler == "fail" {
          // The engine may still be turning the last deaths into alerts when the jobs are all
          // dead (a fast drain outruns it): wait for the queue to overflow, not for the stop.
          try h.waitUntil("the full queue's drops are logged", timeout: .seconds(60)) {
            h.log().contains("dropped the oldest alert")
          }
        }
        #expect(try h.stop().exitCode == 0)
        return took
      }
      let without = try drain(alerts: "")
      // Port 9 (discard) on loopback: nobody listens, every try is refused and retried.
      let with = try drain(alerts: alertsTable(["http://127.0.0.1:9/hook"], "backlog_above = 10"))
      print(
        "figure: \(count) \(handler) jobs: enqueue to all \(final) in "
          + String(
            format: "%.2f s without [alerts], %.2f s with an unreachable webhook", without, with))
      #expect(with < without * 3 + 2, "with \(with) s, without \(without) s")
    }
  }
}

extension SupervisorTests.Alerts {
  /// The error rate fires once enough of the window's jobs failed and resolves when the window
  /// slides past them; a pool's oldest ready job waiting past the threshold fires and resolves
  /// when the backlog drains.
  @Test func errorRateAndOldestReadyFireAndResolve() throws {
    let r = try HTTPReceiver()
    let pools =
      poolTable("bad", #"handler = "fail""#, "max_attempts = 1", "min = 1", "max = 1")
      + poolTable("slow", #"handler = "sleep""#, "min = 1", "max = 1")
    let h = try SupervisorHarness(pools: pools)
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools)
        + alertsTable(
          [r.url], #"error_rate = { above = 0.5, window = "3s", min_jobs = 5 }"#,
          #"oldest_ready_above = "1s""#))
    try h.start()
    var text = ""
    for _ in 0..<8 { text += #"{"type": "bad"}"# + "\n" }
    for _ in 0..<4 { text += #"{"type": "slow", "payload": {"ms": 1000}}"# + "\n" }
    #expect(try h.drover(["enqueue", "--batch", h.write("b.ndjson", text)]).exitCode == 0)
    try h.waitUntil("error_rate and oldest_ready fired and resolved", timeout: .seconds(40)) {
      let s = Self.summary(r)
      return s.contains("error_rate resolved -") && s.contains("oldest_ready resolved slow")
    }
    let s = Self.summary(r).filter { !$0.hasPrefix("job_dead") }
    #expect(
      s.filter { $0.hasPrefix("error_rate") } == ["error_rate firing -", "error_rate resolved -"])
    #expect(
      s.filter { $0.hasPrefix("oldest_ready") }
        == ["oldest_ready firing slow", "oldest_ready resolved slow"])
    let rate = try #require(r.bodies.first { $0["alert"] as? String == "error_rate" })
    #expect(rate["value"] as? Double == 1)
    #expect(rate["threshold"] as? Double == 0.5)
    #expect(rate["pool"] is NSNull)
    #expect(Self.summary(r).filter { $0.hasPrefix("job_dead firing") }.count == 8)
    #expect(try h.stop().exitCode == 0)
  }

  /// A supervisor started without [alerts] starts its engine at the reload that adds it.
  @Test func aReloadThatAddsAlertsStartsThem() throws {
    let r = try HTTPReceiver()
    let pools = poolTable("bad", #"handler = "fail""#, "max_attempts = 1")
    let h = try SupervisorHarness(pools: pools)
    let serve = try h.start()
    try h.writeConfig(SupervisorHarness.configText(pools: pools) + alertsTable([r.url]))
    kill(serve.pid, SIGHUP)
    try h.waitUntil("the config reloaded") { h.log().contains("config reloaded") }
    // The engine subscribes on a thread of its own: retry until one dead job is heard.
    try h.waitUntil("a job_dead alert arrived", timeout: .seconds(30), every: .milliseconds(500)) {
      if r.requests.isEmpty { _ = try h.enqueueViaSocket("bad") }
      return !r.requests.isEmpty
    }
    #expect(Self.summary(r).first == "job_dead firing bad")
    #expect(try h.stop().exitCode == 0)
  }

  /// `config check` names a bad [alerts] key with its line, like every other section's.
  @Test func configCheckReportsAlertProblems() throws {
    let h = try SupervisorHarness(pools: poolTable("p", #"handler = "noop""#))
    try h.writeConfig(
      SupervisorHarness.configText(pools: poolTable("p", #"handler = "noop""#))
        + alertsTable(["http://127.0.0.1:1/"], "backlog_above = -5", #"stuck_after = "never""#))
    let r = try h.drover(["config", "check"])
    #expect(r.exitCode == 1)
    #expect(r.stderrText.contains("alerts.backlog_above: must be between 0 and 1000000000, got -5"))
    #expect(r.stderrText.contains("alerts.stuck_after: invalid duration \"never\""))
  }
}
