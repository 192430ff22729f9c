import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension SupervisorTests.Alerts {
  /// The history through a real supervisor: a firing alert is recorded with its id (in the
  /// webhook body too), reminded while nobody acknowledges it, quiet once acknowledged, not
  /// sent again by a restart, and resolved in the history when it clears.
  @Test func anAlertIsRecordedRemindedUntilAcknowledgedAndResolved() throws {
    let r = try HTTPReceiver()
    let pools = poolTable("slow", #"handler = "sleep""#, "min = 1", "max = 1")
    let h = try SupervisorHarness(pools: pools, drainTimeout: "1s")
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools)
        + SupervisorHarness.httpTable(#"token = "admin""#, #"read_token = "reader""#)
        + alertsTable([r.url], "backlog_above = 0", #"renotify = "1s""#))
    try h.start()
    // One long job on the pool's one worker: the two behind it are a backlog until it ends.
    let long = try h.enqueue("slow", #"{"ms": 600000}"#)
    try h.waitUntil("the long job runs") { try h.jobState(long) == "running" }
    for _ in 0..<2 { _ = try h.enqueue("slow", #"{"ms": 10}"#) }
    try h.waitUntil("backlog fired and was reminded", timeout: .seconds(30)) {
      r.bodies.filter { $0["reminder"] as? Bool == true }.count >= 1
    }
    let firing = try #require(r.bodies.first)
    let id = try #require(firing["id"] as? Int)
    #expect(firing["state"] as? String == "firing" && firing["reminder"] == nil)
    let listed = try JSONValue.parse(h.drover(["alerts", "list", "--open", "--json"]).stdoutText)
    let rec = try #require(listed.arrayValue?.first)
    #expect(
      rec["id"]?.intValue == Int64(id) && rec["alert"] == "backlog" && rec["state"] == "firing")
    #expect((rec["notifications"]?.intValue ?? 0) >= 2)

    let c = try h.httpClient()
    let open = try c.get("/alerts?open=true", token: "reader").json()
    #expect(open["alerts"]?.arrayValue?.first?["id"]?.intValue == Int64(id))
    #expect(try c.post("/alerts/\(id)/ack", #"{"by": "eve"}"#, token: "reader").status == 403)
    #expect(try c.post("/alerts/999/ack", token: "admin").status == 404)
    let ack = try c.post("/alerts/\(id)/ack", #"{"by": "ana"}"#, token: "admin")
    #expect(ack.status == 200, "\(ack.text)")
    #expect(try ack.json()["acknowledged_by"] == "ana")
    let again = try h.drover(["alerts", "ack", String(id), "--by", "bo"])
    #expect(again.exitCode == 0 && again.stdoutText.contains(#""acknowledged_by":"ana""#))
    SupervisorHarness.pause(.milliseconds(1500))
    let afterAck = r.requests.count
    SupervisorHarness.pause(.seconds(3))
    #expect(r.requests.count == afterAck, "an acknowledged alert is not reminded")

    // A restart while it fires: the history says it is firing, nothing is sent again.
    #expect(try h.stop().exitCode == 0)
    let before = r.requests.count
    try h.start()
    SupervisorHarness.pause(.seconds(3))
    #expect(r.requests.count == before, "\(Self.summary(r))")
    #expect(try h.drover(["jobs", "cancel", String(long)]).exitCode == 0)
    try h.waitUntil("backlog resolved", timeout: .seconds(30)) {
      Self.summary(r).last == "backlog resolved slow"
    }
    #expect(r.bodies.last?["id"] as? Int == id)
    let all = try JSONValue.parse(h.drover(["alerts", "list", "--json"]).stdoutText)
    #expect(all.arrayValue?.first?["state"] == "resolved")
    #expect(try JSONValue.parse(h.drover(["alerts", "list", "--open", "--json"]).stdoutText) == [])
    #expect(try h.drover(["alerts", "ack", "999"]).stderrText.contains("no alert with id 999"))
    #expect(try h.stop().exitCode == 0)
  }
}
