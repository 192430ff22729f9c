/// The kinds of alert the engine sends, named as in the webhook body's `"alert"`.
public enum AlertKind: String, Sendable, Hashable, CaseIterable {
  case jobDead = "job_dead"
  case jobStuck = "job_stuck"
  case errorRate = "error_rate"
  case backlog
  case oldestReady = "oldest_ready"
  case crashLooping = "crash_looping"
  case workersBelowMin = "workers_below_min"
}
