import DroverCore
import DroverStore
import DroverWire
import Hummingbird

/// `/stats`, `/pools`, pool actions and reload.
extension APIRoutes {
  /// `GET /stats`: as `jobs stats --json`, from the store's counters (works while the loop is
  /// busy). With `window` (and `stuck_after`), as `jobs stats --window --json`.
  func stats(_ request: Request) async throws -> Response {
    let q = try RequestInput.query(request, known: ["window", "stuck_after"])
    guard let w = q["window"] else {
      if q["stuck_after"] != nil {
        throw APIError.badRequest("needs window", field: "stuck_after")
      }
      let s = try await link.read { store throws(StoreError) in try store.stats() }
      return JSONResponse.make(JobJSON.stats(s))
    }
    func duration(_ key: String, _ text: String) throws -> Duration {
      guard let d = DurationText.parse(text), d > .zero else {
        throw APIError.badRequest(
          "must be a positive duration such as 15m, 1h or 7d, got \"\(text)\"", field: key)
      }
      return d
    }
    var p = WindowStatsParams(window: try duration("window", w), now: .now())
    if let s = q["stuck_after"] {
      p.stuckAfter = try duration("stuck_after", s)
    } else {
      p.stuckAfterByType = stuckAfterByType
    }
    let params = p
    let s = try await link.read { store throws(StoreError) in try store.windowStats(params) }
    return JSONResponse.make(JobJSON.windowStats(s, window: params.window))
  }

  /// The loop's status snapshot (each worker's RSS and CPU time as the loop last read them).
  func status() async throws -> StatusSnapshot {
    guard case .status(let s) = await link.ask(.status) else {
      throw APIError(.internalServerError, "no status from the supervisor")
    }
    return s
  }

  /// `GET /pools`: `ctl status`'s pools, workers with pid, busy, current job, RSS, CPU seconds,
  /// jobs done.
  func pools() async throws -> Response {
    let s = try await status()
    return JSONResponse.make(["pools": .array(s.pools.map(\.json))])
  }

  /// `POST /pools/{name}/scale` with `{"workers": N|"auto"}`.
  func scale(_ request: Request, _ context: some RequestContext) async throws -> Response {
    let name = try Self.poolName(context)
    let body = try await RequestInput.object(request, limit: 64 << 10)
    for f in body.objectValue! where f.key != "workers" {
      throw APIError.invalid("unknown key (only \"workers\")", field: f.key)
    }
    let target: ScaleTarget
    switch body["workers"] {
    case .string("auto")?: target = .auto
    case let w? where w.intValue != nil:
      guard let n = Int(exactly: w.intValue!), n >= 0 else {
        throw APIError.invalid("must be a whole number ≥ 0 or \"auto\"", field: "workers")
      }
      target = .count(n)
    case nil: throw APIError.invalid("missing: a whole number or \"auto\"", field: "workers")
    default: throw APIError.invalid("must be a whole number or \"auto\"", field: "workers")
    }
    let (pool, t, auto) = try await scale(name, target)
    return JSONResponse.make(["pool": .string(pool), "target": .int(Int64(t)), "auto": .bool(auto)])
  }

  /// Scales one pool on the loop (the API's and the dashboard's one path): its name, target
  /// and whether autoscaling.
  func scale(_ name: String, _ target: ScaleTarget) async throws -> (String, Int, Bool) {
    switch await link.ask(.scale(pool: name, target: target)) {
    case .scaled(let pool, let t, let auto): return (pool, t, auto)
    case .failure(let m):
      if m.hasPrefix("no pool named") { throw APIError.notFound(m) }
      throw APIError.invalid(m, field: "workers")
    default: throw APIError(.internalServerError, "unexpected reply")
    }
  }

  /// `POST /pools/{name}/drain` and `/resume`.
  func quiet(_ drain: Bool, _ context: some RequestContext) async throws -> Response {
    let names = try await quiet(drain, pool: try Self.poolName(context))
    return JSONResponse.make(["pools": .array(names.map { .string($0) })])
  }

  /// Drains or resumes one pool on the loop; the pools it names.
  func quiet(_ drain: Bool, pool name: String) async throws -> [String] {
    switch await link.ask(drain ? .drain(pool: name) : .resume(pool: name)) {
    case .pools(let names): return names
    case .failure(let m): throw APIError.notFound(m)
    default: throw APIError(.internalServerError, "unexpected reply")
    }
  }

  /// `POST /reload`: re-read the config file; a bad one is refused (422) and the old one stays.
  func reload() async throws -> Response {
    switch await link.ask(.reload) {
    case .done: return JSONResponse.make(["reloaded": true])
    case .failure(let m): throw APIError.invalid(m)
    default: throw APIError(.internalServerError, "unexpected reply")
    }
  }

  static func poolName(_ context: some RequestContext) throws -> String {
    guard let s = context.parameters.get("name"), !s.isEmpty else {
      throw APIError.badRequest("missing pool name", field: "name")
    }
    return s
  }
}
