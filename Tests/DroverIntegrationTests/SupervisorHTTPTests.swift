import DroverCore
import DroverStore
import DroverSystem
import DroverTestSupport
import Foundation
import Testing

/// The HTTP API against a real `drover serve` on 127.0.0.1: every route, every 4xx path, the
/// token rules, and metrics values after real jobs.
@Suite("http API", .serialized)
struct SupervisorHTTPTests {
  static let pools =
    poolTable("work", #"types = ["noop", "slow"]"#, #"handler = "noop""#, "min = 1", "max = 2")
    + poolTable(
      "bad", #"types = ["bad"]"#, #"handler = "fail""#, "min = 1", "max = 1",
      "max_attempts = 1")
    + poolTable("sleepy", #"types = ["sleep"]"#, #"handler = "sleep""#, "min = 1", "max = 1")

  static func harness(
    http: String = SupervisorHarness.httpTable(), store: String = "",
    files: [(String, String)] = []
  ) throws -> SupervisorHarness {
    let h = try SupervisorHarness(pools: pools)
    for (name, text) in files { try h.write(name, text) }
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools).replacingOccurrences(
        of: "[control]", with: "\(http)\n[control]"
      )
      .replacingOccurrences(
        of: "path = \"var/drover.db\"", with: "path = \"var/drover.db\"\n\(store)"))
    try h.start()
    return h
  }

  static func expectError(
    _ r: LoopbackHTTPClient.Reply, _ status: Int, field: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
    let v = try r.json()
    #expect(v["error"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
    if let field {
      #expect(v["field"]?.stringValue == field, "\(r.text)", sourceLocation: sourceLocation)
    }
  }

  @Test func jobsCreateListShowAndEveryBadInput() throws {
    let h = try Self.harness(store: #"max_payload = "1KiB""#)
    let c = try h.httpClient()
    // One job: 201 once durable, shaped as `jobs show --json`, numbers exact.
    let one = try c.post("/jobs", #"{"type":"noop","payload":{"n":12345678901234567890}}"#)
    #expect(one.status == 201, "\(one.text)")
    let job = try one.json()
    let id = try #require(job["id"]?.intValue)
    #expect(one.text.contains(#""payload":{"n":12345678901234567890}"#))
    #expect(job["max_attempts"]?.intValue == 20)
    // A batch as an array and as NDJSON.
    let arr = try c.post("/jobs", #"[{"type":"noop","priority":5},{"type":"noop"}]"#)
    #expect(arr.status == 201)
    #expect(try arr.json()["jobs"]?.arrayValue?.count == 2)
    let nd = try c.post(
      "/jobs", "{\"type\":\"noop\",\"payload\":{\"acct\":7}}\n\n{\"type\":\"noop\"}\n",
      contentType: "application/x-ndjson")
    #expect(nd.status == 201, "\(nd.text)")
    try h.waitUntil("five jobs completed") { try h.stats()["completed"] == 5 }
    // All or nothing: the bad second job refuses the first too, naming its field.
    try Self.expectError(
      try c.post("/jobs", #"[{"type":"noop"},{"type":"noop","priority":"high"}]"#), 422,
      field: "priority")
    try Self.expectError(try c.post("/jobs", #"{"type":"noop","bogus":1}"#), 422, field: "bogus")
    try Self.expectError(try c.post("/jobs", #"{"payload":{}}"#), 422, field: "type")
    try Self.expectError(try c.post("/jobs", "[]"), 422, field: "jobs")
    try Self.expectError(try c.post("/jobs", #"{"type":"noop","type":"x"}"#), 400)
    try Self.expectError(try c.post("/jobs", "{nope"), 400)
    try Self.expectError(
      try c.request(
        "POST", "/jobs", headers: [("Content-Type", "application/json")],
        body: Array(#"{"type":"noop","payload":{"s":""#.utf8) + [0xFF, 0xFE] + Array(#""}}"#.utf8)),
      400)
    try Self.expectError(
      try c.post("/jobs", "{}", contentType: "text/plain"), 415, field: "Content-Type")
    try Self.expectError(try c.post("/jobs", "{}", contentType: nil), 415)
    // A payload over max_payload (1 KiB) names it; a body over the limit is a 413.
    let big = String(repeating: "x", count: 2000)
    try Self.expectError(
      try c.post("/jobs", #"{"type":"noop","payload":{"s":"\#(big)"}}"#), 413, field: "payload")
    let huge = "[" + Array(repeating: #"{"type":"noop"}"#, count: 8000).joined(separator: ",") + "]"
    try Self.expectError(try c.post("/jobs", huge), 413)
    #expect(try h.stats()["completed"] == 5)
    #expect(try h.stats()["queued"] == 0)

    // List: filters and a keyset cursor.
    let page1 = try c.get("/jobs?limit=2").json()
    #expect(page1["jobs"]?.arrayValue?.count == 2)
    let next = try #require(page1["next"]?.stringValue)
    let page2 = try c.get("/jobs?limit=2&after=\(next)").json()
    let ids1 = page1["jobs"]!.arrayValue!.compactMap { $0["id"]?.intValue }
    let ids2 = page2["jobs"]!.arrayValue!.compactMap { $0["id"]?.intValue }
    #expect(ids1 == [5, 4] && ids2 == [3, 2], "\(ids1) \(ids2)")
    let last = try c.get("/jobs?limit=2&after=\(ids2.last!)").json()
    #expect(last["jobs"]?.arrayValue?.count == 1 && last["next"] == .null)
    #expect(try c.get("/jobs?priority_min=5").json()["jobs"]?.arrayValue?.count == 1)
    #expect(try c.get("/jobs?payload.acct=7").json()["jobs"]?.arrayValue?.count == 1)
    #expect(try c.get("/jobs?payload.acct=8").json()["jobs"]?.arrayValue?.count == 0)
    #expect(try c.get("/jobs?state=completed&type=noop").json()["jobs"]?.arrayValue?.count == 5)
    let future = "2999-01-01T00:00:00Z"
    #expect(try c.get("/jobs?created_after=\(future)").json()["jobs"]?.arrayValue?.count == 0)
    #expect(try c.get("/jobs?finished_before=\(future)").json()["jobs"]?.arrayValue?.count == 5)
    try Self.expectError(try c.get("/jobs?state=nope"), 400, field: "state")
    try Self.expectError(try c.get("/jobs?limit=0"), 400, field: "limit")
    try Self.expectError(try c.get("/jobs?after=x"), 400, field: "after")
    try Self.expectError(try c.get("/jobs?created_after=yesterday"), 400, field: "created_after")
    try Self.expectError(try c.get("/jobs?payload.a-b=1"), 400, field: "payload.a-b")
    try Self.expectError(try c.get("/jobs?color=red"), 400, field: "color")
    // Show.
    #expect(try c.get("/jobs/\(id)").json()["state"]?.stringValue == "completed")
    try Self.expectError(try c.get("/jobs/999999"), 404)
    try Self.expectError(try c.get("/jobs/abc"), 400, field: "id")
    try Self.expectError(try c.get("/no/such/route"), 404)
    #expect(try c.get("/stats").json()["completed"]?.intValue == 5)
  }

  @Test func adminActionsPoolsAndHealth() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    // Cancel a scheduled job; a second cancel conflicts.
    let later = try c.post("/jobs", #"{"type":"noop","delay":"1h"}"#).json()["id"]!.intValue!
    let cancelled = try c.post("/jobs/\(later)/cancel").json()
    #expect(cancelled["state"]?.stringValue == "cancelled")
    #expect(cancelled["cancel"]?.stringValue == "cancelled")
    try Self.expectError(try c.post("/jobs/\(later)/cancel"), 409)
    try Self.expectError(try c.post("/jobs/999999/cancel"), 404)
    // Retry it: queued again, then it runs.
    #expect(try c.post("/jobs/\(later)/retry").json()["state"]?.stringValue == "queued")
    try h.waitUntil("the retried job completes") {
      try c.get("/jobs/\(later)").json()["state"]?.stringValue == "completed"
    }
    try Self.expectError(try c.post("/jobs/\(later)/retry"), 409)
    // Dead jobs: requeue by ids, by filter, all; bad bodies.
    var dead: [Int64] = []
    for _ in 0..<3 { dead.append(try c.post("/jobs", #"{"type":"bad"}"#).json()["id"]!.intValue!) }
    try h.waitUntil("three dead jobs") { try h.stats()["dead"] == 3 }
    #expect(
      try c.post("/dead/requeue", #"{"ids":[\#(dead[0])]}"#).json()["requeued"]?.intValue == 1)
    try h.waitUntil("it is dead again") { try h.stats()["dead"] == 3 }
    #expect(
      try c.post("/dead/requeue", #"{"type":"bad","limit":2}"#).json()["requeued"]?.intValue == 2)
    try h.waitUntil("dead again") { try h.stats()["dead"] == 3 }
    #expect(try c.post("/dead/requeue", #"{"all":true}"#).json()["requeued"]?.intValue == 3)
    try Self.expectError(try c.post("/dead/requeue", #"{"ids":[999999]}"#), 404)
    try Self.expectError(try c.post("/dead/requeue", #"{"ids":"all"}"#), 422, field: "ids")
    try Self.expectError(try c.post("/dead/requeue", #"{"all":false}"#), 422, field: "all")
    try Self.expectError(try c.post("/dead/requeue", #"{"colour":1}"#), 422, field: "colour")
    try Self.expectError(try c.post("/dead/requeue", "{}"), 422)
    try Self.expectError(try c.post("/dead/requeue", "[1]"), 400)
    try Self.expectError(try c.post("/dead/requeue", "{}", contentType: "text/csv"), 415)
    // Pools: workers with pid, busy, current job, RSS, jobs done.
    let pools = try c.get("/pools").json()["pools"]!.arrayValue!
    let work = try #require(pools.first { $0["name"]?.stringValue == "work" })
    let w = try #require(work["workers"]?.arrayValue?.first)
    #expect((w["rss_bytes"]?.intValue ?? 0) > 1_000_000)
    #expect(
      w["pid"]?.intValue != nil && w["busy"]?.boolValue != nil && w["jobs_done"]?.intValue != nil)
    #expect(try c.post("/pools/work/scale", #"{"workers":2}"#).json()["target"]?.intValue == 2)
    try h.waitUntil("two workers") { try h.workers("work").count == 2 }
    #expect(
      try c.post("/pools/work/scale", #"{"workers":"auto"}"#).json()["auto"]?.boolValue == true)
    try Self.expectError(try c.post("/pools/work/scale", #"{"workers":9}"#), 422, field: "workers")
    try Self.expectError(try c.post("/pools/work/scale", #"{"workers":-1}"#), 422, field: "workers")
    try Self.expectError(try c.post("/pools/work/scale", #"{"count":1}"#), 422, field: "count")
    try Self.expectError(try c.post("/pools/work/scale", "{}"), 422, field: "workers")
    try Self.expectError(try c.post("/pools/nope/scale", #"{"workers":1}"#), 404)
    #expect(try c.post("/pools/work/drain").json()["pools"] == ["work"])
    #expect(try h.pool("work")["paused"]?.boolValue == true)
    #expect(try c.post("/pools/work/resume").status == 200)
    #expect(try h.pool("work")["paused"]?.boolValue == false)
    try Self.expectError(try c.post("/pools/nope/drain"), 404)
    try Self.expectError(try c.post("/pools/nope/resume"), 404)
    #expect(try c.post("/reload").status == 200)
    try h.write("drover.toml", "[store]\nbogus = 1\n")
    try Self.expectError(try c.post("/reload"), 422)
    // Health: alive, ready, and healthy (3 dead of 6 attempts is under min_jobs 20).
    #expect(try c.get("/livez").status == 200)
    #expect(try c.get("/readyz").json()["state"]?.stringValue == "running")
    let health = try c.get("/health")
    #expect(health.status == 200)
    #expect(try health.json()["status"]?.stringValue == "healthy", "\(health.text)")
  }

  @Test func metricsCountRealJobs() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    let n = 30
    let body = "[" + Array(repeating: #"{"type":"noop"}"#, count: n).joined(separator: ",") + "]"
    #expect(try c.post("/jobs", body).status == 201)
    #expect(try c.post("/jobs", #"{"type":"bad"}"#).status == 201)
    let later = try c.post("/jobs", #"{"type":"noop","delay":"1h"}"#).json()["id"]!.intValue!
    #expect(try c.post("/jobs/\(later)/cancel").status == 200)
    try h.waitUntil("all finished", timeout: .seconds(20)) {
      try c.metric(#"drover_jobs_completed_total{type="noop",pool="work"}"#) == Double(n)
        && c.metric(#"drover_jobs_dead_total{type="bad",pool="bad"}"#) == 1
    }
    SupervisorHarness.pause(.milliseconds(1100))  // past the 1 s cache of the oldest-ready reads
    #expect(try c.metric(#"drover_jobs_enqueued_total{type="noop"}"#) == Double(n + 1))
    #expect(try c.metric(#"drover_jobs_started_total{type="noop",pool="work"}"#) == Double(n))
    #expect(try c.metric(#"drover_jobs_failed_total{type="bad",pool="bad"}"#) == 1)
    #expect(try c.metric(#"drover_jobs_cancelled_total{type="noop"}"#) == 1)
    #expect(try c.metric(#"drover_jobs{state="completed",type="noop"}"#) == Double(n))
    #expect(try c.metric(#"drover_jobs{state="cancelled",type="noop"}"#) == 1)
    #expect(try c.metric(#"drover_jobs{state="dead",type="bad"}"#) == 1)
    #expect(try c.metric(#"drover_job_wait_seconds_count{type="noop"}"#) == Double(n))
    #expect(try c.metric(#"drover_job_run_seconds_count{type="noop"}"#) == Double(n))
    // Every job is done, so no worker is busy. The pool (min 1, max 2) may have scaled up for
    // the backlog of 30 on a loaded machine, so one or two workers stand idle.
    #expect(try c.metric(#"drover_workers{pool="work",state="busy"}"#) == 0)
    let idle = try c.metric(#"drover_workers{pool="work",state="idle"}"#) ?? 0
    #expect(idle >= 1 && idle <= 2, "idle workers in work: \(idle)")
    #expect(try c.metric(#"drover_workers{pool="bad",state="busy"}"#) == 0)
    #expect(try c.metric(#"drover_pool_crash_looping{pool="work"}"#) == 0)
    #expect(try c.metric(#"drover_oldest_ready_seconds{pool="work"}"#) == 0)
    #expect((try c.metric("drover_loop_turn_max_seconds") ?? -1) >= 0)
    #expect((try c.metric("drover_commit_seconds_count") ?? 0) >= 1)
    // A worker killed by a signal is a restart by cause.
    let pid = try #require(try h.workerPIDs("work").first)
    kill(pid, SIGKILL)
    try h.waitUntil("the restart is counted") {
      try c.metric(#"drover_worker_restarts_total{pool="work",cause="signal_9"}"#) == 1
    }
  }

  @Test func tokensGuardEveryRouteButLivez() throws {
    let h = try Self.harness(
      http: SupervisorHarness.httpTable(#"token_file = "token.txt""#, #"read_token = "reader""#),
      files: [("token.txt", "s3cret\n")])
    let c = try h.httpClient()
    #expect(try c.get("/livez").status == 200)
    for path in ["/jobs", "/stats", "/pools", "/health", "/readyz", "/metrics", "/openapi.json"] {
      try Self.expectError(try c.get(path), 401)
      try Self.expectError(try c.get(path, token: "wrong"), 401)
      #expect(try c.get(path, token: "reader").status == 200, "\(path)")
      #expect(try c.get(path, token: "s3cret").status == 200, "\(path)")
    }
    try Self.expectError(try c.post("/jobs", #"{"type":"noop"}"#), 401)
    try Self.expectError(try c.post("/jobs", #"{"type":"noop"}"#, token: "reader"), 403)
    try Self.expectError(try c.post("/pools/work/drain", token: "reader"), 403)
    try Self.expectError(try c.post("/reload", token: "s3cre"), 401)
    #expect(try c.post("/jobs", #"{"type":"noop"}"#, token: "s3cret").status == 201)
  }

  @Test func openAPIDocumentNamesEveryRouteTheServerHas() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    let doc = try c.get("/openapi.json").json()
    #expect(doc["openapi"]?.stringValue == "3.1.0")
    let paths = try #require(doc["paths"]?.objectValue)
    var seen = 0
    for p in paths {
      for m in p.value.objectValue ?? [] {
        // Every documented route exists: never the router's "no route" 404.
        let path = p.key.replacingOccurrences(of: "{id}", with: "999999")
          .replacingOccurrences(of: "{name}", with: "nope")
        let r = try c.request(
          m.key.uppercased(), path, headers: [("Content-Type", "application/json")], body: "{}")
        #expect(!r.text.contains("no route"), "\(m.key) \(p.key): \(r.text)")
        seen += 1
      }
    }
    #expect(seen == 19)
    // The server refuses what the document lacks.
    try Self.expectError(try c.request("DELETE", "/jobs/1"), 404)
  }

  @Test func configCheckRefusesAnOpenNonLoopbackListen() throws {
    let h = try SupervisorHarness(pools: Self.pools)
    try h.writeConfig(
      SupervisorHarness.configText(pools: Self.pools) + "\n[http]\nlisten = \"0.0.0.0:8080\"\n")
    let r = try h.drover(["config", "check", h.configPath])
    #expect(r.exitCode != 0)
    #expect(r.stderrText.contains("token"), "\(r.stderrText)")
    try h.writeConfig(
      SupervisorHarness.configText(pools: Self.pools)
        + "\n[http]\nlisten = \"0.0.0.0:8080\"\ntoken_file = \"t\"\n")
    #expect(try h.drover(["config", "check", h.configPath]).exitCode == 0)
  }

  @Test func uniqueKeysRunningCancelsAndADegradedBacklog() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    // A live unique key: the second POST answers 200 with the first job.
    let body = #"{"type":"sleep","payload":{"ms":20000},"unique_key":"k1"}"#
    let first = try c.post("/jobs", body)
    #expect(first.status == 201)
    let again = try c.post("/jobs", body)
    #expect(again.status == 200)
    let id = try #require(try first.json()["id"]?.intValue)
    #expect(try again.json()["id"]?.intValue == id)
    // Cancelling a running job is a request the loop carries out.
    try h.waitUntil("the sleep job runs") {
      try c.get("/jobs/\(id)").json()["state"]?.stringValue == "running"
    }
    #expect(try c.post("/jobs/\(id)/cancel").json()["cancel"]?.stringValue == "requested")
    try h.waitUntil("the running job is cancelled", timeout: .seconds(20)) {
      try c.get("/jobs/\(id)").json()["state"]?.stringValue == "cancelled"
    }
    // A drained pool with a backlog above 500: degraded (still 200), with the reason; the
    // oldest ready job's age shows in the gauge.
    #expect(try c.post("/pools/sleepy/drain").status == 200)
    let many = "[" + Array(repeating: #"{"type":"sleep"}"#, count: 501).joined(separator: ",") + "]"
    #expect(try c.post("/jobs", many).status == 201)
    SupervisorHarness.pause(.milliseconds(1100))  // past the 1 s cache of pool facts
    let health = try c.get("/health")
    #expect(health.status == 200)
    let report = try health.json()
    #expect(report["status"]?.stringValue == "degraded", "\(health.text)")
    #expect(
      report["reasons"]?.arrayValue?.contains {
        $0.stringValue?.contains("pool sleepy backlog 501 above 500") == true
      } == true, "\(health.text)")
    #expect((try c.metric(#"drover_oldest_ready_seconds{pool="sleepy"}"#) ?? 0) > 0.5)
    #expect(try c.metric(#"drover_jobs{state="queued",type="sleep"}"#) == 501)
  }

  /// A batch refused at the loop (a payload over max_payload reaches it over the socket, which
  /// checks sizes only there) is refused whole, naming the job that caused it.
  @Test func aBatchRefusedAtTheLoopEnqueuesNothing() throws {
    let h = try Self.harness(store: #"max_payload = "1KiB""#)
    let big = String(repeating: "x", count: 2000)
    let r = try h.request(
      #"{"cmd":"enqueue_batch","jobs":[{"type":"noop"},{"type":"noop","payload":{"s":"\#(big)"}}]}"#
    )
    #expect(r["ok"]?.boolValue == false)
    let error = r["error"]?.stringValue ?? ""
    #expect(error.hasPrefix("job 2 of 2: ") && error.contains("max_payload"), "\(error)")
    let ok = try h.request(#"{"cmd":"enqueue_batch","jobs":[{"type":"noop"},{"type":"noop"}]}"#)
    #expect(ok["ids"]?.arrayValue?.count == 2, "\(ok)")
    try h.waitUntil("two jobs completed") { try h.stats()["completed"] == 2 }
    #expect(try h.stats().values.reduce(0, +) == 2)
  }

  /// `POST /jobs` with `ref` and `after`: a chain in one array runs in order, each job shows
  /// its parents and children; an unknown ref (400-class, naming it) or parent (422) refuses
  /// the lot.
  @Test func aGraphPostedInOneArrayRunsInOrder() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    let r = try c.post(
      "/jobs",
      #"[{"type":"noop","ref":"b","after":["a"]},{"type":"noop","ref":"a"},"#
        + #"{"type":"noop","after":["b"],"on_parent_failure":"run"}]"#)
    #expect(r.status == 201, "\(r.text)")
    let jobs = try r.json()["jobs"]?.arrayValue ?? []
    let ids = jobs.compactMap { $0["id"]?.intValue }
    #expect(ids.count == 3)
    #expect(jobs.first?["parents"]?.arrayValue?.first?["id"]?.intValue == ids[1])
    #expect(jobs.last?["on_parent_failure"] == "run")
    try h.waitUntil("the chain completed") {
      try ids.allSatisfy { try h.jobState($0) == "completed" }
    }
    let shown = try c.get("/jobs/\(ids[0])").json()
    #expect(shown["children"] == [["id": .int(ids[2]), "state": "completed"]])
    #expect(shown["why"] == .null)
    let before = try h.stats().values.reduce(0, +)
    try Self.expectError(
      try c.post("/jobs", #"[{"type":"noop"},{"type":"noop","after":["zz"]}]"#), 422,
      field: "after")
    try Self.expectError(
      try c.post("/jobs", #"[{"type":"noop","ref":"x","after":["x"]}]"#), 422, field: "after")
    let unknown = try c.post("/jobs", #"{"type":"noop","after":[999999]}"#)
    try Self.expectError(unknown, 422)
    #expect(unknown.text.contains("unknown parent #999999"), "\(unknown.text)")
    #expect(try h.stats().values.reduce(0, +) == before)
    // cascade=true cancels the waiting subtree under a job that cannot run yet (a pool-less type).
    let tree = try c.post(
      "/jobs",
      #"[{"type":"nopool","ref":"p"},{"type":"noop","ref":"c","after":["p"],"on_parent_failure":"run"},"#
        + #"{"type":"noop","after":["c"],"on_parent_failure":"run"}]"#)
    #expect(tree.status == 201, "\(tree.text)")
    let tids = (try tree.json()["jobs"]?.arrayValue ?? []).compactMap { $0["id"]?.intValue }
    try Self.expectError(
      try c.post("/jobs/\(tids[0])/cancel?cascade=yes", ""), 400, field: "cascade")
    let cancelled = try c.post("/jobs/\(tids[0])/cancel?cascade=true", "")
    #expect(cancelled.status == 200, "\(cancelled.text)")
    for id in tids { #expect(try h.jobState(id) == "cancelled", "\(id)") }
  }

  /// A read connection opened beside the supervisor's, in its process (the HTTP layer's, the
  /// store reader's), must not drop the process's SQLite locks: before, the header check
  /// opened and closed the store file, which released them, and the next CLI process to
  /// close its connection deleted the WAL under the running supervisor: every later commit
  /// was lost (found by `bench http`).
  @Test func readConnectionsBesideTheSupervisorLoseNoCommits() throws {
    let h = try Self.harness()
    let c = try h.httpClient()
    #expect(try c.post("/jobs", #"{"type":"noop"}"#).status == 201)  // opens a read connection
    _ = try h.drover(["jobs", "stats", "--config", h.configPath])  // a peer opens and closes
    let n = 50
    let body = "[" + Array(repeating: #"{"type":"noop"}"#, count: n).joined(separator: ",") + "]"
    #expect(try c.post("/jobs", body).status == 201)
    try h.waitUntil("all completed, seen by the supervisor") {
      try c.get("/stats").json()["completed"]?.intValue == Int64(n + 1)
    }
    _ = try h.drover(["jobs", "stats", "--config", h.configPath])
    try h.stop()
    let store = try SQLiteStore(path: h.storePath)
    #expect(try store.stats()[.completed] == n + 1)
  }

}
