public import DroverCore

/// An error a handler throws to say how its attempt should be settled.
///
/// Any other error a handler throws is a retryable failure with the error's description as
/// its text: the job runs again after backoff while attempts remain, then becomes `dead`.
/// Throw `JobError` (or return a `JobOutcome`) to say otherwise.
///
/// Not to be confused with `DroverCore.JobError`, the record of one failed attempt that
/// `jobs show` lists; code that imports both modules spells this one `DroverWorker.JobError`.
public enum JobError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Retrying cannot fix this (bad input, a refused request): the job becomes `dead` now.
  case permanent(String)
  /// An ordinary failure, stated explicitly: retried with backoff while attempts remain.
  case retryable(String)
  /// Not now: run again after this delay without spending an attempt. Each snooze counts
  /// against the pool's `max_snoozes`, so a job that always snoozes ends `dead`.
  case snooze(Duration)
  /// A downstream service said "too many requests, come back in `retryAfter`". No attempt is
  /// spent (being throttled is not the job's fault, and spending attempts would kill jobs
  /// during a long throttling spell). In a pool with `concurrency_limit` or `rate` the job
  /// waits in the store, keeping its place, and its key's bucket is pushed back: no job of
  /// the key starts before `retryAfter` has passed. In a pool without limits it is a snooze
  /// (counted against `max_snoozes`). The message is logged by the worker.
  case rateLimited(retryAfter: Duration, message: String = "rate limited")

  public var description: String {
    switch self {
    case .permanent(let m), .retryable(let m): m
    case .snooze(let d): "snoozed for \(DurationText.format(d))"
    case .rateLimited(let d, let m): "\(m) (retry after \(DurationText.format(d)))"
    }
  }

  /// The outcome this error settles as.
  public var outcome: JobOutcome {
    switch self {
    case .permanent(let m): .permanent(m)
    case .retryable(let m): .retryable(m)
    case .snooze(let d): .snooze(d)
    case .rateLimited(let d, _): .rateLimited(d)
    }
  }

  /// How any error thrown by a handler settles its attempt: a `JobError` as it says, a
  /// `CancellationError` (or any error) after a cancel as `.cancelled`, anything else as a
  /// retryable failure with the error's description.
  public static func outcome(for error: any Error, cancelled: Bool) -> JobOutcome {
    if let e = error as? JobError { return e.outcome }
    if cancelled { return .cancelled }
    return .retryable(String(describing: error))
  }
}
