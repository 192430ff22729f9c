/// Exponential retry backoff with a cap and full jitter.
///
/// The wait before retry `n` (the attempt that just failed is `n`, 1-based) is a uniform draw
/// from `0 ... min(cap, base * 2^(n-1))` ("full jitter", as AWS describes it): retries of many
/// jobs that failed together spread out instead of arriving in waves.
public struct BackoffPolicy: Sendable, Hashable, Codable {
  /// The first ceiling.
  public var base: Duration
  /// The largest ceiling, whatever the attempt.
  public var cap: Duration

  public init(base: Duration, cap: Duration) {
    self.base = base
    self.cap = cap
  }

  /// The config's default: 1 s base, 1 h cap.
  public static let standard = BackoffPolicy(base: .seconds(1), cap: .seconds(3600))

  /// The ceiling for the wait after attempt `attempt` failed: `min(cap, base * 2^(attempt-1))`.
  /// Attempts below 1 count as 1; doubling stops at the cap, so large attempts never overflow.
  public func ceiling(afterAttempt attempt: Int) -> Duration {
    let capUS = max(0, cap.microseconds)
    var c = max(0, base.microseconds)
    var n = max(1, attempt) - 1
    // A zero base never grows: stop at once rather than loop `attempt` times.
    while n > 0, c > 0, c < capUS {
      c = c > Int64.max / 2 ? Int64.max : c * 2
      n -= 1
    }
    return .microseconds(min(c, capUS))
  }

  /// The wait after attempt `attempt` failed, for a jitter draw `jitter` in `0 ..< 1`
  /// (values outside are clamped, NaN counts as 0): `jitter * ceiling`, never above the ceiling.
  public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
    let j = jitter.isNaN ? 0 : min(max(jitter, 0), 1)
    let ceilingUS = ceiling(afterAttempt: attempt).microseconds
    let d = (Double(ceilingUS) * j).rounded(.down)
    // Double(Int64.max) rounds up to 2^63, which Int64(_:) would trap on.
    let us = d < Double(Int64.max) ? Int64(d) : Int64.max
    return .microseconds(min(us, ceilingUS))
  }
}

/// The pure rule that turns a settled attempt into the job's next state.
public enum RetryRule {
  /// What happens to a job after an attempt.
  public enum Decision: Sendable, Hashable {
    /// `completed`; the attempt counts.
    case complete
    /// `cancelled`; the attempt counts (it ran).
    case cancel
    /// Back to the queue after `delay` (zero: `queued` at once). `spendsAttempt` says whether
    /// `attempts` grows; `error` is recorded when present.
    case requeue(delay: Duration, spendsAttempt: Bool, error: String?)
    /// Into the dead-letter queue with this error; the attempt counts.
    case dead(error: String)
  }

  /// Decides the next state for a job that has used `attempts` attempts of `maxAttempts` before
  /// this one. `jitter` is the injected random draw in `0 ..< 1` for the backoff.
  public static func decide(
    _ settlement: Settlement, attempts: Int, maxAttempts: Int, backoff: BackoffPolicy,
    jitter: Double
  ) -> Decision {
    func fail(_ message: String, permanent: Bool) -> Decision {
      let used = attempts + 1
      if permanent || used >= maxAttempts { return .dead(error: message) }
      return .requeue(
        delay: backoff.delay(afterAttempt: used, jitter: jitter), spendsAttempt: true,
        error: message)
    }
    switch settlement {
    case .outcome(.completed): return .complete
    case .outcome(.cancelled): return .cancel
    case .outcome(.retryable(let m)): return fail(m, permanent: false)
    case .outcome(.permanent(let m)): return fail(m, permanent: true)
    case .failed(let m): return fail(m, permanent: false)
    case .outcome(.snooze(let d)), .outcome(.rateLimited(let d)):
      return .requeue(delay: max(.zero, d), spendsAttempt: false, error: nil)
    case .interrupted(let m): return .requeue(delay: .zero, spendsAttempt: false, error: m)
    case .released: return .requeue(delay: .zero, spendsAttempt: false, error: nil)
    }
  }
}
