public import DroverCore

/// The kinds of alert the engine sends, named as in the webhook body's `"alert"`.
public enum AlertKind: String, Sendable, Hashable, CaseIterable {
  case jobDead = "job_dead"
  case jobStuck = "job_stuck"
  case errorRate = "error_rate"
  case backlog
  case oldestReady = "oldest_ready"
  case crashLooping = "crash_looping"
  case workersBelowMin = "workers_below_min"

  /// The kind's fixed severity, which routes it to the channels that take it: a pool that
  /// cannot run its workers is critical; everything about jobs and queues is a warning (the
  /// work still runs, or one job is lost and already recorded as dead).
  public var severity: AlertSeverity {
    switch self {
    case .crashLooping, .workersBelowMin: .critical
    case .jobDead, .jobStuck, .errorRate, .backlog, .oldestReady: .warning
    }
  }

  /// Whether the condition is measured by this supervisor alone (its own workers, its own
  /// finished jobs) rather than read from the shared store: on a multi-host store two hosts
  /// can disagree about it, so its PagerDuty dedup key names the host.
  public var isPerHost: Bool {
    switch self {
    case .crashLooping, .workersBelowMin, .errorRate: true
    case .jobDead, .jobStuck, .backlog, .oldestReady: false
    }
  }
}
