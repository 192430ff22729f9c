/// `[alerts]`: webhooks and channels (Slack, PagerDuty, e-mail) that hear when a condition
/// starts and when it clears (CONTRACT.md, "Alerts"). Every threshold is optional: an absent
/// one is never evaluated. At least one webhook or channel is configured.
public struct AlertsConfig: Sendable, Equatable {
  /// The error-rate condition: more than `above` of the jobs that finished in the last `window`
  /// failed or died, once at least `minJobs` finished in it.
  public struct ErrorRate: Sendable, Equatable {
    /// A fraction in (0, 1].
    public var above: Double
    /// How far back finished jobs count.
    public var window: Duration
    /// Fewer finished jobs than this in the window never fire (a single failure is not 100 %).
    public var minJobs: Int
    /// The contract's defaults: a 5 m window, 20 jobs at least.
    public init(above: Double, window: Duration = .seconds(300), minJobs: Int = 20) {
      self.above = above
      self.window = window
      self.minJobs = minJobs
    }
  }

  /// `http://` or `https://` URLs, each sent every alert (may be empty when a channel is set).
  public var webhooks: [String]
  /// `[alerts.slack]`, when set.
  public var slack: SlackAlertsConfig?
  /// `[alerts.pagerduty]`, when set.
  public var pagerDuty: PagerDutyAlertsConfig?
  /// `[alerts.email]`, when set.
  public var email: EmailAlertsConfig?
  /// The base URL of links in channel messages (`link_base`, no trailing slash); when nil,
  /// `http://` + `[http] listen` when that is a specific address.
  public var linkBase: String?
  /// When set, `X-Drover-Signature` carries the hex HMAC-SHA256 of the body with this key.
  public var secret: String?
  /// A job running longer than this is stuck.
  public var stuckAfter: Duration?
  /// The error-rate condition, when set.
  public var errorRate: ErrorRate?
  /// More ready jobs than this in one pool is a backlog.
  public var backlogAbove: Int?
  /// A pool whose oldest ready job has waited longer than this (since its run_at).
  public var oldestReadyAbove: Duration?
  /// A firing alert nobody acknowledged is sent again this often (`renotify`, default 4h;
  /// zero: never). An acknowledged one is not, until it resolves and fires anew.
  public var renotify: Duration = .seconds(4 * 3600)
  /// `GET /health` degrades when a pool has workers and ready jobs but nothing finished for
  /// longer than this (`idle_with_backlog`). nil: the 5m default.
  public var idleWithBacklog: Duration?

  /// An `[alerts]` table; thresholds left nil are not evaluated.
  public init(
    webhooks: [String], secret: String? = nil, stuckAfter: Duration? = nil,
    errorRate: ErrorRate? = nil, backlogAbove: Int? = nil, oldestReadyAbove: Duration? = nil
  ) {
    self.webhooks = webhooks
    self.secret = secret
    self.stuckAfter = stuckAfter
    self.errorRate = errorRate
    self.backlogAbove = backlogAbove
    self.oldestReadyAbove = oldestReadyAbove
  }
}
