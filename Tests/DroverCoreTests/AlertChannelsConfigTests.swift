import Testing

@testable import DroverCore

private let hook = emailPool + "[alerts]\nwebhooks = [\"http://h/\"]\n"

/// Invalid channel tables of `[alerts]` and the key, line and message each must give.
let badAlertChannelConfigs: [BadConfig] = [
  .init(
    hook + "link_base = \"drover.example\"", "alerts.link_base", line: 4,
    "must be an http:// or https:// URL with a host, got \"drover.example\""),
  .init(
    hook + "slack = 5", "alerts.slack", line: 4, "must be a table like [alerts.slack], got 5"),
  .init(
    emailPool + "[alerts.slack]\nseverities = [\"warning\"]", "alerts.slack.url", line: 2,
    "missing (e.g. url = \"https://hooks.slack.com/services/T000/B000/XXXX\")"),
  .init(
    emailPool + "[alerts.slack]\nurl = \"hooks.slack.com\"", "alerts.slack.url", line: 3,
    "must be an http:// or https:// URL with a host, got \"hooks.slack.com\""),
  .init(
    emailPool + "[alerts.slack]\nurl = \"http://h/\"\nchannel = \"#ops\"",
    "alerts.slack.channel", line: 4, "unknown key"),
  .init(
    emailPool + "[alerts.slack]\nurl = \"http://h/\"\nseverities = [\"page\"]",
    "alerts.slack.severities", line: 4,
    "unknown severity \"page\" (known: \"warning\", \"critical\")"),
  .init(
    emailPool + "[alerts.slack]\nurl = \"http://h/\"\nseverities = []",
    "alerts.slack.severities", line: 4, "must list at least one of \"warning\", \"critical\""),
  .init(
    emailPool + "[alerts.slack]\nurl = \"http://h/\"\nseverities = \"critical\"",
    "alerts.slack.severities", line: 4, "must be an array of strings, got \"critical\""),
  .init(
    emailPool + "[alerts.pagerduty]\nseverities = [\"critical\"]",
    "alerts.pagerduty.routing_key", line: 2,
    "missing (the integration key of an Events API v2 service)"),
  .init(
    emailPool + "[alerts.pagerduty]\nrouting_key = \"k\"\nurl = \"ftp://x/\"",
    "alerts.pagerduty.url", line: 4,
    "must be an http:// or https:// URL with a host, got \"ftp://x/\""),
  .init(
    emailPool + "[alerts.pagerduty]\nrouting_key = \"k\"\nrouting_kye = \"x\"",
    "alerts.pagerduty.routing_kye", line: 4, "unknown key (did you mean \"routing_key\"?)"),
  .init(
    emailPool + "[alerts.pagerduty]\nrouting_key = \"a\\nb\"", "alerts.pagerduty.routing_key",
    line: 3, "must not contain control characters"),
  .init(
    emailPool + "[alerts.email]\nfrom = \"d@x\"\nto = [\"o@x\"]", "alerts.email.host", line: 2,
    "missing (the SMTP server, e.g. host = \"127.0.0.1\")"),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nport = 70000\nfrom = \"d@x\"\nto = [\"o@x\"]",
    "alerts.email.port", line: 4, "must be between 1 and 65535, got 70000"),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nto = [\"o@x\"]", "alerts.email.from", line: 2,
    "missing (e.g. from = \"drover@example.com\")"),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nfrom = \"drover\"\nto = [\"o@x\"]",
    "alerts.email.from", line: 4, "must be an address like ops@example.com, got \"drover\""),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\", \"<a@b>\"]",
    "alerts.email.to", line: 5, "must be an address like ops@example.com, got \"<a@b>\""),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = []", "alerts.email.to",
    line: 5, "must list between 1 and 16 addresses, got 0"),
  .init(
    emailPool
      + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\nstarttls = \"yes\"",
    "alerts.email.starttls", line: 6,
    "must be \"auto\", \"always\" or \"never\", got \"yes\""),
  .init(
    emailPool
      + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\nusername = \"u\"",
    "alerts.email.password_file", line: 6, "missing (username is set)"),
  .init(
    emailPool
      + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\npassword_file = \"p\"",
    "alerts.email.password_file", line: 6, "needs a username"),
  .init(
    emailPool
      + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\nstarttls = \"never\"\n"
      + "username = \"u\"\npassword_file = \"p\"",
    "alerts.email.username", line: 7,
    "AUTH is sent over TLS only: starttls must be \"auto\" or \"always\""),
  .init(
    emailPool
      + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\ntimeout = \"10m\"",
    "alerts.email.timeout", line: 6, "must be between 1s and 5m, got \"10m\""),
  .init(
    emailPool + "[alerts.email]\nhost = \"h\"\nfrom = \"d@x\"\nto = [\"o@x\"]\npassword = \"pw\"",
    "alerts.email.password", line: 6, "unknown key"),
]

@Suite struct AlertChannelsConfigTests {
  func parse(_ text: String) throws(ConfigError) -> DroverConfig {
    try ConfigLoader.parse(text: text, file: "drover.toml", baseDirectory: "/srv/app")
  }

  @Test func everyChannel() throws {
    let c = try parse(
      emailPool + """
        [alerts]
        webhooks = ["http://127.0.0.1:9000/hook"]
        link_base = "https://drover.example/api/"

        [alerts.slack]
        url = "https://hooks.slack.com/services/T/B/X"
        severities = ["warning", "critical"]

        [alerts.pagerduty]
        routing_key = "R0UT1NG"
        url = "http://127.0.0.1:9001/v2/enqueue"
        severities = ["critical"]
        source = "web-1"

        [alerts.email]
        host = "smtp.example"
        port = 587
        from = "drover@example.com"
        to = ["ops@example.com", "oncall@example.com"]
        starttls = "always"
        username = "drover"
        password_file = "secrets/smtp"
        ca_file = "/etc/ssl/private-ca.pem"
        timeout = "10s"
        severities = ["critical"]
        """)
    let a = try #require(c.alerts)
    #expect(a.webhooks == ["http://127.0.0.1:9000/hook"])
    #expect(a.linkBase == "https://drover.example/api")
    #expect(
      a.slack
        == SlackAlertsConfig(
          url: "https://hooks.slack.com/services/T/B/X", severities: [.warning, .critical]))
    #expect(
      a.pagerDuty
        == PagerDutyAlertsConfig(
          routingKey: "R0UT1NG", url: "http://127.0.0.1:9001/v2/enqueue", severities: [.critical],
          source: "web-1"))
    #expect(
      a.email
        == EmailAlertsConfig(
          host: "smtp.example", port: 587, from: "drover@example.com",
          to: ["ops@example.com", "oncall@example.com"], startTLS: .always, username: "drover",
          passwordFile: "/srv/app/secrets/smtp", caFile: "/etc/ssl/private-ca.pem",
          timeout: .seconds(10), severities: [.critical]))
  }

  /// A channel alone is enough (no webhooks); each channel's defaults.
  @Test func channelsAloneWithDefaults() throws {
    let c = try parse(
      emailPool + """
        [alerts.pagerduty]
        routing_key = "k"
        [alerts.email]
        host = "127.0.0.1"
        from = "d@x"
        to = ["o@x"]
        [alerts.slack]
        url = "http://127.0.0.1:1/s"
        """)
    let a = try #require(c.alerts)
    #expect(a.webhooks.isEmpty)
    #expect(a.linkBase == nil)
    #expect(a.slack?.severities == [.warning, .critical])
    #expect(a.pagerDuty?.url == "https://events.pagerduty.com/v2/enqueue")
    #expect(a.pagerDuty?.severities == [.critical])
    #expect(a.pagerDuty?.source == nil)
    let e = try #require(a.email)
    #expect(e.port == 25)
    #expect(e.startTLS == .auto)
    #expect(e.timeout == .seconds(30))
    #expect(e.severities == [.warning, .critical])
    #expect(e.username == nil && e.passwordFile == nil && e.caFile == nil)
  }

  @Test(arguments: badAlertChannelConfigs)
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

  @Test func everyChannelProblemIsReported() {
    do {
      _ = try parse(
        emailPool
          + "[alerts.slack]\nurl = 1\n[alerts.email]\nhost = \"h\"\nport = 0\nfrom = \"x\"\n"
          + "to = [\"o@x\"]\n[alerts.pagerduty]\nrouting_key = \"\"")
      Issue.record("accepted")
    } catch {
      #expect(
        error.all.map(\.key) == [
          "alerts.slack.url", "alerts.email.port", "alerts.email.from",
          "alerts.pagerduty.routing_key",
        ])
    }
  }
}
