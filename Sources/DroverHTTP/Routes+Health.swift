import DroverCore
import DroverStore
import DroverWire
import Hummingbird
import Synchronization

/// `/livez`, `/readyz`, `/health` and `/metrics`.
extension APIRoutes {
  /// The loop counts as turning while its housekeeping ran within this long (it runs every
  /// 100 ms; systemd's watchdog is fed from the same place).
  static let livenessLimit: Duration = .seconds(5)

  /// `GET /livez`: 200 while the loop turns (the watchdog's condition), else 503. Reads the
  /// loop's probe, so it answers even when the loop is stuck.
  func livez() -> Response {
    let since = link.probe.sinceLastTick
    let alive = since < Self.livenessLimit
    return JSONResponse.make(
      [
        "status": .string(alive ? "alive" : "stalled"),
        "since_last_tick_ms": .double(since.fractionalMilliseconds),
      ], status: alive ? .ok : .serviceUnavailable)
  }

  /// `GET /readyz`: 200 once every pool has its `min` workers (running, or quiet after a
  /// drain) and the store can be written; 503 while starting or stopping, or while the store
  /// is unreachable (`reason` says why: a load balancer should send work elsewhere).
  func readyz() -> Response {
    let state = link.probe.state
    let problem = link.probe.storeProblem
    let ready = [.running, .draining, .drained].contains(state) && problem == nil
    var fields = [
      JSONField("status", .string(ready ? "ready" : "not ready")),
      JSONField("state", .string(state.rawValue)),
    ]
    if let problem { fields.append(JSONField("reason", .string("store unwritable: \(problem)"))) }
    return JSONResponse.make(.object(fields), status: ready ? .ok : .serviceUnavailable)
  }

  /// `GET /health`: `{"status", "reasons"}`; 200 when healthy or degraded, 503 when unhealthy.
  func health() async throws -> Response {
    let report = try await healthReport()
    return JSONResponse.make(
      [
        "status": .string(report.status.rawValue),
        "reasons": .array(report.reasons.map { .string($0) }),
      ], status: report.status == .unhealthy ? .serviceUnavailable : .ok)
  }

  func healthReport() async throws -> HealthReport {
    let alive = link.probe.sinceLastTick < Self.livenessLimit
    guard alive else {
      // Asking the loop would wait on it: judge on what is known without it.
      return Health.evaluate(
        HealthInput(
          storeProblem: link.probe.storeProblem, loopAlive: false,
          state: link.probe.state.rawValue, pools: [],
          failedInWindow: 0, finishedInWindow: 0), thresholds: thresholds)
    }
    let s = try await status()
    // A store that cannot be read (the server is gone) is judged, not a failed request.
    var readProblem: String?
    let facts: PoolFacts
    do { facts = try await poolFacts(s) } catch {
      facts = PoolFacts()
      readProblem = "cannot read it: \((error as? APIError)?.message ?? "\(error)")"
    }
    let (failed, finished) = metrics.errorTotals()
    var input = HealthInput(
      storeProblem: s.storeProblem ?? readProblem, loopAlive: true, state: s.state,
      pools: s.pools.map { p in
        HealthInput.Pool(
          name: p.name, min: p.min,
          liveWorkers: p.workers.filter { $0.ready && !$0.retiring }.count,
          crashLooping: p.crashLooping, backlog: facts.backlog[p.name] ?? 0,
          oldestReady: facts.oldest[p.name])
      }, failedInWindow: failed, finishedInWindow: finished)
    input.sinceLastFinish = facts.sinceLastFinish
    return Health.evaluate(input, thresholds: thresholds)
  }

  /// Per pool: ready jobs and the oldest queued job's age, and job counts by type and state,
  /// from a read connection. The counts and backlog are O(types) counter reads, read fresh;
  /// the oldest-ready skip-scans (one per type) are cached for a second, so frequent scrapes
  /// and health checks cost the store little.
  func poolFacts(_ s: StatusSnapshot) async throws -> PoolFacts {
    let pools = s.pools.map { ($0.name, $0.types) }
    let cached = factsCache.get().flatMap {
      $0.at.duration(to: .now) < .seconds(1) ? $0.facts : nil
    }
    let facts = try await link.read { store throws(StoreError) -> PoolFacts in
      let now = Timestamp.now()
      let backlog = try store.backlog(now: now)
      var f = PoolFacts()
      for (name, types) in pools {
        f.backlog[name] = types.reduce(0) { $0 + (backlog[$1] ?? 0) }
        if let cached {
          f.oldestRunAt[name] = cached.oldestRunAt[name]
        } else if let oldest = try store.oldestReady(OldestReadyParams(types: types, now: now)) {
          f.oldestRunAt[name] = oldest
        }
      }
      f.counts = try store.counts()
      f.lastFinishedAt = try store.windowStats(
        WindowStatsParams(window: .seconds(60), now: now)
      ).lastFinishedAt
      return f
    }
    if cached == nil { factsCache.set(facts) }
    return facts
  }

  /// `GET /metrics`: Prometheus text format 0.0.4.
  func metricsText() async throws -> Response {
    let s = try await status()
    let facts = try await poolFacts(s)
    let text = metrics.render(status: s, counts: facts.counts, oldest: facts.oldest)
    return JSONResponse.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
  }
}

/// What `/health` and `/metrics` read from the store about pools.
struct PoolFacts: Sendable {
  var backlog: [String: Int] = [:]
  /// The `run_at` of each pool's oldest queued job (absent: none queued).
  var oldestRunAt: [String: Timestamp] = [:]
  var counts: [String: [JobState: Int]] = [:]
  /// When the newest attempt finished (the store's per-minute aggregates), nil: never.
  var lastFinishedAt: Timestamp?

  /// How long ago that was, nil when never.
  var sinceLastFinish: Duration? {
    lastFinishedAt.map { .microseconds(max(0, Timestamp.now().micros - $0.micros)) }
  }

  /// Each pool's oldest queued job's age now (a job due in the future counts as 0).
  var oldest: [String: Duration] {
    let now = Timestamp.now()
    return oldestRunAt.mapValues { .microseconds(max(0, now.micros - $0.micros)) }
  }
}
