public import DroverCore
public import DroverStore
public import DroverWire

extension EnqueueRequest {
  /// The store's params for this request at time `now`, with `defaultMaxAttempts` (the pool's)
  /// when the request names none.
  public func params(now: Timestamp, defaultMaxAttempts: Int) -> EnqueueParams {
    let runAt = at ?? delay.map { now.adding($0) } ?? now
    return EnqueueParams(
      type: type, payload: payload.render(), priority: priority, runAt: runAt,
      maxAttempts: maxAttempts ?? defaultMaxAttempts, uniqueKey: uniqueKey, backoff: backoff,
      now: now)
  }
}
