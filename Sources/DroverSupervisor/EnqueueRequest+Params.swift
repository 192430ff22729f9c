public import DroverCore
public import DroverStore
public import DroverWire

extension EnqueueRequest {
  /// The store's params for this request at time `now`: the one place enqueue defaults are
  /// resolved for every path (CLI, batch file, control socket, HTTP). A request without
  /// `max_attempts` gets its pool's (`config.pool(forType:)`), else 20; `delay` and `at` become
  /// `run_at`.
  public func params(now: Timestamp, config: DroverConfig) -> EnqueueParams {
    params(now: now, pool: config.pool(forType: type), maxPayload: config.store.maxPayload)
  }

  /// `params(now:config:)` with the job's pool (nil: no pool runs the type) already looked up.
  public func params(
    now: Timestamp, pool: PoolConfig?, maxPayload: Int = ConfigLimits.defaultMaxPayload
  ) -> EnqueueParams {
    params(now: now, defaultMaxAttempts: pool?.maxAttempts ?? 20, maxPayload: maxPayload)
  }

  /// `params(now:config:)` with the default attempt budget and payload limit already looked up.
  public func params(
    now: Timestamp, defaultMaxAttempts: Int, maxPayload: Int = ConfigLimits.defaultMaxPayload
  ) -> EnqueueParams {
    let runAt = at ?? delay.map { now.adding($0) } ?? now
    return EnqueueParams(
      type: type, payload: payload.render(), priority: priority, runAt: runAt,
      maxAttempts: maxAttempts ?? defaultMaxAttempts, uniqueKey: uniqueKey, backoff: backoff,
      now: now, maxPayload: maxPayload)
  }
}
