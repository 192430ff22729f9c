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
  /// drain), 503 while starting or stopping.
  func readyz() -> Response {
    let state = link.probe.state
    let ready = [.running, .draining, .drained].contains(state)
    return JSONResponse.make(
      ["status": .string(ready ? "ready" : "not ready"), "state": .string(state.rawValue)],
      status: ready ? .ok : .serviceUnavailable)
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
          storeProblem: nil, loopAlive: false, state: link.probe.state.rawValue, pools: [],
          failedInWindow: 0, finishedInWindow: 0), thresholds: thresholds)
    }
    let s = try await status()
    let facts = try await poolFacts(s)
    let (failed, finished) = metrics.errorTotals()
    let input = HealthInput(
      storeProblem: s.storeProblem, loopAlive: true, state: s.state,
      pools: s.pools.map { p in
        HealthInput.Pool(
          name: p.name, min: p.min,
          liveWorkers: p.workers.filter { $0.ready && !$0.retiring }.count,
          crashLooping: p.crashLooping, backlog: facts.backlog[p.name] ?? 0,
          oldestReady: facts.oldest[p.name])
      }, failedInWindow: failed, finishedInWindow: finished)
    return Health.evaluate(input, thresholds: thresholds)
  }

  /// Per pool: ready jobs and the oldest queued job's age, from a read connection, cached
  /// for a second (scrapes and health checks may come often; the reads are O(types) and one
  /// skip-scan of the ready index per type).
  func poolFacts(_ s: StatusSnapshot) async throws -> PoolFacts {
    if let cached = factsCache.get(), cached.at.duration(to: .now) < .seconds(1) {
      return cached.facts
    }
    let pools = s.pools.map { ($0.name, $0.types) }
    let facts = try await link.read { store throws(StoreError) -> PoolFacts in
      let now = Timestamp.now()
      let backlog = try store.backlog(now: now)
      var f = PoolFacts()
      for (name, types) in pools {
        f.backlog[name] = types.reduce(0) { $0 + (backlog[$1] ?? 0) }
        if let oldest = try store.oldestReady(types: types), oldest <= now {
          f.oldest[name] = .microseconds(now.micros - oldest.micros)
        }
      }
      f.counts = try store.counts()
      return f
    }
    factsCache.set(facts)
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
  var oldest: [String: Duration] = [:]
  var counts: [String: [JobState: Int]] = [:]
}
