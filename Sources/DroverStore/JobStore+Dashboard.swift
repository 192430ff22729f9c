public import DroverCore

/// One action an operator took from the dashboard, as the audit log keeps it: so "who
/// requeued 40 000 dead jobs at 3 am" has an answer after the fact.
public struct AuditEntry: Sendable, Hashable {
  public var id: Int64
  public var at: Timestamp
  /// Which credential acted: `token`, `read_token` or `open` (no token configured).
  public var who: String
  /// `cancel`, `retry`, `requeue`, `scale`, `drain`, `resume`.
  public var action: String
  /// What it acted on: `job 42`, `jobs 1,2,3`, `filter state=dead type=mail`, `pool work`.
  public var target: String
  /// How many jobs (or the scale target) it changed.
  public var count: Int
  public init(
    id: Int64 = 0, at: Timestamp, who: String, action: String, target: String, count: Int
  ) {
    self.id = id
    self.at = at
    self.who = who
    self.action = action
    self.target = target
    self.count = count
  }
}

/// `minuteSeries`: the per-minute aggregates from `since` (inclusive) to `until` (inclusive,
/// minutes since the epoch), summed over types into buckets of `bucketMinutes`.
public struct MinuteSeriesParams: Sendable, Hashable {
  public var sinceMinute: Int64
  public var untilMinute: Int64
  /// 1 for per-minute points; 60 for hourly ones over 7 or 30 days.
  public var bucketMinutes: Int64
  public init(sinceMinute: Int64, untilMinute: Int64, bucketMinutes: Int64 = 1) {
    self.sinceMinute = sinceMinute
    self.untilMinute = untilMinute
    self.bucketMinutes = max(1, bucketMinutes)
  }
}

/// One bucket of `minuteSeries` (buckets with no finish are absent).
public struct MinutePoint: Sendable, Hashable {
  /// The bucket's first minute (minutes since the epoch, a multiple of the bucket size).
  public var minute: Int64
  public var completed: Int
  public var failed: Int
  public var dead: Int
  public var waitCount: Int
  public var waitSumMicros: Int64
  public init(
    minute: Int64, completed: Int, failed: Int, dead: Int, waitCount: Int, waitSumMicros: Int64
  ) {
    self.minute = minute
    self.completed = completed
    self.failed = failed
    self.dead = dead
    self.waitCount = waitCount
    self.waitSumMicros = waitSumMicros
  }
}
