/// How urgent an alert is. Every alert kind has a fixed severity (README, "Alerts"); each
/// channel of `[alerts]` but the webhooks names the severities it is sent.
public enum AlertSeverity: String, Sendable, Hashable, CaseIterable, Comparable {
  /// Worth a look soon: a dead job, a stuck job, a backlog, an old ready job, an error rate.
  case warning
  /// Worth waking someone: a pool that cannot boot its workers or stays below its min.
  case critical

  public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool {
    a == .warning && b == .critical
  }
}

/// `[alerts.slack]`: a Slack incoming webhook.
public struct SlackAlertsConfig: Sendable, Equatable {
  /// The incoming-webhook URL (`http://` or `https://`).
  public var url: String
  /// The severities sent (default: all).
  public var severities: Set<AlertSeverity>
  /// A Slack channel for `url`.
  public init(url: String, severities: Set<AlertSeverity> = Set(AlertSeverity.allCases)) {
    self.url = url
    self.severities = severities
  }
}

/// `[alerts.pagerduty]`: PagerDuty's Events API v2. A firing alert is a `trigger`, its
/// resolution a `resolve` with the same `dedup_key`.
public struct PagerDutyAlertsConfig: Sendable, Equatable {
  /// The Events API v2 endpoint of PagerDuty.
  public static let defaultURL = "https://events.pagerduty.com/v2/enqueue"
  /// The integration's routing key.
  public var routingKey: String
  /// Where events are POSTed (default `defaultURL`).
  public var url: String
  /// The severities sent (default: critical only).
  public var severities: Set<AlertSeverity>
  /// `payload.source` (default: this host's name).
  public var source: String?
  /// A PagerDuty channel with the integration key `routingKey`.
  public init(
    routingKey: String, url: String = PagerDutyAlertsConfig.defaultURL,
    severities: Set<AlertSeverity> = [.critical], source: String? = nil
  ) {
    self.routingKey = routingKey
    self.url = url
    self.severities = severities
    self.source = source
  }
}

/// `[alerts.email]`: a plain-text mail per alert over SMTP.
public struct EmailAlertsConfig: Sendable, Equatable {
  /// When the connection is upgraded with STARTTLS.
  public enum StartTLS: String, Sendable, Equatable, CaseIterable {
    /// When the server offers it (then its certificate must verify); plain otherwise.
    case auto
    /// Always: a server that does not offer it fails the delivery.
    case always
    /// Never (AUTH is then refused by the config).
    case never
  }

  /// The SMTP server's host name or IP address.
  public var host: String
  /// Its port (default 25).
  public var port: Int
  /// The envelope sender and `From:`.
  public var from: String
  /// The recipients (envelope and `To:`).
  public var to: [String]
  /// STARTTLS policy (default auto).
  public var startTLS: StartTLS
  /// The AUTH user name; AUTH (PLAIN, else LOGIN) is sent over TLS only.
  public var username: String?
  /// A file holding the password (absolute; read at each delivery, first line, trimmed).
  public var passwordFile: String?
  /// A PEM file of the certificates to trust instead of the system's (absolute; read when
  /// the channel is built: at start, and at a reload that changes `[alerts.email]`).
  public var caFile: String?
  /// The longest wait for the connection and for each reply of the server (default 30 s).
  public var timeout: Duration
  /// The severities sent (default: all).
  public var severities: Set<AlertSeverity>

  /// An e-mail channel through `host:port`.
  public init(
    host: String, port: Int = 25, from: String, to: [String], startTLS: StartTLS = .auto,
    username: String? = nil, passwordFile: String? = nil, caFile: String? = nil,
    timeout: Duration = .seconds(30),
    severities: Set<AlertSeverity> = Set(AlertSeverity.allCases)
  ) {
    self.host = host
    self.port = port
    self.from = from
    self.to = to
    self.startTLS = startTLS
    self.username = username
    self.passwordFile = passwordFile
    self.caFile = caFile
    self.timeout = timeout
    self.severities = severities
  }
}
