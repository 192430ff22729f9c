/// The accepted range of every numeric, duration and size setting: the one table the loader
/// checks them against (README.md, "Limits", shows it to users).
///
/// The bounds are chosen so that no arithmetic on them can overflow anywhere in the runtime
/// (deadlines, timestamps, recycle jitter, prefetch depth), and so that a worker can really
/// run what the config asks for (`concurrency` threads of its own). A value outside its range
/// is a `ConfigError` naming the key and line: `config check` refuses it, a start fails on it,
/// and a SIGHUP reload that carries it is rejected while the old config stays.
public enum ConfigLimits {
  /// `pools.NAME.min`: workers kept even when idle.
  public static let minWorkers: ClosedRange<Int> = 0...1024
  /// `pools.NAME.max`: the autoscaling ceiling.
  public static let maxWorkers: ClosedRange<Int> = 1...1024
  /// `pools.NAME.concurrency`: jobs at once per worker (one worker thread each).
  public static let concurrency: ClosedRange<Int> = 1...1024
  /// `pools.NAME.max_attempts` (the same bound an enqueue request's `max_attempts` has).
  public static let maxAttempts: ClosedRange<Int> = 1...1_000_000
  /// `max_snoozes`: 0 (no snoozing) up to a million.
  public static let maxSnoozes: ClosedRange<Int> = 0...1_000_000
  /// `pools.NAME.max_jobs`: recycle after this many jobs; 0 = never.
  public static let maxJobs: ClosedRange<Int> = 0...1_000_000_000
  /// `pools.NAME.max_rss`: recycle above this many bytes; 0 = never. At most 1 TiB.
  public static let maxRSS: ClosedRange<UInt64> = 0...(1 << 40)
  /// `pools.NAME.timeout`: per attempt; more than zero, at most 365 days.
  public static let timeout: ClosedRange<Duration> = .microseconds(1)...days(365)
  /// `pools.NAME.idle_timeout`: at most 365 days.
  public static let idleTimeout: ClosedRange<Duration> = .zero...days(365)
  /// `supervisor.drain_timeout`: at most 365 days.
  /// `store.heartbeat` and `store.lease`.
  public static let lease: ClosedRange<Duration> = .milliseconds(100)...days(1)
  public static let drainTimeout: ClosedRange<Duration> = .zero...days(365)
  /// `pools.NAME.backoff.base` and `.cap` (and a request's `backoff`): at most 365 days.
  public static let backoff: ClosedRange<Duration> = .zero...days(365)
  /// `store.retain_completed` and `store.retain_dead`: at most 100 years.
  public static let retain: ClosedRange<Duration> = .zero...days(36_500)
  /// `store.max_payload`: the largest payload (bytes of its JSON text) an enqueue accepts, on
  /// every path. Default 1 MiB; at least 1 KiB; at most 8 MiB, well under the 16 MiB worker
  /// frame limit so a job and its frame overhead always fit in one frame.
  public static let maxPayload: ClosedRange<UInt64> = 1024...(8 << 20)
  /// The default of `store.max_payload`: 1 MiB.
  public static let defaultMaxPayload = 1 << 20
  /// `store.max_result`: 0 (no results kept) to 1 MiB.
  public static let maxResult: ClosedRange<UInt64> = 0...(1 << 20)
  public static let defaultMaxResult = 64 << 10
  /// An enqueue's `priority` (CLI `--priority`, a request's `"priority"`).
  public static let priority: ClosedRange<Int> = -1_000_000...1_000_000
  /// `schedules.*.every`: a second to a year.
  public static let scheduleEvery: ClosedRange<Duration> = .seconds(1)...days(366)
  /// `schedules.*.catch_up_limit`.
  /// `concurrency_limit.limit`: running jobs per key.
  public static let concurrencyLimit: ClosedRange<Int> = 1...1_000_000
  /// `rate.limit` and `rate.burst`: tokens.
  public static let rateTokens: ClosedRange<Int> = 1...1_000_000_000
  /// `rate.per`.
  public static let ratePer: ClosedRange<Duration> = .milliseconds(1)...days(366)
  public static let catchUpLimit: ClosedRange<Int> = 1...10_000
  /// `alerts.webhooks`: how many URLs.
  public static let webhooks: ClosedRange<Int> = 1...16
  /// `alerts.stuck_after` and `alerts.oldest_ready_above`: a second to a year.
  public static let alertAge: ClosedRange<Duration> = .seconds(1)...days(366)
  /// `alerts.renotify`: zero (never) to a year.
  public static let renotify: ClosedRange<Duration> = .zero...days(366)
  /// `alerts.backlog_above`: ready jobs of one pool.
  public static let backlogAbove: ClosedRange<Int> = 0...1_000_000_000
  /// `alerts.error_rate.window`: a second to a day (counted in memory, per second).
  public static let errorRateWindow: ClosedRange<Duration> = .seconds(1)...days(1)
  /// `alerts.error_rate.min_jobs`.
  public static let errorRateMinJobs: ClosedRange<Int> = 1...1_000_000_000
  /// The furthest an enqueue's `delay` or `at` may lie ahead: 100 years. Further is refused
  /// (not saturated): such a date is a mistake, and refusing says so instead of parking a job
  /// forever.
  public static let maxScheduleAhead: Duration = days(36_500)

  /// `n` days.
  static func days(_ n: Int64) -> Duration { .seconds(n * 86_400) }

  /// `range` for an error message: `between 0 and 1000000000`, durations as config text.
  static func describe(_ range: ClosedRange<Duration>) -> String {
    "between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))"
  }
}

extension ConfigLoader.Section {
  /// An integer within `range`; the error names the range and the value as written.
  func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigError)
    -> ConfigLoader.Located<Int>?
  {
    guard let entry = table.entry(key) else { return nil }
    guard let n = entry.value.integer else {
      throw error(
        key, line: entry.line, "must be an integer, got \(ConfigLoader.describe(entry.value))")
    }
    guard let i = Int(exactly: n), range.contains(i) else {
      throw error(
        key, line: entry.line,
        "must be between \(range.lowerBound) and \(range.upperBound), got \(n)")
    }
    return ConfigLoader.Located(value: i, line: entry.line)
  }

  /// A duration within `range` (zero included only when the range starts at zero).
  func duration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError)
    -> ConfigLoader.Located<Duration>?
  {
    guard let d = try duration(key, positive: range.lowerBound > .zero) else { return nil }
    guard range.contains(d.value) else {
      let text = table.entry(key)?.value.string ?? DurationText.format(d.value)
      throw error(
        key, line: d.line,
        "must be \(ConfigLimits.describe(range)), got \(TOMLKey.basicString(text))")
    }
    return d
  }

  /// A byte size within `range`.
  func size(_ key: String, in range: ClosedRange<UInt64>) throws(ConfigError)
    -> ConfigLoader.Located<UInt64>?
  {
    guard let s = try size(key) else { return nil }
    guard range.contains(s.value) else {
      throw error(
        key, line: s.line,
        "must be between \(range.lowerBound) and \(range.upperBound) bytes, got \(s.value)")
    }
    return s
  }
}
