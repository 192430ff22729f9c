import DroverCore
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverAlerts

/// Fast retries for tests.
func fastOutbox() -> AlertOutbox.Options {
  var o = AlertOutbox.Options()
  o.baseDelay = .milliseconds(20)
  o.maxDelay = .milliseconds(200)
  o.maxAttempts = 50
  return o
}

/// Polls `cond` every 10 ms until `timeout`.
func waitFor(_ what: String, timeout: Duration = .seconds(20), _ cond: () -> Bool) throws {
  let deadline = ContinuousClock.now + timeout
  while !cond() {
    if ContinuousClock.now >= deadline { throw HarnessError("timed out waiting until \(what)") }
    SupervisorHarness.pause(.milliseconds(10))
  }
}

func firing(_ kind: AlertKind, _ subject: String?, value: JSONValue, threshold: JSONValue)
  -> AlertTransition
{
  let pool = kind == .errorRate ? nil : subject
  return AlertTransition(
    .firing,
    AlertMeasurement(
      key: AlertKey(kind, subject), breached: true, value: value, threshold: threshold,
      pool: pool))
}

func resolved(_ t: AlertTransition) -> AlertTransition {
  var m = t.measurement
  m.breached = false
  return AlertTransition(.resolved, m)
}

/// Slack and PagerDuty bodies to real HTTP receivers on 127.0.0.1, routed by severity.
@Suite struct AlertChannelsTests {
  static let backlog = firing(.backlog, "slow", value: .int(12), threshold: .int(3))
  static let crash = firing(.crashLooping, "broken", value: .bool(true), threshold: .bool(true))

  @Test func slackAndPagerDutyBodiesRoutedBySeverity() throws {
    let slack = try HTTPReceiver()
    let pd = try HTTPReceiver()
    var alerts = AlertsConfig(webhooks: [])
    alerts.slack = SlackAlertsConfig(url: "http://127.0.0.1:\(slack.port)/slack")
    alerts.pagerDuty = PagerDutyAlertsConfig(
      routingKey: "R0UT1NG", url: "http://127.0.0.1:\(pd.port)/v2/enqueue")
    let channels = AlertChannels(
      alerts: alerts, http: HTTPConfig(listen: "127.0.0.1:8080"), options: fastOutbox(),
      logger: Logger(label: "t"), hostName: "web-1")
    channels.start()
    defer { channels.stop() }
    channels.send(Self.backlog, at: Timestamp(micros: 1_800_000_000_000_000))
    channels.send(Self.crash, at: .now())
    channels.send(resolved(Self.crash), at: .now())
    try waitFor("slack has 3, pagerduty 2") {
      slack.requests.count == 3 && pd.requests.count == 2
    }

    // Slack: every severity; a text line and one attachment of blocks.
    let s = slack.bodies
    #expect(slack.requests.allSatisfy { $0.path == "/slack" })
    #expect(
      s[0]["text"] as? String
        == "WARNING backlog firing: pool slow: pool slow has 12 ready jobs (alert above 3)")
    #expect(
      s[1]["text"] as? String == "CRITICAL crash_looping firing: pool broken: "
        + "pool broken is crash-looping: its workers exit before they boot")
    #expect((s[2]["text"] as? String)?.hasPrefix("CRITICAL crash_looping resolved") == true)
    let attachment = try #require((s[0]["attachments"] as? [[String: Any]])?.first)
    #expect(attachment["color"] as? String == "#f2c744")
    let blocks = try #require(attachment["blocks"] as? [[String: Any]])
    #expect(blocks.map { $0["type"] as? String } == ["section", "section", "context"])
    let fields = try #require(blocks[1]["fields"] as? [[String: Any]])
    #expect(
      fields.compactMap { $0["text"] as? String } == [
        "*Severity*\nwarning", "*Alert*\nbacklog", "*State*\nfiring", "*Pool*\nslow",
      ])
    let context = try #require((blocks[2]["elements"] as? [[String: Any]])?.first)
    #expect(
      context["text"] as? String
        == "<http://127.0.0.1:8080/pools|pool slow> · 2027-01-15T08:00:00.000000Z")
    let resolvedColor = (s[2]["attachments"] as? [[String: Any]])?.first?["color"] as? String
    #expect(resolvedColor == "#2eb886")

    // PagerDuty: critical only; a trigger, then a resolve with the same dedup key.
    let p = pd.bodies
    #expect(pd.requests.allSatisfy { $0.path == "/v2/enqueue" })
    #expect(p.map { $0["event_action"] as? String } == ["trigger", "resolve"])
    #expect(p.map { $0["routing_key"] as? String } == ["R0UT1NG", "R0UT1NG"])
    #expect(p[0]["dedup_key"] as? String == "drover/web-1/crash_looping/broken")
    #expect(p[1]["dedup_key"] as? String == p[0]["dedup_key"] as? String)
    let payload = try #require(p[0]["payload"] as? [String: Any])
    #expect(payload["severity"] as? String == "critical")
    #expect(payload["source"] as? String == "web-1")
    #expect(payload["group"] as? String == "broken")
    #expect(payload["class"] as? String == "crash_looping")
    #expect((payload["summary"] as? String)?.hasPrefix("CRITICAL crash_looping firing") == true)
    let details = try #require(payload["custom_details"] as? [String: Any])
    #expect(details["alert"] as? String == "crash_looping")
    #expect(details["state"] as? String == "firing")
    #expect(p[0]["client_url"] as? String == "http://127.0.0.1:8080/pools")
    #expect(channels.counts["slack"]?.delivered == 3)
    #expect(channels.counts["pagerduty"]?.delivered == 2)
  }

  /// A 5xx is retried (the same body); a 400 (an event PagerDuty will never take) is not.
  @Test func pagerDutyRetriesServerErrorsAndGivesUpOnABadEvent() throws {
    let pd = try HTTPReceiver()
    pd.answer([503, 400])
    var alerts = AlertsConfig(webhooks: [])
    alerts.pagerDuty = PagerDutyAlertsConfig(
      routingKey: "k", url: "http://127.0.0.1:\(pd.port)/v2/enqueue",
      severities: [.warning, .critical])
    let channels = AlertChannels(
      alerts: alerts, http: nil, options: fastOutbox(), logger: Logger(label: "t"))
    channels.start()
    defer { channels.stop() }
    channels.send(Self.backlog, at: .now())
    try waitFor("the 503 retried, then refused with 400") {
      channels.counts["pagerduty"]?.givenUp == 1
    }
    channels.send(resolved(Self.backlog), at: .now())
    try waitFor("the resolve delivered") { channels.counts["pagerduty"]?.delivered == 1 }
    let reqs = pd.requests
    #expect(reqs.count == 3)
    #expect(reqs[0].body == reqs[1].body)
    #expect(channels.counts["pagerduty"]?.retries == 1)
    // A store-wide kind: the dedup key names no host. No link without [http] or link_base.
    let p = pd.bodies
    #expect(p[0]["dedup_key"] as? String == "drover/backlog/slow")
    #expect(p[0]["client_url"] == nil)
    #expect(p[2]["event_action"] as? String == "resolve")
    #expect(p[2]["dedup_key"] as? String == "drover/backlog/slow")
  }

  /// The webhooks keep getting every alert, whatever the channels take.
  @Test func webhooksStillGetEverything() throws {
    let hook = try HTTPReceiver()
    let slack = try HTTPReceiver()
    var alerts = AlertsConfig(webhooks: [hook.url], secret: "s")
    alerts.slack = SlackAlertsConfig(url: slack.url, severities: [.critical])
    alerts.linkBase = "https://drover.example"
    let channels = AlertChannels(
      alerts: alerts, http: nil, options: fastOutbox(), logger: Logger(label: "t"))
    channels.start()
    defer { channels.stop() }
    channels.send(Self.backlog, at: .now())
    channels.send(Self.crash, at: .now())
    try waitFor("webhook 2, slack 1") { hook.requests.count == 2 && slack.requests.count == 1 }
    #expect(hook.bodies.map { $0["alert"] as? String } == ["backlog", "crash_looping"])
    #expect(
      hook.requests.allSatisfy {
        $0.headers["x-drover-signature"] == HTTPReceiver.hmacSHA256Hex($0.body, key: "s")
      })
    #expect((slack.bodies[0]["text"] as? String)?.hasPrefix("CRITICAL crash_looping") == true)
    SupervisorHarness.pause(.milliseconds(200))
    #expect(slack.requests.count == 1, "the warning is not sent to a critical-only channel")
  }

  @Test func textLinksAndKeys() {
    let job = AlertTransition(
      .firing,
      AlertMeasurement(
        key: AlertKey(.jobDead, "42"), breached: true, value: .int(3), threshold: .null,
        pool: "mail",
        job: [
          "id": 42, "type": "email.send",
          "errors": [["attempt": 3, "message": "smtp <down> & out"]],
        ]))
    let t = AlertText(job, linkBase: "http://h:1")
    #expect(t.title == "WARNING job_dead firing: job 42")
    #expect(
      t.message == "job 42 (email.send) in pool mail is dead after 3 attempts: smtp <down> & out")
    #expect(t.link == "http://h:1/jobs/42")
    #expect(SlackBody.escape(t.message).hasSuffix("smtp &lt;down&gt; &amp; out"))
    let rate = firing(.errorRate, nil, value: .double(0.3512), threshold: .double(0.2))
    #expect(AlertText(rate, linkBase: "http://h:1").link == "http://h:1/stats")
    #expect(
      AlertText(rate, linkBase: nil).message
        == "35.1 % of the jobs finished in the window failed (alert above 20 %)")
    #expect(PagerDutyBody.dedupKey(AlertKey(.errorRate), source: "h") == "drover/h/error_rate")
    #expect(PagerDutyBody.dedupKey(AlertKey(.jobStuck, "7"), source: "h") == "drover/job_stuck/7")
    #expect(AlertText.linkBase(nil, http: HTTPConfig(listen: "0.0.0.0:80")) == nil)
    #expect(AlertText.linkBase(nil, http: HTTPConfig(listen: "[::1]:80")) == "http://[::1]:80")
    var a = AlertsConfig(webhooks: [])
    a.linkBase = "https://x"
    #expect(AlertText.linkBase(a, http: HTTPConfig(listen: "127.0.0.1:80")) == "https://x")
    #expect(
      AlertKind.allCases.filter { $0.severity == .critical } == [.crashLooping, .workersBelowMin])
  }
}
