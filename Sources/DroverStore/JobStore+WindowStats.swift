public import DroverCore

/// What `JobStore.windowStats` reads.
public struct WindowStatsParams: Sendable, Hashable {
  /// The window's length: it starts at the minute boundary at or before `now − window` and
  /// ends with the minute of `now` (later minutes, from a clock ahead of ours, are left out).
  public var window: Duration
  public var now: Timestamp
  /// A running job started more than this before `now` is stuck, unless its type has its own
  /// threshold in `stuckAfterByType` (a pool's timeout). nil: only the per-type thresholds.
  public var stuckAfter: Duration?
  public var stuckAfterByType: [String: Duration]

  public init(
    window: Duration, now: Timestamp, stuckAfter: Duration? = nil,
    stuckAfterByType: [String: Duration] = [:]
  ) {
    self.window = window
    self.now = now
    self.stuckAfter = stuckAfter
    self.stuckAfterByType = stuckAfterByType
  }

  /// Each pool type's stuck threshold: its pool's attempt timeout (the first pool naming the
  /// type wins; a zero timeout sets none).
  public static func poolTimeouts(_ config: DroverConfig) -> [String: Duration] {
    var out: [String: Duration] = [:]
    for pool in config.pools where pool.timeout > .zero {
      for type in pool.types where out[type] == nil { out[type] = pool.timeout }
    }
    return out
  }

  /// The first minute of the window.
  public var sinceMinute: Int64 { WindowStats.minute(of: now.adding(.zero - window)) }

  /// Running jobs `(id, type, started_at)` past their threshold, oldest start first.
  func stuck(_ running: [(JobID, String, Timestamp?)]) -> [StuckJob] {
    running.compactMap { (id, type, started) -> StuckJob? in
      guard let started, let limit = stuckAfterByType[type] ?? stuckAfter,
        now.micros - started.micros > limit.microseconds
      else { return nil }
      return StuckJob(id: id, type: type, startedAt: started)
    }.sorted { ($0.startedAt.micros, $0.id) < ($1.startedAt.micros, $1.id) }
  }
}

/// One finished attempt as the per-minute aggregates count it.
struct StatSample {
  /// 3 completed, 5 dead, 9 failed (will retry).
  var kind: Int
  var type: String
  var priority: Int
  var runMicros: Int64?
  var waitMicros: Int64?

  static let failedKind = 9

  /// The sample of a settled attempt, nil when it is not counted (cancelled, snoozed,
  /// released or interrupted without an error, rate-limited).
  static func of(
    _ decision: RetryRule.Decision, cancelRequested: Bool, type: String, priority: Int,
    startedAt: Timestamp?, runAt: Timestamp, now: Timestamp
  ) -> StatSample? {
    let kind: Int
    switch decision {
    case .complete: kind = JobState.completed.rawValue
    case .dead: kind = JobState.dead.rawValue
    case .requeue(_, _, .some) where !cancelRequested: kind = failedKind
    default: return nil
    }
    return StatSample(
      kind: kind, type: type, priority: priority,
      runMicros: startedAt.map { max(0, now.micros - $0.micros) },
      waitMicros: startedAt.map { max(0, $0.micros - runAt.micros) })
  }
}

/// The per-minute deltas of one transaction: every finish of a batch shares its `now`, so one
/// minute; a short list per (type, priority) searched from the end, like the state counters.
struct MinuteAccumulator {
  struct Row {
    var counts: WindowCounts
    var run = DurationHistogram()
    var wait = DurationHistogram()
  }
  var rows: [Row] = []

  var isEmpty: Bool { rows.isEmpty }

  mutating func add(_ s: StatSample) {
    var i = rows.count - 1
    while i >= 0 {
      if rows[i].counts.priority == s.priority && rows[i].counts.type == s.type { break }
      i -= 1
    }
    if i < 0 {
      rows.append(Row(counts: WindowCounts(type: s.type, priority: s.priority)))
      i = rows.count - 1
    }
    switch s.kind {
    case JobState.completed.rawValue: rows[i].counts.completed += 1
    case JobState.dead.rawValue: rows[i].counts.dead += 1
    default: rows[i].counts.failed += 1
    }
    if let r = s.runMicros {
      rows[i].counts.runCount += 1
      rows[i].counts.runSumMicros += r
      rows[i].run.add(micros: r)
    }
    if let w = s.waitMicros {
      rows[i].counts.waitCount += 1
      rows[i].counts.waitSumMicros += w
      rows[i].wait.add(micros: w)
    }
  }
}
