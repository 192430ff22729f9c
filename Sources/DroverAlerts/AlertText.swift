public import DroverCore

/// The words and link of one alert, shared by the channels that people read (Slack, PagerDuty,
/// e-mail): a title (`CRITICAL crash_looping firing: pool broken`), a sentence saying what was
/// measured against what, and a link into the supervisor's HTTP API.
public struct AlertText: Sendable, Hashable {
  /// The transition told.
  public var transition: AlertTransition
  /// The kind's severity.
  public var severity: AlertSeverity
  /// `pool slow`, `job 42`, `supervisor`: what the alert is about.
  public var subject: String
  /// `WARNING backlog firing: pool slow`.
  public var title: String
  /// `pool slow has 12 ready jobs (alert above 3)`.
  public var message: String
  /// `BASE/jobs/ID` for a job alert, `BASE/pools` for a pool, `BASE/stats` for the rest;
  /// nil without a base.
  public var link: String?

  /// The text of `t`, its link under `linkBase` (no trailing slash) when there is one.
  public init(_ t: AlertTransition, linkBase: String?) {
    let m = t.measurement
    transition = t
    severity = m.key.kind.severity
    let jobID = m.job?["id"]?.intValue
    if let jobID {
      subject = "job \(jobID)"
    } else if let pool = m.pool {
      subject = "pool \(pool)"
    } else {
      subject = "supervisor"
    }
    title =
      "\(severity.rawValue.uppercased()) \(m.key.kind.rawValue) \(t.state.rawValue): \(subject)"
    message = Self.sentence(t)
    if let linkBase {
      link =
        jobID.map { "\(linkBase)/jobs/\($0)" }
        ?? (m.pool != nil ? "\(linkBase)/pools" : "\(linkBase)/stats")
    } else {
      link = nil
    }
  }

  /// The link base of `alerts`: its `link_base`, else `http://` + `[http] listen` when that
  /// names a specific address (a wildcard one is no address to follow).
  public static func linkBase(_ alerts: AlertsConfig?, http: HTTPConfig?) -> String? {
    if let base = alerts?.linkBase { return base }
    guard let listen = http?.listen else { return nil }
    let host =
      listen.hasPrefix("[")
      ? String(listen.prefix { $0 != "]" }.dropFirst()) : String(listen.prefix { $0 != ":" })
    guard !["0.0.0.0", "::", ""].contains(host) else { return nil }
    return "http://\(listen)"
  }

  /// One sentence about the measurement; a resolved alert says it cleared, with the value it
  /// cleared at.
  static func sentence(_ t: AlertTransition) -> String {
    let m = t.measurement
    let pool = m.pool ?? "-"
    let jobID = m.job?["id"]?.intValue.map(String.init) ?? m.key.subject ?? "?"
    let type = m.job?["type"]?.stringValue.map { " (\($0))" } ?? ""
    let firing = t.state == .firing
    switch m.key.kind {
    case .jobDead:
      let attempts = m.value.intValue.map { " after \($0) attempt\($0 == 1 ? "" : "s")" } ?? ""
      var s = "job \(jobID)\(type) in pool \(pool) is dead\(attempts)"
      if let last = m.job?["errors"]?.arrayValue?.last?["message"]?.stringValue {
        s += ": \(last.count > 300 ? String(last.prefix(300)) + "…" : last)"
      }
      return s
    case .jobStuck:
      return firing
        ? "job \(jobID)\(type) in pool \(pool) has been running for \(secs(m.value)) "
          + "(alert after \(secs(m.threshold)))"
        : "job \(jobID)\(type) in pool \(pool) is no longer stuck"
    case .errorRate:
      return (firing ? "" : "cleared: ")
        + "\(percent(m.value)) of the jobs finished in the window failed "
        + "(alert above \(percent(m.threshold)))"
    case .backlog:
      return (firing ? "" : "cleared: ")
        + "pool \(pool) has \(m.value.render()) ready jobs (alert above \(m.threshold.render()))"
    case .oldestReady:
      return (firing ? "" : "cleared: ")
        + "pool \(pool)'s oldest ready job has waited \(secs(m.value)) "
        + "(alert above \(secs(m.threshold)))"
    case .crashLooping:
      return firing
        ? "pool \(pool) is crash-looping: its workers exit before they boot"
        : "pool \(pool) boots its workers again"
    case .workersBelowMin:
      return (firing ? "" : "cleared: ")
        + "pool \(pool) has \(m.value.render()) live workers (min \(m.threshold.render()))"
    }
  }

  /// Seconds, to a tenth: `95.3 s`.
  static func secs(_ v: JSONValue) -> String {
    guard let d = v.doubleValue else { return v.render() }
    return "\(tenths(d)) s"
  }

  /// A fraction as a percentage, to a tenth: `35.5 %`.
  static func percent(_ v: JSONValue) -> String {
    guard let d = v.doubleValue else { return v.render() }
    return "\(tenths(d * 100)) %"
  }

  static func tenths(_ d: Double) -> String {
    guard d.isFinite else { return "\(d)" }
    let r = (d * 10).rounded() / 10
    return r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : String(r)
  }
}
