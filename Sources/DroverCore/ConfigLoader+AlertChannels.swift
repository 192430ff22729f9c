extension ConfigLoader {
  /// The channel tables of `[alerts]`.
  static let channelKeys = ["slack", "pagerduty", "email"]
  static let slackKeys = ["url", "severities"]
  static let pagerDutyKeys = ["routing_key", "url", "severities", "source"]
  static let emailKeys = [
    "host", "port", "from", "to", "starttls", "username", "password_file", "ca_file", "timeout",
    "severities",
  ]

  /// `link_base`, `[alerts.slack]`, `[alerts.pagerduty]` and `[alerts.email]` into `config`;
  /// each problem is recorded on its own.
  static func channels(
    _ s: Section, base: String, into config: inout AlertsConfig, _ problems: ConfigProblems
  ) {
    problems.check { () throws(ConfigError) in
      guard let link = try s.string("link_base") else { return }
      guard isWebhookURL(link.value) else {
        throw s.error(
          "link_base", line: link.line,
          "must be an http:// or https:// URL with a host, got "
            + TOMLKey.basicString(link.value))
      }
      var v = link.value
      while v.hasSuffix("/") { v.removeLast() }
      config.linkBase = v
    }
    problems.check { () throws(ConfigError) in
      guard let t = try s.section("slack", example: "[alerts.slack]") else { return }
      config.slack = try slack(t)
    }
    problems.check { () throws(ConfigError) in
      guard let t = try s.section("pagerduty", example: "[alerts.pagerduty]") else { return }
      config.pagerDuty = try pagerDuty(t)
    }
    problems.check { () throws(ConfigError) in
      guard let t = try s.section("email", example: "[alerts.email]") else { return }
      config.email = try email(t, base: base)
    }
  }

  static func slack(_ s: Section) throws(ConfigError) -> SlackAlertsConfig {
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(slackKeys) }
    var c = SlackAlertsConfig(url: "")
    problems.check { () throws(ConfigError) in
      c.url = try channelURL(
        s, "url", example: "url = \"https://hooks.slack.com/services/T000/B000/XXXX\"")
    }
    problems.check { () throws(ConfigError) in
      if let v = try severities(s) { c.severities = v }
    }
    try problems.throwIfAny()
    return c
  }

  static func pagerDuty(_ s: Section) throws(ConfigError) -> PagerDutyAlertsConfig {
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(pagerDutyKeys) }
    var c = PagerDutyAlertsConfig(routingKey: "")
    problems.check { () throws(ConfigError) in
      guard let key = try s.nonEmptyString("routing_key") else {
        throw s.error(
          "routing_key", line: s.line, "missing (the integration key of an Events API v2 service)")
      }
      try checkHeaderSafe(s, "routing_key", key)
      c.routingKey = key.value
    }
    problems.check { () throws(ConfigError) in
      if s.table.entry("url") != nil { c.url = try channelURL(s, "url", example: "") }
    }
    problems.check { () throws(ConfigError) in
      if let source = try s.nonEmptyString("source") {
        try checkHeaderSafe(s, "source", source)
        c.source = source.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let v = try severities(s) { c.severities = v }
    }
    try problems.throwIfAny()
    return c
  }

  static func email(_ s: Section, base: String) throws(ConfigError) -> EmailAlertsConfig {
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(emailKeys) }
    var c = EmailAlertsConfig(host: "", from: "", to: [])
    problems.check { () throws(ConfigError) in
      guard let host = try s.nonEmptyString("host") else {
        throw s.error("host", line: s.line, "missing (the SMTP server, e.g. host = \"127.0.0.1\")")
      }
      guard host.value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
        throw s.error(
          "host", line: host.line,
          "must be a host name or address, got \(TOMLKey.basicString(host.value))")
      }
      c.host = host.value
    }
    problems.check { () throws(ConfigError) in
      if let port = try s.integer("port", in: 1...65535) { c.port = port.value }
    }
    problems.check { () throws(ConfigError) in
      guard let from = try s.string("from") else {
        throw s.error("from", line: s.line, "missing (e.g. from = \"drover@example.com\")")
      }
      try checkAddress(s, "from", from.value, line: from.line)
      c.from = from.value
    }
    problems.check { () throws(ConfigError) in
      guard let to = try s.stringArray("to") else {
        throw s.error("to", line: s.line, "missing (e.g. to = [\"ops@example.com\"])")
      }
      guard (1...16).contains(to.value.count) else {
        throw s.error(
          "to", line: to.line, "must list between 1 and 16 addresses, got \(to.value.count)")
      }
      for a in to.value { try checkAddress(s, "to", a, line: to.line) }
      c.to = to.value
    }
    problems.check { () throws(ConfigError) in
      guard let mode = try s.string("starttls") else { return }
      guard let v = EmailAlertsConfig.StartTLS(rawValue: mode.value) else {
        throw s.error(
          "starttls", line: mode.line,
          "must be \"auto\", \"always\" or \"never\", got \(TOMLKey.basicString(mode.value))")
      }
      c.startTLS = v
    }
    let user = problems.value { () throws(ConfigError) in try s.nonEmptyString("username") }
    let password = problems.value { () throws(ConfigError) in try s.nonEmptyString("password_file")
    }
    problems.check { () throws(ConfigError) in
      guard let user = user ?? nil else {
        if let p = password ?? nil {
          throw s.error("password_file", line: p.line, "needs a username")
        }
        return
      }
      try checkHeaderSafe(s, "username", user)
      guard let p = password ?? nil else {
        throw s.error("password_file", line: user.line, "missing (username is set)")
      }
      if c.startTLS == .never {
        throw s.error(
          "username", line: user.line,
          "AUTH is sent over TLS only: starttls must be \"auto\" or \"always\"")
      }
      c.username = user.value
      c.passwordFile = absolutePath(p.value, relativeTo: base)
    }
    problems.check { () throws(ConfigError) in
      if let ca = try s.nonEmptyString("ca_file") {
        c.caFile = absolutePath(ca.value, relativeTo: base)
      }
    }
    problems.check { () throws(ConfigError) in
      if let t = try s.duration("timeout", in: .seconds(1)...Duration.seconds(300)) {
        c.timeout = t.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let v = try severities(s) { c.severities = v }
    }
    try problems.throwIfAny()
    return c
  }

  /// A required `http://` or `https://` URL.
  static func channelURL(_ s: Section, _ key: String, example: String) throws(ConfigError)
    -> String
  {
    guard let url = try s.string(key) else {
      throw s.error(key, line: s.line, "missing (e.g. \(example))")
    }
    guard isWebhookURL(url.value) else {
      throw s.error(
        key, line: url.line,
        "must be an http:// or https:// URL with a host, got \(TOMLKey.basicString(url.value))")
    }
    return url.value
  }

  /// `severities = ["warning", "critical"]`: at least one, each known.
  static func severities(_ s: Section) throws(ConfigError) -> Set<AlertSeverity>? {
    guard let list = try s.stringArray("severities") else { return nil }
    let known = AlertSeverity.allCases.map { TOMLKey.basicString($0.rawValue) }
      .joined(separator: ", ")
    guard !list.value.isEmpty else {
      throw s.error("severities", line: list.line, "must list at least one of \(known)")
    }
    var out: Set<AlertSeverity> = []
    for name in list.value {
      guard let v = AlertSeverity(rawValue: name) else {
        throw s.error(
          "severities", line: list.line,
          "unknown severity \(TOMLKey.basicString(name)) (known: \(known))")
      }
      out.insert(v)
    }
    return out
  }

  /// A mailbox `local@domain`: no spaces, angle brackets, quotes or control characters (it goes
  /// into `MAIL FROM:<…>`, `RCPT TO:<…>` and a header as it is).
  static func checkAddress(_ s: Section, _ key: String, _ a: String, line: Int)
    throws(ConfigError)
  {
    let bad: Set<Unicode.Scalar> = ["<", ">", "\"", ",", ";", "(", ")", "\\"]
    let parts = a.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
      a.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !bad.contains($0) })
    else {
      throw s.error(
        key, line: line, "must be an address like ops@example.com, got \(TOMLKey.basicString(a))")
    }
  }

  /// Refuses control characters (a value that goes into a protocol line or header).
  static func checkHeaderSafe(_ s: Section, _ key: String, _ v: Located<String>)
    throws(ConfigError)
  {
    guard v.value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
      throw s.error(key, line: v.line, "must not contain control characters")
    }
  }
}
