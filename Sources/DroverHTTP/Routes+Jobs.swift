import DroverCore
import DroverStore
import DroverSupervisor
import DroverWire
import Hummingbird

/// `/jobs` and `/dead`: create, list, show, cancel, retry, requeue.
extension APIRoutes {
  /// The largest batch one `POST /jobs` takes (jobs); more is a 413.
  static let maxBatchJobs = 10_000

  /// `POST /jobs`: one batch line (a JSON object), an array of them, or NDJSON; all or nothing,
  /// in one group commit of the supervisor; 201 once durable.
  func createJobs(_ request: Request) async throws -> Response {
    let (text, type) = try await RequestInput.body(
      request, limit: bodyLimit,
      types: ["application/json", "application/x-ndjson", "application/jsonl"])
    var values: [(JSONValue, String)] = []  // (value, where: for messages)
    var single = false
    if type == "application/json" {
      let v = try RequestInput.json(text)
      if let items = v.arrayValue {
        guard !items.isEmpty else { throw APIError.invalid("the array is empty", field: "jobs") }
        values = items.enumerated().map { ($1, "jobs[\($0)]") }
      } else {
        single = true
        values = [(v, "")]
      }
    } else {
      var n = 0
      for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        n += 1
        let l = line.last == "\r" ? line.dropLast() : line
        if l.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
        values.append((try RequestInput.json(String(l), line: n), "line \(n)"))
      }
      guard !values.isEmpty else { throw APIError.invalid("no job lines", field: "jobs") }
    }
    guard values.count <= Self.maxBatchJobs else {
      throw APIError(
        .contentTooLarge, "at most \(Self.maxBatchJobs) jobs per request, got \(values.count)",
        field: "jobs")
    }
    var requests: [EnqueueRequest] = []
    requests.reserveCapacity(values.count)
    let now = Timestamp.now()
    // A `traceparent` header is the trace of every job of the request that names none.
    let header = request.headers.first { $0.name.canonicalName == "traceparent" }?.value
    if let header, TraceParent(header) == nil {
      throw APIError.invalid("the traceparent header: " + TraceParent.problem, field: "traceparent")
    }
    for (v, place) in values {
      let prefix = place.isEmpty ? "" : place + ": "
      var r: EnqueueRequest
      do {
        r = try EnqueueRequest.parse(v)
      } catch {
        throw APIError.invalid(prefix + error.message, field: error.field)
      }
      if r.traceparent == nil { r.traceparent = header }
      // The loop checks again (its config may have been reloaded); this gives the field.
      let p = r.params(now: now, defaultMaxAttempts: 20, maxPayload: maxPayload)
      do throws(StoreError) { try p.validate(maxPayload: maxPayload) } catch {
        throw APIError(.contentTooLarge, prefix + error.description, field: "payload")
      }
      requests.append(r)
    }
    // Refs name jobs of this request (before or after); the loop resolves them again.
    do {
      _ = try EnqueueRequest.resolveParents(
        requests, label: { single ? "the job" : values[$0].1 })
    } catch {
      throw APIError.invalid(error.message, field: error.field)
    }
    let reply = await link.ask(single ? .enqueue(requests[0]) : .enqueueBatch(requests))
    let ids: [JobID]
    var existed = false
    switch reply {
    case .enqueued(let id, let e, _):
      ids = [id]
      existed = e
    case .enqueuedBatch(let i, _): ids = i
    case .failure(let m):
      // Refused at the loop: its store failed (nothing was committed) or the input changed
      // meaning under a reloaded config.
      throw APIError(m.contains("not enqueued") ? .serviceUnavailable : .unprocessableContent, m)
    default: throw APIError(.internalServerError, "unexpected reply")
    }
    let jobs = try await link.read { store throws(StoreError) in
      var out: [Job?] = []
      for id in ids { out.append(try store.job(id)) }
      return out
    }
    let shown: [JSONValue] = zip(ids, jobs).map { id, j in
      j.map(JobJSON.job) ?? ["id": .int(id)]  // pruned or cancelled and gone already: the id
    }
    if single { return JSONResponse.make(shown[0], status: existed ? .ok : .created) }
    return JSONResponse.make(["jobs": .array(shown)], status: .created)
  }

  /// `GET /jobs`: newest first, filtered, keyset-paginated (`after` = the previous `next`).
  func listJobs(_ request: Request) async throws -> Response {
    let q = try RequestInput.query(
      request,
      known: [
        "state", "type", "priority_min", "priority_max", "created_after", "created_before",
        "finished_after", "finished_before", "after", "limit",
      ], payloadPrefix: true)
    var p = try Self.filter(q)
    p.limit = try RequestInput.int(q, "limit", in: 1...1000) ?? 100
    if let s = q["after"] {
      guard let id = JobID(s), id >= 1 else {
        throw APIError.badRequest(
          "must be a cursor from a previous page's \"next\"", field: "after")
      }
      p.beforeID = id
    }
    let params = p
    let jobs = try await link.read { store throws(StoreError) in try store.list(params) }
    let next: JSONValue = jobs.count == params.limit ? .string(String(jobs.last!.id)) : .null
    return JSONResponse.make(["jobs": .array(jobs.map(JobJSON.job)), "next": next])
  }

  /// The filters `GET /jobs` and `POST /dead/requeue` share, from query-shaped strings.
  static func filter(_ q: [String: String]) throws -> ListParams {
    var p = ListParams()
    if let s = q["state"] {
      guard let st = JobState(name: s) else {
        throw APIError.badRequest(
          "must be one of " + JobState.allCases.map(\.name).joined(separator: ", "),
          field: "state")
      }
      p.state = st
    }
    if let t = q["type"] {
      guard !t.isEmpty else { throw APIError.badRequest("must not be empty", field: "type") }
      p.type = t
    }
    p.priorityMin = try RequestInput.int(q, "priority_min", in: ConfigLimits.priority)
    p.priorityMax = try RequestInput.int(q, "priority_max", in: ConfigLimits.priority)
    p.createdFrom = try RequestInput.time(q, "created_after")
    p.createdTo = try RequestInput.time(q, "created_before")
    p.finishedFrom = try RequestInput.time(q, "finished_after")
    p.finishedTo = try RequestInput.time(q, "finished_before")
    let payloadKeys = q.keys.filter { $0.hasPrefix("payload.") }
    if payloadKeys.count > 1 {
      throw APIError.badRequest("one payload field match at most", field: payloadKeys.sorted()[1])
    }
    if let key = payloadKeys.first {
      let path = key.dropFirst("payload.".count)
      guard !path.isEmpty,
        path.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ part in
          !part.isEmpty
            && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        })
      else {
        throw APIError.badRequest(
          "a payload field is payload.NAME[.NAME…] of letters, digits and _", field: key)
      }
      // A JSON literal (42, true, "x") matches as itself; any other text as a string.
      let raw = q[key]!
      let value = (try? JSONValue.parse(raw)) ?? .string(raw)
      p.payloadMatch = ListParams.PayloadMatch(path: "$." + path, json: value.render())
    }
    return p
  }

  /// `GET /jobs/{id}`.
  func showJob(_ context: some RequestContext) async throws -> Response {
    let id = try Self.jobID(context)
    guard let job = try await link.read({ store throws(StoreError) in try store.job(id) }) else {
      throw APIError.notFound("no job with id \(id)")
    }
    return JSONResponse.make(JobJSON.job(job))
  }

  /// `POST /jobs/{id}/cancel`: queued and scheduled jobs at once, running ones on request.
  /// `?cascade=true` also cancels every job waiting on it, down the whole waiting subtree.
  func cancelJob(_ request: Request, _ context: some RequestContext) async throws -> Response {
    let id = try Self.jobID(context)
    let q = try RequestInput.query(request, known: ["cascade"])
    let cascade = try RequestInput.flag(q, "cascade")
    let (result, job) = try await cancel(id, cascade: cascade)
    var v = job.map(JobJSON.job) ?? ["id": .int(id)]
    if case .object(var f) = v {
      f.append(JSONField("cancel", .string(result == .cancelled ? "cancelled" : "requested")))
      v = .object(f)
    }
    return JSONResponse.make(v)
  }

  /// Cancels one job (the API's and the dashboard's one path), announcing a cancellation
  /// once it is durable.
  func cancel(_ id: JobID, cascade: Bool = false) async throws -> (CancelResult, Job?) {
    let (result, job) = try await link.write { store throws(StoreError) in
      let r = try store.cancel(CancelParams(id: id, cascade: cascade))
      return (r, try store.job(id))
    }
    if result == .cancelled, let job {
      // Durable now: announce it as the loop announces its own (metrics, `drover events`).
      link.events.publish([LifecycleEvent(at: .now(), .cancelled(id: id, type: job.type))])
    }
    return (result, job)
  }

  /// `POST /jobs/{id}/retry`: a dead or cancelled job back to queued.
  func retryJob(_ context: some RequestContext) async throws -> Response {
    let id = try Self.jobID(context)
    let job = try await link.write { store throws(StoreError) in
      try store.retry(RetryParams(id: id))
    }
    return JSONResponse.make(JobJSON.job(job))
  }

  /// `POST /dead/requeue`: `{"ids": [...]}` (all or nothing), `{"all": true}`, or a filter
  /// (`type`, `priority_min`, … as `GET /jobs`, at most `limit` jobs, default 10000), requeued
  /// in transactions of at most 1000 jobs so no one write holds the store long.
  func requeueDead(_ request: Request) async throws -> Response {
    let body = try await RequestInput.object(request, limit: bodyLimit)
    let fields = body.objectValue!
    if let ids = body["ids"] {
      guard fields.count == 1 else {
        throw APIError.invalid("give \"ids\" alone, or a filter", field: "ids")
      }
      guard let list = ids.arrayValue, !list.isEmpty, list.count <= 10_000,
        let parsed = Optional(list.compactMap { $0.intValue }), parsed.count == list.count,
        parsed.allSatisfy({ $0 >= 1 })
      else {
        throw APIError.invalid("must be an array of 1 to 10000 job ids", field: "ids")
      }
      let n = try await link.write { store throws(StoreError) in
        try store.requeueDead(RequeueDeadParams(ids: parsed))
      }
      return JSONResponse.make(["requeued": .int(Int64(n))])
    }
    if let all = body["all"] {
      guard all == .bool(true), fields.count == 1 else {
        throw APIError.invalid("must be true, and alone", field: "all")
      }
      let n = try await link.write { store throws(StoreError) in
        try store.requeueDead(RequeueDeadParams())
      }
      return JSONResponse.make(["requeued": .int(Int64(n))])
    }
    var q: [String: String] = [:]
    let known: Set<String> = [
      "type", "priority_min", "priority_max", "created_after", "created_before",
      "finished_after", "finished_before", "limit",
    ]
    for f in fields {
      guard known.contains(f.key) || f.key.hasPrefix("payload.") else {
        throw APIError.invalid(
          "unknown key (give \"ids\", \"all\", or filters: \(known.sorted().joined(separator: ", ")))",
          field: f.key)
      }
      switch f.value {
      case .string(let s): q[f.key] = s
      case .int(let n): q[f.key] = String(n)
      default:
        if f.key.hasPrefix("payload.") {
          q[f.key] = f.value.render()
        } else {
          throw APIError.invalid("must be a string or an integer", field: f.key)
        }
      }
    }
    guard !q.isEmpty else {
      throw APIError.invalid("give \"ids\", \"all\": true, or a filter", field: "ids")
    }
    var filter: ListParams
    do { filter = try Self.filter(q) } catch var e as APIError {
      e.status = .unprocessableContent
      throw e
    }
    let limit = try RequestInput.int(q, "limit", in: 1...1_000_000) ?? 10_000
    filter.state = .dead
    return JSONResponse.make(["requeued": .int(Int64(try await requeueDead(filter, limit: limit)))])
  }

  /// Requeues the dead jobs matching `filter` (its state is taken as dead), at most `limit`,
  /// in transactions of at most 1000 jobs; returns how many were requeued.
  func requeueDead(_ filter: ListParams, limit: Int) async throws -> Int {
    var filter = filter
    filter.state = .dead
    var total = 0
    var before: JobID? = nil
    while total < limit {
      var page = filter
      page.limit = min(1000, limit - total)
      page.beforeID = before
      let params = page
      let ids = try await link.read { store throws(StoreError) in
        try store.list(params).map(\.id)
      }
      guard !ids.isEmpty else { break }
      let batch = ids
      total += try await link.write { store throws(StoreError) in
        // Without ids a taken unique key would keep a job dead; with ids the call is all or
        // nothing, so jobs that left the dead set meanwhile are dropped first.
        var still: [JobID] = []
        for id in batch where try store.job(id)?.state == .dead { still.append(id) }
        return still.isEmpty ? 0 : try store.requeueDead(RequeueDeadParams(ids: still))
      }
      if ids.count < params.limit { break }
      before = ids.last
    }
    return total
  }

  static func jobID(_ context: some RequestContext) throws -> JobID {
    guard let s = context.parameters.get("id"), let id = JobID(s), id >= 1 else {
      throw APIError.badRequest("a job id is a positive integer", field: "id")
    }
    return id
  }
}
