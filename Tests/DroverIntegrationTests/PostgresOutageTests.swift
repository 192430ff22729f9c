import DroverCore
import DroverSystem
import DroverTestSupport
import Foundation
import Testing

/// The PostgreSQL server goes away under a running supervisor (with `[http]` on 127.0.0.1):
/// it stays up and retries, says `unhealthy` naming the store, refuses what it cannot make
/// durable, and once the server is back it is healthy again with nothing acknowledged lost.
/// The server is a cluster of the test's own (stopping the shared one would break the
/// other tests).
@Suite(.serialized) struct PostgresOutageTests {
  @Test func aStoppedServerIsUnhealthyUntilItReturnsAndNothingAcknowledgedIsLost() throws {
    let db = try PostgresCluster.own()
    defer { db.stop() }
    let url = try db.database()
    let pools =
      """
      [pools.work]
      handler = "sleep"
      min = 2
      max = 2

      """ + SupervisorHarness.httpTable()
    // A lease shorter than the outage: coming back must not rescue its own running jobs.
    let h = try SupervisorHarness(
      pools: pools, postgresURL: url, store: "heartbeat = \"300ms\"\nlease = \"2s\"")
    try h.start()
    let pid = try h.supervisor().pid
    let c = try h.httpClient()
    #expect(try c.get("/health").json()["status"]?.stringValue == "healthy")
    let total = 12
    var acknowledged: [JobID] = []
    for _ in 0..<total { acknowledged.append(try h.enqueueViaSocket("work", #"{"ms":1500}"#)) }
    try h.waitUntil("two jobs run", timeout: .seconds(60)) {
      try db.psql(url, "SELECT count(*) FROM drover_jobs WHERE state = 2") == "2"
    }

    try db.pause()
    var report = JSONValue.null
    try h.waitUntil("/health says unhealthy", timeout: .seconds(60), every: .milliseconds(200)) {
      let r = try c.get("/health")
      report = try r.json()
      return r.status == 503 && report["status"]?.stringValue == "unhealthy"
    }
    // The reason names the store (its URL, no password) and what failed.
    let reasons = report["reasons"]?.arrayValue?.compactMap(\.stringValue) ?? []
    #expect(
      reasons.contains { $0.hasPrefix("store unwritable:") && $0.contains("127.0.0.1:\(db.port)") },
      "\(reasons)")
    // /health may see the outage first (its own read fails); /readyz follows what the loop
    // saw, once its next write (a lease renewal every 300 ms here) fails.
    var ready = try c.get("/readyz")
    try h.waitUntil("/readyz says 503", timeout: .seconds(30), every: .milliseconds(100)) {
      ready = try c.get("/readyz")
      return ready.status == 503
    }
    #expect(ready.status == 503, "\(ready.text)")
    #expect(try ready.json()["reason"]?.stringValue?.contains("127.0.0.1:\(db.port)") == true)
    #expect(try c.get("/livez").status == 200)
    // What cannot be made durable is refused, not acknowledged: over the socket and HTTP.
    let refused = try h.request(#"{"cmd":"enqueue","type":"work","payload":{"ms":1}}"#)
    #expect(refused["ok"]?.boolValue == false, "\(refused.render())")
    let post = try c.post("/jobs", #"{"type":"work","payload":{"ms":1}}"#)
    #expect(post.status == 503, "\(post.text)")
    // Past the lease, with the running jobs' outcomes waiting: still up, still unhealthy.
    let downAt = ContinuousClock.now
    try h.waitUntil("the outage outlasts the lease", timeout: .seconds(30)) {
      ContinuousClock.now - downAt > .seconds(3)
        && h.log().contains("the store cannot be written")
    }
    #expect(try h.supervisor().pid == pid)
    #expect(try c.get("/health").status == 503)

    try db.resume()
    try h.waitUntil("/health says healthy", timeout: .seconds(60), every: .milliseconds(200)) {
      let r = try c.get("/health")
      let status = try r.json()["status"]?.stringValue
      return r.status == 200 && status == "healthy"
    }
    #expect(try c.get("/readyz").status == 200)
    try h.waitUntil("every acknowledged job completed", timeout: .seconds(120)) {
      try db.psql(url, "SELECT count(*) FROM drover_jobs WHERE state = 3") == "\(total)"
    }
    let ids = acknowledged.map(String.init).joined(separator: ",")
    // Each acknowledged job ran once, under the same supervisor, nothing rescued or retried;
    // the refused ones are not there.
    #expect(try db.psql(url, "SELECT count(*) FROM drover_jobs") == "\(total)")
    #expect(
      try db.psql(
        url, "SELECT count(*) FROM drover_jobs WHERE id IN (\(ids)) AND state = 3 AND attempts = 1")
        == "\(total)")
    #expect(try db.psql(url, "SELECT count(*) FROM drover_job_errors") == "0")
    #expect(try db.psql(url, "SELECT count(*) FROM drover_owners WHERE pid = \(pid)") == "1")
    #expect(try h.supervisor().pid == pid)
    #expect(h.log().contains("the store is writable again"))
    let out = try h.stop()
    #expect(out.status == .exited(0))
  }
}
