/// What a handler's attempt came to, as the worker reports it.
public enum JobOutcome: Sendable, Hashable {
  /// Done; the job becomes `completed` with progress 100.
  case completed
  /// Failed; retried with backoff while attempts remain, else `dead`.
  case retryable(String)
  /// Failed in a way retrying cannot fix: `dead` at once.
  case permanent(String)
  /// Not now: run again after this delay without spending an attempt.
  case snooze(Duration)
  /// Stopped because a cancel was asked: `cancelled`.
  case cancelled
  /// A downstream service said "too many requests, come back after this delay". In a pool
  /// with limits the job goes back to `queued`, held, keeping its place, and its key's bucket
  /// is pushed back by the delay (no job of the key starts before then); elsewhere it is a
  /// snooze. No attempt is spent either way.
  case rateLimited(Duration)
}

/// How the supervisor settles a job that left a worker, the store's input for one finish.
public enum Settlement: Sendable, Hashable {
  /// The handler's own outcome.
  case outcome(JobOutcome)
  /// The attempt failed from outside the handler (worker died, timed out): it spends an
  /// attempt and follows the retry rules, with this message as its error.
  case failed(String)
  /// The attempt was interrupted by the supervisor itself (drain timeout, supervisor death):
  /// the error is kept, the attempt is not counted, the job goes back to `queued`.
  case interrupted(String)
  /// The job was handed to a worker but never started there (prefetched, then given back on
  /// drain, scale-down or the worker's death): back to `queued`, no error, no attempt.
  case released

  /// Whether this is the handler's own snooze (which the store counts in the job's
  /// `snoozes`).
  public var isSnooze: Bool {
    if case .outcome(.snooze) = self { return true }
    return false
  }
}
