import DroverCore
import DroverStore
import DroverWire
import Hummingbird

/// The jobs list (filters, cursor pages) and the job page.
extension Dashboard {
  static let pageSize = 50
  /// The filter fields of the jobs page, in URL order.
  static let filterKeys = ["state", "type", "from", "to", "q"]

  /// The dashboard's filter fields (`state`, `type`, `from`, `to`, `q`) as the API's
  /// `ListParams`, through the API's own parser (same errors, same names of states).
  static func listParams(_ f: [String: String]) throws -> ListParams {
    var q: [String: String] = [:]
    if let s = f["state"], !s.isEmpty { q["state"] = s }
    if let t = f["type"], !t.isEmpty { q["type"] = t }
    if let t = f["from"], !t.isEmpty { q["created_after"] = t }
    if let t = f["to"], !t.isEmpty { q["created_before"] = t }
    var p = try APIRoutes.filter(q)
    if let text = f["q"], !text.isEmpty { p.payloadContains = text }
    return p
  }

  /// The filter fields given (non-empty), from a query or a form.
  static func filterFields(_ pairs: [(String, String)]) -> [(String, String)] {
    filterKeys.compactMap { k in
      pairs.first { $0.0 == k && !$0.1.isEmpty }.map { (k, $0.1) }
    }
  }

  static func describe(_ fields: [(String, String)]) -> String {
    fields.isEmpty
      ? "(no filter: every job)" : fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
  }

  func jobs(_ request: Request) async throws -> Response {
    let pairs = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
    let fields = Self.filterFields(pairs)
    var data: [String: Any] = [
      "filterFields": fields.map { ["key": $0.0, "value": $0.1] },
      "states": JobState.allCases.map { s in
        ["name": s.name, "selected": fields.contains { $0 == ("state", s.name) }] as [String: Any]
      },
    ]
    for (k, v) in fields { data[k] = v }
    var p: ListParams
    do {
      p = try Self.listParams(Dictionary(fields, uniquingKeysWith: { a, _ in a }))
      if let a = pairs.first(where: { $0.0 == "after" })?.1 {
        guard let id = JobID(a), id >= 1 else {
          throw APIError.badRequest(
            "must be a cursor from a previous page's next link", field: "after")
        }
        p.beforeID = id
      }
    } catch let e as APIError {
      data["error"] = (e.field.map { "\($0): " } ?? "") + e.message
      data["jobs"] = [[String: Any]]()
      return page(request, "jobs", title: "Jobs", data, status: .badRequest)
    }
    p.limit = Self.pageSize
    let params = p
    let jobs = try await link.read { store throws(StoreError) in try store.list(params) }
    let now = Timestamp.now()
    data["jobs"] = jobs.map { j -> [String: Any] in
      [
        "id": j.id, "type": j.type, "state": j.state.name, "attempts": j.attempts,
        "maxAttempts": j.maxAttempts, "createdAt": j.createdAt.rfc3339,
        "created": Self.ago(j.createdAt, now: now),
        "payload": j.payload.count > 200 ? String(j.payload.prefix(200)) + "…" : j.payload,
        "lastError": j.errors.last?.message ?? "",
      ]
    }
    if jobs.count == Self.pageSize, let last = jobs.last {
      data["next"] = Self.query(fields + [("after", String(last.id))])
    }
    // The first page's link (a query, possibly empty: a section needs a non-empty string).
    if p.beforeID != nil { data["first"] = fields.isEmpty ? "state=" : Self.query(fields) }
    return page(request, "jobs", title: "Jobs", data)
  }

  func job(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let id = try APIRoutes.jobID(context)
    let status = try? await api.status()
    let config = self.config
    let now = Timestamp.now()
    let found = try await link.read { store throws(StoreError) -> (Job, String)? in
      guard let job = try store.job(id) else { return nil }
      let facts = WhyFacts.gather(
        job, pool: config.pool(forType: job.type), pools: config.pools.map(\.name), store: store,
        now: now
      ) { name in
        guard let s = status, let p = s.pools.first(where: { $0.name == name }) else {
          return nil
        }
        return WhyFacts.SupervisorView(
          state: s.state, paused: p.paused, crashLooping: p.crashLooping,
          workers: p.workers.filter { $0.ready }.count, busy: p.workers.filter { $0.busy }.count)
      }
      return (job, JobExplanation.line(job, facts, now: now))
    }
    guard let (j, why) = found else {
      return page(
        request, "error", title: "No such job",
        ["status": "404", "message": "No job with id \(id)."], status: .notFound)
    }
    var data: [String: Any] = [
      "id": j.id, "type": j.type, "state": j.state.name, "priority": j.priority,
      "attempts": j.attempts, "maxAttempts": j.maxAttempts, "progress": j.progress,
      "payload": j.payload, "why": why, "createdAt": j.createdAt.rfc3339,
      "runAt": j.runAt.rfc3339,
      "errors": j.errors.map { e -> [String: Any] in
        [
          "attempt": e.attempt, "at": e.at.rfc3339, "message": e.message,
          "pid": e.workerPID.map { String($0) } ?? "",
        ]
      },
      "parents": j.parents.map { ["id": $0.id, "state": $0.state?.name ?? "pruned"] },
      "children": j.children.map { ["id": $0.id, "state": $0.state?.name ?? "pruned"] },
      "canCancel": !j.state.isFinal, "canRetry": j.state == .dead || j.state == .cancelled,
      "canRequeue": j.state == .dead,
    ]
    if let t = j.startedAt { data["startedAt"] = t.rfc3339 }
    if let t = j.finishedAt { data["finishedAt"] = t.rfc3339 }
    if let p = j.workerPID { data["workerPID"] = String(p) }
    if let k = j.uniqueKey { data["uniqueKey"] = k }
    if let k = j.limitKey { data["limitKey"] = k }
    if let r = j.result { data["result"] = r }
    return page(request, "job", title: "Job \(j.id)", data)
  }
}
