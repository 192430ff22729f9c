import AsyncHTTPClient
public import DroverCore
public import DroverSupervisor
import DroverSystem
import DroverWire
public import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Exports each attempt of a job enqueued with a `traceparent` as spans of that trace, by
/// OTLP/HTTP with a JSON body, off the supervisor's loop: it reads the event stream (`started`
/// carries the trace context; the attempt's end event closes it) on a thread of its own and
/// posts a batch at most every second.
///
/// Per attempt, three spans, children of the enqueuer's span: `drover.job TYPE` (kind
/// consumer) from the job's due time to the attempt's end, and under it `queue` (due time to
/// hand-out) and `run` (hand-out to end), with the job's id, type, attempt, pool, worker and
/// outcome as attributes; a failed, dead or cancelled attempt has an error status. Jobs
/// without a trace context cost nothing: the event filter drops them on the loop's thread.
public final class TraceExporter: Sendable {
  let config: TracingConfig
  let events: EventBus
  let logger: Logger
  let client: HTTPClient
  /// Jobs whose attempt is open (their `started` carried a trace): the filter's only state.
  let open = OpenJobs()
  let state = Mutex<(subscription: EventSubscription?, stopped: Bool)>((nil, false))
  /// At most this many spans wait for the next post; more are dropped (and counted).
  static let capacity = 20_000

  public init(config: TracingConfig, events: EventBus, logger: Logger) {
    self.config = config
    self.events = events
    self.logger = logger
    var c = HTTPClient.Configuration()
    c.timeout = .init(connect: .seconds(5), read: .seconds(10))
    c.redirectConfiguration = .disallow
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
  }

  /// Subscribes and starts the export thread.
  public func start() {
    let open = self.open
    let sub = events.subscribe(capacity: 100_000) { e in
      switch e.kind {
      case .started(let id, _, _, _, _, _):
        guard e.traceparent != nil else { return false }
        open.ids.withLock { _ = $0.insert(id) }
        return true
      default:
        // An attempt's end: the one place that knows which events end one.
        guard let id = Self.jobID(e) else { return false }
        return open.ids.withLock { $0.remove(id) != nil }
      }
    }.subscription
    state.withLock { $0.subscription = sub }
    startThread { [self] in run(sub) }
  }

  /// Stops the thread after one last post. Harmless twice.
  public func stop() {
    let sub = state.withLock { s -> EventSubscription? in
      s.stopped = true
      return s.subscription
    }
    sub?.close()
  }

  /// An attempt between its `started` and its end.
  struct OpenAttempt {
    var trace: TraceParent
    var type: String
    var attempt: Int
    var pool: String
    var workerPID: Int32
    var runAt: Timestamp
    var startedAt: Timestamp
  }

  private func run(_ sub: EventSubscription) {
    var attempts: [JobID: OpenAttempt] = [:]
    var spans: [JSONValue] = []
    var dropped = 0
    var lastPost = Monotonic.nanoseconds()
    while true {
      let batch = sub.next(timeout: .milliseconds(250))
      for e in batch {
        switch e.kind {
        case .started(let id, let type, let attempt, let pool, let pid, let runAt):
          guard let t = e.traceparent.flatMap(TraceParent.init) else { continue }
          attempts[id] = OpenAttempt(
            trace: t, type: type, attempt: attempt, pool: pool, workerPID: pid, runAt: runAt,
            startedAt: e.at)
        default:
          guard let id = Self.jobID(e), let a = attempts.removeValue(forKey: id) else { continue }
          let made = Self.spans(for: a, id: id, end: e)
          if spans.count + made.count > Self.capacity {
            dropped += made.count
          } else {
            spans += made
          }
        }
      }
      let stopped = state.withLock { $0.stopped }
      let now = Monotonic.nanoseconds()
      if !spans.isEmpty && (now - lastPost >= 1_000_000_000 || stopped || spans.count >= 1000) {
        post(spans, dropped: dropped)
        spans.removeAll(keepingCapacity: true)
        dropped = 0
        lastPost = now
      }
      if stopped || sub.isClosed { break }
    }
    try? client.syncShutdown()
  }

  static func jobID(_ e: LifecycleEvent) -> JobID? {
    switch e.kind {
    case .completed(let id, _, _, _, _), .failed(let id, _, _, _, _, _, _),
      .dead(let id, _, _, _, _, _), .snoozed(let id, _, _), .cancelled(let id, _),
      .rescued(let id, _, _):
      id
    default: nil
    }
  }

  /// The attempt's three spans, in OTLP JSON.
  static func spans(for a: OpenAttempt, id: JobID, end e: LifecycleEvent) -> [JSONValue] {
    let (outcome, error): (String, String?) =
      switch e.kind {
      case .completed: ("completed", nil)
      case .failed(_, _, _, _, _, let m, _): ("failed", m)
      case .dead(_, _, _, _, _, let m): ("dead", m)
      case .snoozed: ("snoozed", nil)
      case .cancelled: ("cancelled", "cancelled")
      default: ("interrupted", "the supervisor stopped before the attempt ended")
      }
    let root = randomSpanID()
    let start = min(a.runAt, a.startedAt)
    let attrs: [JSONValue] = [
      attr("drover.job.id", int: id), attr("drover.job.type", a.type),
      attr("drover.job.attempt", int: Int64(a.attempt)), attr("drover.pool", a.pool),
      attr("drover.worker.pid", int: Int64(a.workerPID)), attr("drover.job.outcome", outcome),
    ]
    let status: JSONValue =
      error.map { ["code": 2, "message": .string($0)] } ?? ["code": 1]
    func span(
      _ name: String, _ spanID: String, parent: String, _ from: Timestamp, _ to: Timestamp,
      kind: Int, attributes: [JSONValue], status: JSONValue
    ) -> JSONValue {
      [
        "traceId": .string(a.trace.traceID), "spanId": .string(spanID),
        "parentSpanId": .string(parent), "name": .string(name), "kind": .int(Int64(kind)),
        "startTimeUnixNano": .string(String(from.micros * 1000)),
        "endTimeUnixNano": .string(String(max(from, to).micros * 1000)),
        "attributes": .array(attributes), "status": status,
      ]
    }
    return [
      span(
        "drover.job \(a.type)", root, parent: a.trace.parentID, start, e.at, kind: 5,
        attributes: attrs, status: status),
      span(
        "queue", randomSpanID(), parent: root, start, a.startedAt, kind: 1, attributes: [],
        status: ["code": 1]),
      span(
        "run", randomSpanID(), parent: root, a.startedAt, e.at, kind: 1, attributes: [],
        status: status),
    ]
  }

  static func attr(_ key: String, _ value: String) -> JSONValue {
    ["key": .string(key), "value": ["stringValue": .string(value)]]
  }

  static func attr(_ key: String, int value: Int64) -> JSONValue {
    // OTLP JSON writes 64-bit integers as strings.
    ["key": .string(key), "value": ["intValue": .string(String(value))]]
  }

  /// 16 random hex digits, not all zeros.
  static func randomSpanID() -> String {
    var n = UInt64.random(in: 1...UInt64.max)
    var s = ""
    for _ in 0..<16 {
      s.append(Character(String(n & 0xF, radix: 16)))
      n >>= 4
    }
    return s
  }

  /// One OTLP/HTTP post; a failure is logged and the batch dropped (tracing never holds jobs
  /// back).
  private func post(_ spans: [JSONValue], dropped: Int) {
    let body: JSONValue = [
      "resourceSpans": [
        [
          "resource": [
            "attributes": [Self.attr("service.name", config.serviceName)]
          ],
          "scopeSpans": [
            [
              "scope": ["name": "drover", "version": .string(DroverVersion.current)],
              "spans": .array(spans),
            ]
          ],
        ]
      ]
    ]
    if dropped > 0 {
      logger.warning("tracing: \(dropped) spans dropped (the exporter fell behind)")
    }
    do {
      var r = try HTTPClient.Request(url: config.endpoint, method: .POST)
      r.headers.add(name: "Content-Type", value: "application/json")
      r.headers.add(name: "User-Agent", value: "drover/\(DroverVersion.current)")
      r.body = .string(body.render())
      let response = try client.execute(request: r).wait()
      let code = Int(response.status.code)
      if !(200..<300).contains(code) {
        logger.warning(
          "tracing: \(config.endpoint) answered HTTP \(code); \(spans.count) spans lost")
      }
    } catch {
      logger.warning(
        "tracing: cannot post to \(config.endpoint): \(error); \(spans.count) spans lost")
    }
  }
}

/// The ids of jobs with an open traced attempt, shared by the event filter (the loop's
/// thread) and nobody else.
final class OpenJobs: Sendable {
  let ids = Mutex<Set<JobID>>([])
}
