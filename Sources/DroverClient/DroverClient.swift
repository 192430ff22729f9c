import Dispatch
public import DroverCore
import DroverSystem
public import DroverWire
import FoundationEssentials
import Instrumentation

/// Why an enqueue through `DroverClient` failed.
public enum DroverClientError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The control socket could not be used (no supervisor, timeout, closed connection).
  case connection(ControlChannelError)
  /// The supervisor refused the request, with its reason (a bad field, a payload too large,
  /// the store failing).
  case refused(String)
  /// The payload could not be encoded as a JSON object.
  case encoding(String)
  /// The supervisor answered with something that is not a reply to this request.
  case badReply(String)
  /// The awaited job ended `dead` or `cancelled` (`error`: its last error's text).
  case failed(id: JobID, state: String, error: String)
  /// The awaited job did not end in time.
  case timedOut(id: JobID, after: Duration)

  public var description: String {
    switch self {
    case .connection(let e): e.description
    case .refused(let m): "the supervisor refused the job: \(m)"
    case .encoding(let m): "the payload cannot be encoded: \(m)"
    case .badReply(let m): "unexpected reply from the supervisor: \(m)"
    case .failed(let id, let state, let error):
      "job \(id) ended \(state)" + (error.isEmpty ? "" : ": \(error)")
    case .timedOut(let id, let after): "job \(id) did not end within \(after)"
    }
  }
}

/// How to enqueue a job beyond its type and payload (CONTRACT.md `enqueue`).
public struct EnqueueOptions: Sendable, Hashable {
  /// Higher runs first; default 0.
  public var priority: Int
  /// Run no earlier than this long from now (at most 100 years).
  public var delay: Duration?
  /// The job's attempt budget; nil: the pool's `max_attempts`.
  public var maxAttempts: Int?
  /// An idempotency key: while a job with this key is live, enqueueing it again returns that
  /// job (`Enqueued.existed`) instead of a duplicate.
  public var uniqueKey: String?
  /// Existing jobs this one waits on: it is `waiting` until every one completed. (A graph of
  /// new jobs goes in with `enqueue(graph:)`: `EnqueueRequest`s carrying `ref` and `after`.)
  public var parents: [JobID]
  /// What a dead or cancelled parent does; nil: `cancel`.
  public var onParentFailure: ParentFailurePolicy?
  /// The key its pool's `concurrency_limit` and `rate` count it under, instead of the payload
  /// field the pool names.
  public var limitKey: String?
  /// A W3C trace context the job's attempts join (its handler sees it; with `[tracing]` the
  /// supervisor exports its attempts as spans of that trace).
  public var traceparent: String?

  public init(
    priority: Int = 0, delay: Duration? = nil, maxAttempts: Int? = nil, uniqueKey: String? = nil,
    parents: [JobID] = [], onParentFailure: ParentFailurePolicy? = nil, limitKey: String? = nil,
    traceparent: String? = nil
  ) {
    self.limitKey = limitKey
    self.traceparent = traceparent
    self.parents = parents
    self.onParentFailure = onParentFailure
    self.priority = priority
    self.delay = delay
    self.maxAttempts = maxAttempts
    self.uniqueKey = uniqueKey
  }
}

/// A committed enqueue: the enqueue is durable when this comes back.
public struct Enqueued: Sendable, Hashable {
  /// The job's id (the existing job's, when `existed`).
  public var id: JobID
  /// A live job with the same unique key existed; no new job was made.
  public var existed: Bool
  /// Set when no pool runs the type (the job waits until a reload adds one).
  public var warning: String?

  public init(id: JobID, existed: Bool = false, warning: String? = nil) {
    self.id = id
    self.existed = existed
    self.warning = warning
  }
}

/// Enqueues jobs over a running supervisor's control socket, from any async context.
///
/// ```swift
/// let drover = DroverClient(socketPath: "/run/drover/control.sock")
/// let job = try await drover.enqueue(SendEmail.self, .init(to: "a@b.c"))
/// ```
///
/// One connection, opened on first use and reopened after a failure; calls are served one at
/// a time, in order. The socket's blocking I/O runs on the client's own serial dispatch queue,
/// never on a thread of Swift's cooperative pool, so awaiting an enqueue does not hold a pool
/// thread. Each reply comes after the job's transaction is durable.
public final class DroverClient: Sendable {
  /// The control socket's path (`[control] socket` in the config).
  public let socketPath: String
  /// How long to wait for a connection and for each reply.
  public let timeout: Duration
  private let queue: DispatchQueue
  private let connection = Connection()

  /// A client of the supervisor listening at `socketPath`. Connects on first use.
  public init(socketPath: String, timeout: Duration = .seconds(30)) {
    self.socketPath = socketPath
    self.timeout = timeout
    queue = DispatchQueue(label: "drover.client")
  }

  /// Enqueues one job of type `type` with a JSON object payload.
  public func enqueue(
    type: String, payload: JSONValue = .object([]), options: EnqueueOptions = EnqueueOptions()
  ) async throws(DroverClientError) -> Enqueued {
    let replies = try await send([Self.request(type, payload, options)])
    return try replies[0].get()
  }

  /// Enqueues one typed job; its payload is encoded as JSON.
  public func enqueue<J: JobKind>(
    _ job: J.Type, _ payload: J.Payload, options: EnqueueOptions = EnqueueOptions()
  ) async throws(DroverClientError) -> Enqueued {
    try await enqueue(type: J.type, payload: try Self.encode(payload), options: options)
  }

  /// Enqueues many typed jobs pipelined on one connection (one round trip for the lot, not one
  /// per job). Each job is its own transaction: the result says, per job, in order, whether it
  /// was enqueued; a connection failure throws.
  public func enqueue<J: JobKind>(
    batch job: J.Type, _ payloads: [J.Payload], options: EnqueueOptions = EnqueueOptions()
  ) async throws(DroverClientError) -> [Result<Enqueued, DroverClientError>] {
    var requests: [ControlRequest] = []
    requests.reserveCapacity(payloads.count)
    for p in payloads { requests.append(Self.request(J.type, try Self.encode(p), options)) }
    return try await send(requests)
  }

  /// Enqueues requests of any types pipelined on one connection; see `enqueue(batch:_:)`.
  public func enqueue(batch requests: [EnqueueRequest]) async throws(DroverClientError)
    -> [Result<Enqueued, DroverClientError>]
  {
    try await send(requests.map { .enqueue($0) })
  }

  /// Enqueues `requests` as one batch, in one transaction (all or nothing): how a graph of new
  /// jobs goes in, their `after` naming each other's `ref` (or existing ids). Returns the ids
  /// in request order.
  ///
  /// - Throws: `.refused` naming the request at fault (an unknown ref or parent, a cycle, an
  ///   invalid job): nothing was enqueued.
  public func enqueue(graph requests: [EnqueueRequest]) async throws(DroverClientError)
    -> [Enqueued]
  {
    guard !requests.isEmpty else { return [] }
    let path = socketPath
    let timeout = timeout
    let connection = connection
    let result: Result<[JSONValue], ControlChannelError> = await withCheckedContinuation {
      done in
      queue.async {
        done.resume(returning: connection.pipeline([.enqueueBatch(requests)], path, timeout))
      }
    }
    guard case .success(let replies) = result, let reply = replies.first else {
      if case .failure(let e) = result { throw .connection(e) }
      throw .badReply("no reply")
    }
    guard reply["ok"]?.boolValue == true else {
      throw .refused(reply["error"]?.stringValue ?? reply.render())
    }
    let ids = reply["ids"]?.arrayValue?.compactMap(\.intValue) ?? []
    let existed = reply["existed"]?.arrayValue?.map { $0.boolValue ?? false } ?? []
    guard ids.count == requests.count else { throw .badReply(reply.render()) }
    return ids.indices.map {
      Enqueued(id: ids[$0], existed: $0 < existed.count ? existed[$0] : false)
    }
  }

  /// Waits for job `id` to end and returns its result: the JSON its handler set (nil when it
  /// set none). No polling: a subscription to the supervisor's event stream says when the
  /// job ends, and the job is read once before (it may be over already) and once after.
  ///
  /// - Throws: `.failed` when the job ended `dead` or `cancelled` (with its last error),
  ///   `.timedOut` after `timeout`, `.refused` for an unknown job, `.connection` without a
  ///   supervisor.
  public func result(of id: JobID, timeout: Duration = .seconds(60)) async throws(DroverClientError)
    -> JSONValue?
  {
    let path = socketPath
    let outcome: Result<JSONValue?, DroverClientError> = await withCheckedContinuation { done in
      DispatchQueue.global().async {
        done.resume(
          returning: Result { () throws(DroverClientError) in
            try Self.awaitResult(id, socket: path, timeout: timeout)
          })
      }
    }
    return try outcome.get()
  }

  /// `result(of:)` on a thread of its own: subscribe, read, wait for the job's final event.
  static func awaitResult(_ id: JobID, socket: String, timeout: Duration) throws(DroverClientError)
    -> JSONValue?
  {
    let deadline = ContinuousClock.now + timeout
    func channel() throws(DroverClientError) -> ControlChannel {
      do { return try ControlChannel(socketPath: socket, timeout: timeout) } catch {
        throw .connection(error)
      }
    }
    let stream = try channel()
    defer { stream.close() }
    do { _ = try stream.pipeline([.events(type: nil, replay: false)], timeout: timeout) } catch {
      throw .connection(error)
    }
    let reader = try channel()
    defer { reader.close() }
    if case .done(let r) = try Self.ended(id, reader, timeout) { return r }
    let finals: Set<String> = ["job_completed", "job_dead", "job_cancelled", "events_lost"]
    while true {
      let left = deadline - ContinuousClock.now
      guard left > .zero else { throw .timedOut(id: id, after: timeout) }
      let line: String?
      do { line = try stream.readLine(timeout: left) } catch {
        if case .timedOut = error { throw .timedOut(id: id, after: timeout) }
        throw .connection(error)
      }
      guard let line else { throw .connection(.closed) }
      guard let e = try? JSONValue.parse(line), let name = e["event"]?.stringValue,
        finals.contains(name), name == "events_lost" || e["id"]?.intValue == id
      else { continue }
      if case .done(let r) = try Self.ended(id, reader, timeout) { return r }
    }
  }

  /// Where an awaited job stands.
  enum Awaited {
    case pending
    /// Completed, with its result (nil: none set).
    case done(JSONValue?)
  }

  /// Reads the job once: its result when completed, an error when dead or cancelled.
  static func ended(_ id: JobID, _ reader: ControlChannel, _ timeout: Duration)
    throws(DroverClientError) -> Awaited
  {
    let reply: JSONValue
    do { reply = try reader.pipeline([.job(id)], timeout: timeout)[0] } catch {
      throw .connection(error)
    }
    guard reply["ok"]?.boolValue == true, let job = reply["job"] else {
      throw .refused(reply["error"]?.stringValue ?? reply.render())
    }
    switch job["state"]?.stringValue {
    case "completed":
      let r = job["result"]
      return .done(r == nil || r == .null ? nil : r)
    case "dead", "cancelled":
      let last = job["errors"]?.arrayValue?.last?["message"]?.stringValue ?? ""
      throw .failed(id: id, state: job["state"]?.stringValue ?? "", error: last)
    default: return .pending
    }
  }

  /// Closes the connection (the next call opens a new one).
  public func close() async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
      queue.async {
        self.connection.close()
        done.resume()
      }
    }
  }

  static func request(_ type: String, _ payload: JSONValue, _ o: EnqueueOptions)
    -> ControlRequest
  {
    var r = EnqueueRequest(
      type: type, payload: payload, priority: o.priority, delay: o.delay,
      maxAttempts: o.maxAttempts, uniqueKey: o.uniqueKey, after: o.parents.map { .id($0) },
      onParentFailure: o.onParentFailure)
    r.limitKey = o.limitKey
    r.traceparent = o.traceparent ?? currentTraceparent()
    return .enqueue(r)
  }

  static func encode<P: Encodable>(_ payload: P) throws(DroverClientError) -> JSONValue {
    let data: Data
    do { data = try JSONEncoder().encode(payload) } catch {
      throw .encoding(String(describing: error))
    }
    guard let value = try? JSONValue.parse(String(decoding: data, as: UTF8.self)),
      case .object = value
    else { throw .encoding("it must encode as a JSON object (a struct or a dictionary)") }
    return value
  }

  /// Runs the pipeline on the client's queue and parses each reply.
  private func send(_ requests: [ControlRequest]) async throws(DroverClientError)
    -> [Result<Enqueued, DroverClientError>]
  {
    let path = socketPath
    let timeout = timeout
    let connection = connection
    let result: Result<[JSONValue], ControlChannelError> = await withCheckedContinuation {
      done in
      queue.async { done.resume(returning: connection.pipeline(requests, path, timeout)) }
    }
    switch result {
    case .failure(let e): throw .connection(e)
    case .success(let replies): return replies.map(Self.parse)
    }
  }

  static func parse(_ reply: JSONValue) -> Result<Enqueued, DroverClientError> {
    guard reply["ok"]?.boolValue == true else {
      if let error = reply["error"]?.stringValue { return .failure(.refused(error)) }
      return .failure(.badReply(reply.render()))
    }
    guard let id = reply["id"]?.intValue else { return .failure(.badReply(reply.render())) }
    return .success(
      Enqueued(
        id: JobID(id), existed: reply["existed"]?.boolValue ?? false,
        warning: reply["warning"]?.stringValue))
  }

  /// The channel, touched only on the client's serial queue.
  private final class Connection: @unchecked Sendable {
    // @unchecked: `channel` is read and written only by blocks on DroverClient.queue, which
    // is serial.
    private var channel: ControlChannel?

    func pipeline(_ requests: [ControlRequest], _ path: String, _ timeout: Duration)
      -> Result<[JSONValue], ControlChannelError>
    {
      do throws(ControlChannelError) {
        if channel == nil { channel = try ControlChannel(socketPath: path, timeout: timeout) }
        return .success(try channel!.pipeline(requests, timeout: timeout))
      } catch {
        // A half-read pipeline leaves the stream out of step: start the next call afresh.
        close()
        return .failure(error)
      }
    }

    func close() {
      channel?.close()
      channel = nil
    }
  }
}

extension DroverClient {
  /// The current span's W3C trace context, as the bootstrapped instrument (swift-otel's, or
  /// any swift-distributed-tracing tracer) writes it into a carrier; nil outside a span or
  /// without an instrument.
  static func currentTraceparent() -> String? {
    guard let context = ServiceContext.current else { return nil }
    var carrier: [String: String] = [:]
    InstrumentationSystem.instrument.inject(context, into: &carrier, using: TraceHeaders())
    guard let t = carrier["traceparent"], TraceParent(t) != nil else { return nil }
    return t
  }

  /// Writes an instrument's propagation fields into a dictionary, by lower-case name.
  struct TraceHeaders: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
      carrier[key.lowercased()] = value
    }
  }
}
