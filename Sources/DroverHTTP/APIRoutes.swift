import DroverCore
import Hummingbird
import Synchronization

/// The API's routes and what they share: the supervisor link, the metrics, the limits.
struct APIRoutes: Sendable {
  let link: SupervisorLink
  let metrics: DroverMetrics
  let thresholds: HealthThresholds
  /// `store.max_payload`: each job's payload at most.
  let maxPayload: Int
  /// Each type's stuck threshold for `GET /stats?window=` (its pool's timeout, at start).
  var stuckAfterByType: [String: Duration] = [:]
  /// A body at most: eight payloads' worth plus room for the rest of the lines (the same
  /// 8 MiB + 64 KiB as a control-socket line at the default `max_payload`).
  var bodyLimit: Int { 8 * maxPayload + (64 << 10) }
  let factsCache = FactsCache()

  /// Every route as OpenAPI writes it (`/jobs/{id}`): registered from this table, and checked
  /// against `openapi.json` by a test, so the two cannot drift apart.
  static let table: [(method: HTTPRequest.Method, path: String)] = [
    (.post, "/jobs"), (.get, "/jobs"), (.get, "/jobs/{id}"), (.post, "/jobs/{id}/cancel"),
    (.post, "/jobs/{id}/retry"), (.post, "/dead/requeue"), (.get, "/stats"), (.get, "/pools"),
    (.post, "/pools/{name}/scale"), (.post, "/pools/{name}/drain"),
    (.post, "/pools/{name}/resume"), (.post, "/reload"), (.get, "/livez"), (.get, "/readyz"),
    (.get, "/health"), (.get, "/metrics"), (.get, "/openapi.json"), (.get, "/alerts"),
    (.post, "/alerts/{id}/ack"),
  ]

  func respond(
    _ method: HTTPRequest.Method, _ path: String, _ request: Request,
    _ context: BasicRequestContext
  ) async throws -> Response {
    switch (method, path) {
    case (.post, "/jobs"): return try await createJobs(request)
    case (.get, "/jobs"): return try await listJobs(request)
    case (.get, "/jobs/{id}"): return try await showJob(context)
    case (.post, "/jobs/{id}/cancel"): return try await cancelJob(request, context)
    case (.post, "/jobs/{id}/retry"): return try await retryJob(context)
    case (.post, "/dead/requeue"): return try await requeueDead(request)
    case (.get, "/stats"): return try await stats(request)
    case (.get, "/pools"): return try await pools()
    case (.post, "/pools/{name}/scale"): return try await scale(request, context)
    case (.post, "/pools/{name}/drain"): return try await quiet(true, context)
    case (.post, "/pools/{name}/resume"): return try await quiet(false, context)
    case (.post, "/reload"): return try await reload()
    case (.get, "/livez"): return livez()
    case (.get, "/readyz"): return readyz()
    case (.get, "/health"): return try await health()
    case (.get, "/metrics"): return try await metricsText()
    case (.get, "/alerts"): return try await listAlerts(request)
    case (.post, "/alerts/{id}/ack"): return try await ackAlert(request, context)
    case (.get, "/openapi.json"):
      return JSONResponse.text(OpenAPIDocument.json, contentType: "application/json")
    default: throw APIError(.internalServerError, "route \(path) has no handler")
    }
  }

  /// Registers every route of `table` on `router`.
  func register(on router: Router<BasicRequestContext>) {
    for (method, path) in Self.table {
      // OpenAPI's `{id}` is Hummingbird's `:id`.
      let hb = path.split(separator: "/").map { part in
        part.hasPrefix("{") ? ":" + part.dropFirst().dropLast() : part
      }.joined(separator: "/")
      let routes = self
      router.on(RouterPath("/" + hb), method: method) { request, context in
        try await routes.respond(method, path, request, context)
      }
    }
  }
}

/// The last pool facts read, with when (shared by the copies of `APIRoutes` the router holds).
final class FactsCache: Sendable {
  private let value = Mutex<(at: ContinuousClock.Instant, facts: PoolFacts)?>(nil)
  func get() -> (at: ContinuousClock.Instant, facts: PoolFacts)? { value.withLock { $0 } }
  func set(_ facts: PoolFacts) { value.withLock { $0 = (ContinuousClock.now, facts) } }
}
