extension ConfigLoader {
  static let alertKeys = [
    "webhooks", "secret", "stuck_after", "error_rate", "backlog_above", "oldest_ready_above",
    "link_base", "slack", "pagerduty", "email", "renotify", "idle_with_backlog",
  ]
  static let errorRateKeys = ["above", "window", "min_jobs"]

  /// `[alerts]`, or nil when absent. Every key is checked on its own, so each problem is
  /// reported at once.
  static func alertsConfig(_ s: Section?, base: String) throws(ConfigError) -> AlertsConfig? {
    guard let s else { return nil }
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(alertKeys) }
    var config = AlertsConfig(webhooks: [])
    problems.check { () throws(ConfigError) in
      guard let hooks = try s.stringArray("webhooks") else {
        // A channel table alone is enough.
        if channelKeys.contains(where: { s.table.entry($0) != nil }) { return }
        throw s.error(
          "webhooks", line: s.line,
          "missing (e.g. webhooks = [\"http://127.0.0.1:9000/hook\"], or an [alerts.slack], "
            + "[alerts.pagerduty] or [alerts.email] table)")
      }
      guard ConfigLimits.webhooks.contains(hooks.value.count) else {
        throw s.error(
          "webhooks", line: hooks.line,
          "must list between \(ConfigLimits.webhooks.lowerBound) and "
            + "\(ConfigLimits.webhooks.upperBound) URLs, got \(hooks.value.count)")
      }
      for url in hooks.value where !isWebhookURL(url) {
        throw s.error(
          "webhooks", line: hooks.line,
          "must be http:// or https:// URLs with a host, got \(TOMLKey.basicString(url))")
      }
      config.webhooks = hooks.value
    }
    problems.check { () throws(ConfigError) in
      config.secret = try s.nonEmptyString("secret")?.value
    }
    problems.check { () throws(ConfigError) in
      config.stuckAfter = try s.duration("stuck_after", in: ConfigLimits.alertAge)?.value
    }
    problems.check { () throws(ConfigError) in
      if let d = try s.duration("renotify", in: ConfigLimits.renotify) { config.renotify = d.value }
    }
    problems.check { () throws(ConfigError) in
      config.oldestReadyAbove =
        try s.duration("oldest_ready_above", in: ConfigLimits.alertAge)?.value
    }
    problems.check { () throws(ConfigError) in
      config.idleWithBacklog =
        try s.duration("idle_with_backlog", in: ConfigLimits.alertAge)?.value
    }
    problems.check { () throws(ConfigError) in
      config.backlogAbove = try s.integer("backlog_above", in: ConfigLimits.backlogAbove)?.value
    }
    problems.check { () throws(ConfigError) in
      guard
        let t = try s.section(
          "error_rate", example: "error_rate = { above = 0.2, window = \"5m\", min_jobs = 20 }")
      else { return }
      config.errorRate = try errorRate(t)
    }
    channels(s, base: base, into: &config, problems)
    try problems.throwIfAny()
    return config
  }

  static func errorRate(_ s: Section) throws(ConfigError) -> AlertsConfig.ErrorRate {
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(errorRateKeys) }
    var rate = AlertsConfig.ErrorRate(above: 1)
    problems.check { () throws(ConfigError) in
      guard let entry = s.table.entry("above") else {
        throw s.error("above", line: s.line, "missing (a fraction, e.g. above = 0.2)")
      }
      let value = entry.value.float ?? entry.value.integer.map(Double.init)
      guard let value else {
        throw s.error("above", line: entry.line, "must be a number, got \(describe(entry.value))")
      }
      guard value > 0, value <= 1 else {
        throw s.error(
          "above", line: entry.line, "must be more than 0 and at most 1, got \(value)")
      }
      rate.above = value
    }
    problems.check { () throws(ConfigError) in
      if let w = try s.duration("window", in: ConfigLimits.errorRateWindow) {
        rate.window = w.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("min_jobs", in: ConfigLimits.errorRateMinJobs) {
        rate.minJobs = n.value
      }
    }
    try problems.throwIfAny()
    return rate
  }

  /// `http://host[:port][/path]` or `https://…`: a scheme, then a host that is not empty and
  /// holds no space, quote or control character.
  static func isWebhookURL(_ url: String) -> Bool {
    let rest: Substring
    if url.hasPrefix("http://") {
      rest = url.dropFirst(7)
    } else if url.hasPrefix("https://") {
      rest = url.dropFirst(8)
    } else {
      return false
    }
    let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    guard !authority.isEmpty, !authority.hasPrefix(":") else { return false }
    return url.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "\"" }
  }
}
