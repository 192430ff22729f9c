/// Pure rules the supervisor applies to its pools; each has unit tests.
public enum PoolPolicy {
  /// Consecutive boot failures after which a pool is marked crash-looping.
  public static let crashLoopThreshold = 5

  /// The wait before respawning a worker after `consecutiveFailures` deaths in a row that came
  /// soon after spawn. The first is replaced at once (a single crash, or a kill -9, must not
  /// leave the pool short); from the second on, 50 ms doubling to a 30 s cap.
  public static func restartDelay(consecutiveFailures n: Int) -> Duration {
    guard n > 1 else { return .zero }
    var ms: Int64 = 50
    for _ in 2..<min(n, 20) { ms = min(ms * 2, 30_000) }
    return .milliseconds(ms)
  }

  /// A worker that lived at least this long before dying resets the failure count.
  public static let stableAfter: Duration = .seconds(1)

  /// The number of workers a pool in automatic mode wants: enough to run its running jobs plus
  /// its ready backlog at `concurrency` jobs each, between `min` and `max`.
  public static func desiredWorkers(
    running: Int, backlog: Int, concurrency: Int, min lo: Int, max hi: Int
  ) -> Int {
    let c = Swift.max(1, concurrency)
    let need = (Swift.max(0, running) + Swift.max(0, backlog) + c - 1) / c
    return Swift.min(hi, Swift.max(lo, need))
  }

  /// How many jobs one worker may hold at once: `concurrency` running plus some prefetched on
  /// its socket, so it never waits for a store round trip between jobs.
  ///
  /// The prefetch depth follows the pool's recent job run time (`averageRun`, nil before the
  /// first job). Tiny jobs (under 1 ms) get about `prefetchWork` of work queued per slot,
  /// between 2 and `maxPrefetch` jobs: deep enough that a worker does not run dry while the
  /// supervisor commits a turn (which then settles dozens of jobs at once, not a handful), and
  /// shallow enough that a job of higher priority claimed next waits behind at most that much.
  /// Ordinary jobs get two per slot; long jobs (over 50 ms) none beyond the running one, since
  /// a round trip is nothing next to them and a prefetched job would wait behind a long one.
  public static func capacity(concurrency: Int, averageRun: Duration? = nil) -> Int {
    let c = Swift.max(1, concurrency)
    guard let avg = averageRun else { return c * 2 }
    if avg < .milliseconds(1) {
      let fits = prefetchWork / Swift.max(avg, .nanoseconds(1))
      return c * Int(Swift.min(Double(maxPrefetch), Swift.max(2, fits.rounded(.down))))
    }
    if avg < .milliseconds(50) { return c * 2 }
    return c
  }

  /// The work a worker of tiny jobs holds per slot (see `capacity`).
  public static let prefetchWork: Duration = .milliseconds(2)
  /// The most jobs a worker holds per slot.
  public static let maxPrefetch = 64

  /// A worker holding prefetched jobs while its running job has run this long, when another
  /// worker of the pool is idle, is asked to give the prefetched ones back (work stealing).
  public static let stealAfter: Duration = .milliseconds(100)

  /// Exponentially weighted moving average of job run times (weight 1/8 for the newest).
  public static func averageRun(previous: Duration?, latest: Duration) -> Duration {
    guard let p = previous else { return latest }
    return p * 7 / 8 + latest / 8
  }

  /// The job count after which a worker is recycled, with up to +10 % jitter so a pool's
  /// workers do not all restart together. Zero means never. Saturates at `Int.max` (a NaN
  /// jitter counts as 0), so no `maxJobs` can trap.
  public static func recycleAfter(maxJobs: Int, jitter: Double) -> Int {
    guard maxJobs > 0 else { return 0 }
    let j = jitter.isNaN ? 0 : Swift.min(Swift.max(jitter, 0), 1)
    let extra = (Double(maxJobs) * 0.1 * j).rounded(.down)
    // Double(Int.max) rounds up to 2^63, which Int(_:) would trap on.
    let e = extra < Double(Int.max) ? Int(extra) : Int.max
    let (sum, overflow) = maxJobs.addingReportingOverflow(e)
    return overflow ? Int.max : sum
  }
}
