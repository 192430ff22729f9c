public import DroverCore
public import DroverStore
public import DroverWire

extension EnqueueRequest {
  /// The store's params for this request at time `now`: the one place enqueue defaults are
  /// resolved for every path (CLI, batch file, control socket, HTTP). A request without
  /// `max_attempts` gets its pool's (`config.pool(forType:)`), else 20; `delay` and `at` become
  /// `run_at`.
  ///
  /// `parents` are this request's `after` resolved against its batch
  /// (`EnqueueRequest.resolveParents`); nil takes the ids of `after` alone (a single request,
  /// whose refs can name nothing: resolve it as a batch of one to have them refused).
  /// `on_parent_failure` defaults to `cancel`.
  public func params(
    now: Timestamp, config: DroverConfig, parents: [JobParentRef]? = nil
  ) -> EnqueueParams {
    params(
      now: now, pool: config.pool(forType: type), maxPayload: config.store.maxPayload,
      parents: parents)
  }

  /// `params(now:config:)` with the job's pool (nil: no pool runs the type) already looked up.
  public func params(
    now: Timestamp, pool: PoolConfig?, maxPayload: Int = ConfigLimits.defaultMaxPayload,
    parents: [JobParentRef]? = nil
  ) -> EnqueueParams {
    params(
      now: now, defaultMaxAttempts: pool?.maxAttempts ?? 20, maxPayload: maxPayload,
      parents: parents)
  }

  /// `params(now:config:)` with the default attempt budget and payload limit already looked up.
  public func params(
    now: Timestamp, defaultMaxAttempts: Int, maxPayload: Int = ConfigLimits.defaultMaxPayload,
    parents: [JobParentRef]? = nil
  ) -> EnqueueParams {
    let runAt = at ?? delay.map { now.adding($0) } ?? now
    let resolved =
      parents
      ?? after.compactMap { p -> JobParentRef? in if case .id(let id) = p { .job(id) } else { nil }
      }
    return EnqueueParams(
      type: type, payload: payload.render(), priority: priority, runAt: runAt,
      maxAttempts: maxAttempts ?? defaultMaxAttempts, uniqueKey: uniqueKey, backoff: backoff,
      now: now, maxPayload: maxPayload, parents: resolved,
      onParentFailure: onParentFailure ?? .cancel, limitKey: limitKey, traceparent: traceparent)
  }
}
