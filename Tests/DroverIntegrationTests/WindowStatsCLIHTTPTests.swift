import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// `jobs stats --window` and `GET /stats?window=` against real finished jobs.
@Suite("windowed stats: CLI and HTTP", .serialized)
struct WindowStatsCLIHTTPTests {
  @Test func jobsStatsWindowJSONAndTable() throws {
    let f = try CLIFixture()
    _ = try f.enqueue(["email"])  // creates the store; stays queued
    let store = try SQLiteStore(path: f.storePath)
    let now = Timestamp.now()
    _ = try store.enqueue(
      (0..<4).map { i in EnqueueParams(type: "report", priority: i % 2, maxAttempts: 1, now: now) })
    let claimed = try store.apply(
      StoreBatch(claims: [ClaimParams(types: ["report"], limit: 10)], now: now)
    ).claimed[0]
    try #require(claimed.count == 4)
    _ = try store.apply(
      StoreBatch(
        finishes: claimed.enumerated().map { i, job in
          FinishParams(
            id: job.id, settlement: i == 0 ? .outcome(.permanent("bad")) : .outcome(.completed))
        }, promoteDue: false, now: now.adding(.milliseconds(250))))

    let r = try f.drover(["jobs", "stats", "--window", "1h", "--json"])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    let v = try JSONValue.parse(r.stdoutText)
    #expect(v["window_seconds"]?.intValue == 3600)
    #expect(v["completed"]?.intValue == 3)
    #expect(v["dead"]?.intValue == 1)
    #expect(v["failed"]?.intValue == 0)
    #expect(v["finished"]?.intValue == 4)
    #expect(v["error_rate"]?.doubleValue == 0.25)
    #expect(v["run_ms"]?["avg"]?.doubleValue == 250)
    #expect(v["run_ms"]?["p95"]?.intValue == 256, "250 ms is in the bucket [128, 256) ms")
    #expect(v["last_finished_at"]?.stringValue != nil)
    #expect(v["stuck"]?.arrayValue?.isEmpty == true)
    let types = try #require(v["types"]?.arrayValue)
    #expect(types.map { $0["type"]?.stringValue } == ["report"])
    let priorities = try #require(v["priorities"]?.arrayValue)
    #expect(priorities.map { $0["priority"]?.intValue } == [1, 0])
    #expect(priorities.map { $0["finished"]?.intValue } == [2, 2])

    let table = try f.drover(["jobs", "stats", "--window", "1h"])
    #expect(table.exitCode == 0)
    #expect(table.stdoutText.contains("error rate"), "\(table.stdoutText)")
    #expect(table.stdoutText.contains("report"))
    // Without --window the output is as it always was.
    #expect(try f.drover(["jobs", "stats"]).stdoutText.split(separator: "\n").count == 7)
    // Bad values are usage errors naming the flag.
    let bad = try f.drover(["jobs", "stats", "--window", "soon"])
    #expect(bad.exitCode == 64 && bad.stderrText.contains("--window"), "\(bad.stderrText)")
    let lone = try f.drover(["jobs", "stats", "--stuck-after", "5m"])
    #expect(lone.exitCode == 64 && lone.stderrText.contains("--stuck-after"))
    // A running job past --stuck-after is reported.
    _ = try store.apply(
      StoreBatch(claims: [ClaimParams(types: ["email"], limit: 1)], now: now.adding(.seconds(-10))))
    let stuck = try f.drover(["jobs", "stats", "--window", "1h", "--stuck-after", "1s", "--json"])
    let list = try JSONValue.parse(stuck.stdoutText)["stuck"]?.arrayValue
    #expect(list?.map { $0["type"]?.stringValue } == ["email"], "\(stuck.stdoutText)")
  }

  @Test func httpStatsWindow() throws {
    let h = try SupervisorHTTPTests.harness()
    let c = try h.httpClient()
    for body in [#"{"type":"noop"}"#, #"{"type":"noop"}"#, #"{"type":"bad"}"#] {
      #expect(try c.post("/jobs", body).status == 201)
    }
    try h.waitUntil("two completed, one dead") {
      let s = try h.stats()
      return s["completed"] == 2 && s["dead"] == 1
    }
    let w = try c.get("/stats?window=1h")
    #expect(w.status == 200, "\(w.text)")
    let v = try w.json()
    #expect(v["completed"]?.intValue == 2 && v["dead"]?.intValue == 1, "\(w.text)")
    #expect(v["types"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == ["bad", "noop"])
    #expect(v["minutes_since_last_finish"]?.doubleValue != nil)
    #expect(try c.get("/stats").json()["completed"]?.intValue == 2)
    try SupervisorHTTPTests.expectError(try c.get("/stats?window=soon"), 400, field: "window")
    try SupervisorHTTPTests.expectError(
      try c.get("/stats?stuck_after=5m"), 400, field: "stuck_after")
    try SupervisorHTTPTests.expectError(try c.get("/stats?colour=red"), 400, field: "colour")
  }
}
