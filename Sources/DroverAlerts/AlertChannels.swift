public import DroverCore
public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Every destination of `[alerts]`: the webhooks (every alert, as before) and the Slack,
/// PagerDuty and e-mail channels, each sent the alerts whose severity it names. Each channel
/// is an `AlertOutbox` of its own (a thread, a bounded queue, retries with backoff), so `send`
/// only renders the bodies and appends them, and a dead channel delays no other.
public final class AlertChannels: Sendable {
  /// One channel: what it takes and how an alert becomes its body.
  struct Route: Sendable {
    var severities: Set<AlertSeverity>
    var render: @Sendable (AlertText, Timestamp) -> String
    var outbox: AlertOutbox
  }

  let webhook: WebhookSender?
  let routes: [(name: String, route: Route)]
  let posters: [HTTPPoster]
  let linkBase: String?

  /// The channels of `alerts`; links point under `AlertText.linkBase(alerts, http:)`.
  /// `hostName` is PagerDuty's default `source`. Started by `start`, stopped by `stop`.
  public init(
    alerts: AlertsConfig, http: HTTPConfig?, options: AlertOutbox.Options = .init(),
    logger: Logger, hostName: String = AlertChannels.hostName()
  ) {
    linkBase = AlertText.linkBase(alerts, http: http)
    webhook =
      alerts.webhooks.isEmpty
      ? nil
      : WebhookSender(
        urls: alerts.webhooks, secret: alerts.secret, options: options, logger: logger)
    var routes: [(String, Route)] = []
    var posters: [HTTPPoster] = []
    if let slack = alerts.slack {
      let poster = HTTPPoster(options: options)
      posters.append(poster)
      let url = slack.url
      let outbox = AlertOutbox(
        label: "slack",
        destinations: [
          AlertDestination(name: "slack") { poster.post($0, to: url, permanent4xx: true) }
        ], options: options, logger: logger)
      routes.append(
        (
          "slack",
          Route(
            severities: slack.severities, render: { SlackBody.json($0, at: $1).render() },
            outbox: outbox)
        ))
    }
    if let pd = alerts.pagerDuty {
      let poster = HTTPPoster(options: options)
      posters.append(poster)
      let url = pd.url
      let source = pd.source ?? hostName
      let key = pd.routingKey
      let outbox = AlertOutbox(
        label: "pagerduty",
        destinations: [
          AlertDestination(name: "pagerduty (\(url))") {
            poster.post($0, to: url, permanent4xx: true)
          }
        ], options: options, logger: logger)
      routes.append(
        (
          "pagerduty",
          Route(
            severities: pd.severities,
            render: {
              PagerDutyBody.json($0, routingKey: key, source: source, at: $1).render()
            }, outbox: outbox)
        ))
    }
    if let email = alerts.email {
      let client = SMTPClient(config: email)
      let outbox = AlertOutbox(
        label: "email",
        destinations: [AlertDestination(name: client.name) { client.send($0) }],
        options: options, logger: logger)
      routes.append(
        (
          "email",
          Route(
            severities: email.severities,
            render: { EmailMessage.text($0, from: email.from, to: email.to, at: $1) },
            outbox: outbox)
        ))
    }
    self.routes = routes
    self.posters = posters
  }

  /// Starts every channel's threads.
  public func start() {
    webhook?.start()
    for (_, r) in routes { r.outbox.start() }
  }

  /// Queues `t` for the webhooks and for each channel that takes its severity; never blocks
  /// on the network.
  public func send(_ t: AlertTransition, at: Timestamp) {
    webhook?.send(AlertBody.json(t, at: at).render())
    let severity = t.measurement.key.kind.severity
    let wanted = routes.filter { $0.route.severities.contains(severity) }
    guard !wanted.isEmpty else { return }
    let text = AlertText(t, linkBase: linkBase)
    for (_, r) in wanted { r.outbox.send(r.render(text, at)) }
  }

  /// The counters of each channel (`webhook`, `slack`, `pagerduty`, `email`).
  public var counts: [String: AlertOutbox.Counts] {
    var out: [String: AlertOutbox.Counts] = [:]
    if let webhook { out["webhook"] = webhook.counts }
    for (name, r) in routes { out[name] = r.outbox.counts }
    return out
  }

  /// Stops every channel: queued alerts get until `grace` from now to go out (the channels
  /// drain at once, each on its own threads, so the grace is shared, not added up). Harmless
  /// twice.
  public func stop(grace: Duration = .seconds(2)) {
    let deadline = ContinuousClock.now + grace
    func left() -> Duration { max(.zero, deadline - ContinuousClock.now) }
    webhook?.stop(grace: left())
    for (_, r) in routes { r.outbox.stop(grace: left()) }
    for p in posters { p.shutdown() }
  }

  /// This host's name (PagerDuty's default `source`).
  public static func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, 255) == 0 else { return "localhost" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
