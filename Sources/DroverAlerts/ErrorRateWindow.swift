/// Finished jobs counted per second over a sliding window: how many failed (an attempt failed,
/// or the job died) and how many completed. Pure; the caller feeds it event times.
public struct ErrorRateWindow: Sendable {
  /// Per second (Unix seconds): failed+dead, completed.
  private var buckets: [Int64: (bad: Int, good: Int)] = [:]
  /// The window's length in whole seconds (at least 1).
  public let windowSeconds: Int64

  /// An empty window of `window` (rounded down to seconds, at least 1).
  public init(window: Duration) {
    windowSeconds = max(1, window.components.seconds)
  }

  /// Counts one finished attempt at `second` (Unix seconds).
  public mutating func record(second: Int64, failed: Bool) {
    var b = buckets[second] ?? (0, 0)
    if failed { b.bad += 1 } else { b.good += 1 }
    buckets[second] = b
  }

  /// (failed, total) over the window that ends at `now` (Unix seconds, inclusive); forgets older
  /// seconds.
  public mutating func totals(now: Int64) -> (failed: Int, total: Int) {
    let start = now - windowSeconds + 1
    buckets = buckets.filter { $0.key >= start }
    var bad = 0
    var good = 0
    for (second, b) in buckets where second <= now {
      bad += b.bad
      good += b.good
    }
    return (bad, bad + good)
  }
}
