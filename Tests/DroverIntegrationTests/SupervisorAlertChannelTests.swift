import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension SupervisorTests.Alerts {
  /// A real `drover serve` with only channels (no webhook): a backlog fires and resolves to
  /// Slack (a text and blocks with a link under link_base), to PagerDuty (a trigger, then a
  /// resolve with the same dedup_key) and as two e-mails to a real SMTP server on 127.0.0.1.
  @Test func backlogGoesToSlackPagerDutyAndEmail() throws {
    let slack = try HTTPReceiver()
    let pd = try HTTPReceiver()
    let sink = try SMTPSink()
    let pools = poolTable("slow", #"handler = "sleep""#, "min = 1", "max = 1")
    let h = try SupervisorHarness(pools: pools)
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools)
        + """
        [alerts]
        backlog_above = 3
        link_base = "http://drover.test:8080/"

        [alerts.slack]
        url = "http://127.0.0.1:\(slack.port)/services/T/B/X"

        [alerts.pagerduty]
        routing_key = "R0UT1NG"
        url = "http://127.0.0.1:\(pd.port)/v2/enqueue"
        severities = ["warning"]

        [alerts.email]
        host = "127.0.0.1"
        port = \(sink.port)
        from = "drover@test.example"
        to = ["ops@test.example"]
        timeout = "10s"
        severities = ["warning", "critical"]

        """)
    try h.start()
    var text = ""
    for _ in 0..<10 { text += #"{"type": "slow", "payload": {"ms": 400}}"# + "\n" }
    #expect(try h.drover(["enqueue", "--batch", h.write("b.ndjson", text)]).exitCode == 0)
    try h.waitUntil("each channel heard the backlog fire and resolve", timeout: .seconds(40)) {
      slack.requests.count >= 2 && pd.requests.count >= 2 && sink.messages.count >= 2
    }
    SupervisorHarness.pause(.seconds(1))
    #expect(
      slack.bodies.compactMap { ($0["text"] as? String)?.prefix(30) } == [
        "WARNING backlog firing: pool s", "WARNING backlog resolved: pool",
      ])
    let blocks = (slack.bodies[0]["attachments"] as? [[String: Any]])?.first?["blocks"]
    let context = ((blocks as? [[String: Any]])?.last?["elements"] as? [[String: Any]])?.first
    #expect(
      (context?["text"] as? String)?.hasPrefix("<http://drover.test:8080/pools|pool slow>") == true)

    let events = pd.bodies
    #expect(events.map { $0["event_action"] as? String } == ["trigger", "resolve"])
    #expect(
      events.map { $0["dedup_key"] as? String } == ["drover/backlog/slow", "drover/backlog/slow"])
    let payload = events.first?["payload"] as? [String: Any]
    #expect(payload?["severity"] as? String == "warning")
    #expect((payload?["custom_details"] as? [String: Any])?["threshold"] as? Int == 3)

    let mails = sink.messages
    #expect(
      mails.map { $0.header("Subject") } == [
        "[drover] WARNING backlog firing: pool slow",
        "[drover] WARNING backlog resolved: pool slow",
      ])
    #expect(mails.allSatisfy { $0.from == "drover@test.example" && $0.to == ["ops@test.example"] })
    #expect(mails[1].body.hasPrefix("cleared: pool slow has "))
    #expect(try h.stop().exitCode == 0)
  }
}
