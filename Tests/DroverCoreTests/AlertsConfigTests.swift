import Testing

@testable import DroverCore

/// Invalid `[alerts]` tables and the key, line and message each must give.
let badAlertConfigs: [BadConfig] = [
  .init(
    emailPool + "[alerts]\nsecret = \"x\"", "alerts.webhooks", line: 2,
    "missing (e.g. webhooks = [\"http://127.0.0.1:9000/hook\"], or an [alerts.slack], "
      + "[alerts.pagerduty] or [alerts.email] table)"),
  .init(
    emailPool + "[alerts]\nwebhooks = []", "alerts.webhooks", line: 3,
    "must list between 1 and 16 URLs, got 0"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"ftp://x/\"]", "alerts.webhooks", line: 3,
    "must be http:// or https:// URLs with a host, got \"ftp://x/\""),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http:///p\"]", "alerts.webhooks", line: 3,
    "must be http:// or https:// URLs with a host, got \"http:///p\""),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nsecret = \"\"", "alerts.secret",
    line: 4, "must not be empty"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nstuck_after = \"0s\"",
    "alerts.stuck_after", line: 4, "must be longer than zero, got \"0s\""),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\noldest_ready_above = \"soon\"",
    "alerts.oldest_ready_above", line: 4,
    "invalid duration \"soon\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nbacklog_above = -1",
    "alerts.backlog_above", line: 4, "must be between 0 and 1000000000, got -1"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nerror_rate = 0.2",
    "alerts.error_rate", line: 4,
    "must be a table like error_rate = { above = 0.2, window = \"5m\", min_jobs = 20 }, got 0.2"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nerror_rate = { above = 1.5 }",
    "alerts.error_rate.above", line: 4, "must be more than 0 and at most 1, got 1.5"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nerror_rate = { window = \"5m\" }",
    "alerts.error_rate.above", line: 4, "missing (a fraction, e.g. above = 0.2)"),
  .init(
    emailPool
      + "[alerts]\nwebhooks = [\"http://h/\"]\nerror_rate = { above = 0.1, window = \"2d\" }",
    "alerts.error_rate.window", line: 4, "must be between 1s and 1d, got \"2d\""),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nerror_rate = { above = 0.1, min_jobs = 0 }",
    "alerts.error_rate.min_jobs", line: 4, "must be between 1 and 1000000000, got 0"),
  .init(
    emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\nbacklog = 5", "alerts.backlog", line: 4,
    "unknown key"),
]

@Suite struct AlertsConfigTests {
  func parse(_ text: String) throws(ConfigError) -> DroverConfig {
    try ConfigLoader.parse(text: text, file: "drover.toml", baseDirectory: "/srv/app")
  }

  @Test func fullTable() throws {
    let c = try parse(
      emailPool + """
        [alerts]
        webhooks = ["http://127.0.0.1:9000/hook", "https://example.invalid/x?y=1"]
        secret = "k"
        stuck_after = "30m"
        error_rate = { above = 0.2, window = "5m", min_jobs = 20 }
        backlog_above = 500
        oldest_ready_above = "10m"
        """)
    #expect(
      c.alerts
        == AlertsConfig(
          webhooks: ["http://127.0.0.1:9000/hook", "https://example.invalid/x?y=1"], secret: "k",
          stuckAfter: .seconds(1800),
          errorRate: .init(above: 0.2, window: .seconds(300), minJobs: 20), backlogAbove: 500,
          oldestReadyAbove: .seconds(600)))
  }

  @Test func absentAndMinimal() throws {
    #expect(try parse(emailPool).alerts == nil)
    let c = try parse(
      emailPool + "[alerts]\nwebhooks = [\"http://h:1\"]\nerror_rate = { above = 1 }")
    #expect(c.alerts == AlertsConfig(webhooks: ["http://h:1"], errorRate: .init(above: 1)))
  }

  @Test(arguments: badAlertConfigs)
  func invalidNamesKeyAndLine(_ bad: BadConfig) {
    do {
      _ = try parse(bad.text)
      Issue.record("accepted: \(bad.text)")
    } catch {
      #expect(error.key == bad.key)
      #expect(error.line == bad.line)
      #expect(error.message == bad.message)
    }
  }

  @Test func everyProblemIsReported() {
    do {
      _ = try parse(
        emailPool + "[alerts]\nwebhooks = [\"x\"]\nstuck_after = 3\nbacklog_above = \"many\"")
      Issue.record("accepted")
    } catch {
      #expect(
        error.all.map(\.key) == ["alerts.webhooks", "alerts.stuck_after", "alerts.backlog_above"])
    }
  }
}
