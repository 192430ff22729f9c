/// A mergeable histogram of durations: 32 fixed log-scale buckets, so per-minute histograms add
/// up to a window's and a percentile is read from the sum.
///
/// Bucket 0 holds durations under 1 ms; bucket `k` (1...30) holds [2^(k-1) ms, 2^k ms); bucket
/// 31 holds 2^30 ms (about 12 days) and more. A percentile is the upper edge of the bucket it
/// falls in, so it is never below the true value and at most twice it (under 1 ms it reads
/// 1 ms; in the last bucket it reads that bucket's lower edge).
public struct DurationHistogram: Sendable, Hashable {
  /// How many buckets there are.
  public static let bucketCount = 32

  /// Counts per bucket; always `bucketCount` long.
  public var counts: [Int]

  /// An empty histogram.
  public init() { counts = Array(repeating: 0, count: Self.bucketCount) }

  /// A histogram of these counts (padded or cut to `bucketCount`).
  public init(counts: [Int]) {
    self.counts = Array(counts.prefix(Self.bucketCount))
    if self.counts.count < Self.bucketCount {
      self.counts += Array(repeating: 0, count: Self.bucketCount - self.counts.count)
    }
  }

  /// The bucket of a duration in microseconds (negative counts as 0).
  public static func bucket(micros: Int64) -> Int {
    let ms = max(0, micros) / 1000
    guard ms >= 1 else { return 0 }
    return min(bucketCount - 1, Int64.bitWidth - ms.leadingZeroBitCount)
  }

  /// The upper edge of bucket `k` in microseconds (for the last one, its lower edge).
  public static func upperEdge(_ k: Int) -> Int64 {
    k >= bucketCount - 1 ? (Int64(1) << (bucketCount - 2)) * 1000 : (Int64(1) << k) * 1000
  }

  /// Total of all buckets.
  public var total: Int { counts.reduce(0, +) }

  /// Adds one duration.
  public mutating func add(micros: Int64) { counts[Self.bucket(micros: micros)] += 1 }

  /// Adds `n` to bucket `k` (ignored when `k` is out of range).
  public mutating func add(bucket k: Int, _ n: Int) {
    if k >= 0 && k < Self.bucketCount { counts[k] += n }
  }

  /// Adds another histogram's counts.
  public mutating func merge(_ other: DurationHistogram) {
    for k in 0..<Self.bucketCount { counts[k] += other.counts[k] }
  }

  /// The `q` quantile (0...1) in microseconds, nil when empty: the upper edge of the bucket
  /// holding the ceil(q × total)-th duration.
  public func quantile(_ q: Double) -> Int64? {
    let n = total
    guard n > 0 else { return nil }
    let rank = max(1, Int((q * Double(n)).rounded(.up)))
    var seen = 0
    for k in 0..<Self.bucketCount {
      seen += counts[k]
      if seen >= rank { return Self.upperEdge(k) }
    }
    return Self.upperEdge(Self.bucketCount - 1)
  }
}

/// Finished attempts of one job type at one priority over a window, summed from per-minute
/// aggregates.
public struct WindowCounts: Sendable, Hashable {
  public var type: String
  public var priority: Int
  /// Attempts that completed the job.
  public var completed: Int
  /// Attempts that failed and will be retried.
  public var failed: Int
  /// Attempts that failed for good (the job is dead).
  public var dead: Int
  /// Run times (finish − start) summed, in microseconds, and how many.
  public var runCount: Int
  public var runSumMicros: Int64
  /// Queue waits (start − due time) summed, in microseconds, and how many.
  public var waitCount: Int
  public var waitSumMicros: Int64

  public init(
    type: String, priority: Int, completed: Int = 0, failed: Int = 0, dead: Int = 0,
    runCount: Int = 0, runSumMicros: Int64 = 0, waitCount: Int = 0, waitSumMicros: Int64 = 0
  ) {
    self.type = type
    self.priority = priority
    self.completed = completed
    self.failed = failed
    self.dead = dead
    self.runCount = runCount
    self.runSumMicros = runSumMicros
    self.waitCount = waitCount
    self.waitSumMicros = waitSumMicros
  }

  /// Attempts that finished (completed, failed or dead).
  public var finished: Int { completed + failed + dead }
}

/// A running job past its stuck threshold.
public struct StuckJob: Sendable, Hashable {
  public var id: Int64
  public var type: String
  public var startedAt: Timestamp
  public init(id: Int64, type: String, startedAt: Timestamp) {
    self.id = id
    self.type = type
    self.startedAt = startedAt
  }
}

/// What `jobs stats --window` and `GET /stats?window=` report: a window's finished attempts
/// from the per-minute aggregates the group commit keeps, plus the stuck running jobs.
public struct WindowStats: Sendable, Hashable {
  /// The window's first minute (a minute boundary at or before `now − window`) and its end.
  public var since: Timestamp
  public var now: Timestamp
  /// Per (type, priority), sorted by type then priority descending.
  public var rows: [WindowCounts]
  /// Run-time and queue-wait histograms per type.
  public var runHistograms: [String: DurationHistogram]
  public var waitHistograms: [String: DurationHistogram]
  /// When the newest finish was recorded (any time, not only in the window); nil: never.
  public var lastFinishedAt: Timestamp?
  /// Running jobs past their threshold, oldest start first.
  public var stuck: [StuckJob]

  public init(
    since: Timestamp, now: Timestamp, rows: [WindowCounts] = [],
    runHistograms: [String: DurationHistogram] = [:],
    waitHistograms: [String: DurationHistogram] = [:], lastFinishedAt: Timestamp? = nil,
    stuck: [StuckJob] = []
  ) {
    self.since = since
    self.now = now
    self.rows = rows
    self.runHistograms = runHistograms
    self.waitHistograms = waitHistograms
    self.lastFinishedAt = lastFinishedAt
    self.stuck = stuck
  }

  /// The minute (minutes since the epoch) a time falls in.
  public static func minute(of t: Timestamp) -> Int64 {
    t.micros >= 0 ? t.micros / 60_000_000 : (t.micros - 59_999_999) / 60_000_000
  }

  /// All rows summed into one (type "", priority 0).
  public var total: WindowCounts {
    var t = WindowCounts(type: "", priority: 0)
    for r in rows {
      t.completed += r.completed
      t.failed += r.failed
      t.dead += r.dead
      t.runCount += r.runCount
      t.runSumMicros += r.runSumMicros
      t.waitCount += r.waitCount
      t.waitSumMicros += r.waitSumMicros
    }
    return t
  }

  /// (failed + dead) / finished attempts; nil when none finished.
  public var errorRate: Double? {
    let t = total
    return t.finished == 0 ? nil : Double(t.failed + t.dead) / Double(t.finished)
  }

  /// The histograms of every type summed.
  public var runHistogram: DurationHistogram { Self.merged(runHistograms) }
  public var waitHistogram: DurationHistogram { Self.merged(waitHistograms) }

  static func merged(_ h: [String: DurationHistogram]) -> DurationHistogram {
    var all = DurationHistogram()
    for v in h.values { all.merge(v) }
    return all
  }
}
