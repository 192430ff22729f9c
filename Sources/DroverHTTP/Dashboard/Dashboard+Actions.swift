import DroverCore
import DroverStore
import DroverWire
import Hummingbird

/// Cancel, retry and requeue — one job, the selected, or everything matching a filter (a
/// dry-run count and a confirmation first) — and the pool actions; each one audited.
extension Dashboard {
  /// Jobs changed by one confirmation of a filter action at most (as `POST /dead/requeue`'s
  /// default limit): a bigger set takes several, each counted again first.
  static let bulkCap = 10_000

  enum JobAction: String {
    case cancel, retry, requeue
  }

  static func action(_ context: BasicRequestContext) throws -> JobAction {
    guard let a = context.parameters.get("action").flatMap(JobAction.init(rawValue:)) else {
      throw APIError.notFound("no such action (cancel, retry or requeue)")
    }
    return a
  }

  /// One job: as the API's `POST /jobs/{id}/cancel`, `/retry`, and `/dead/requeue` by id.
  func perform(_ action: JobAction, _ id: JobID) async throws {
    switch action {
    case .cancel: _ = try await api.cancel(id)
    case .retry:
      _ = try await link.write { store throws(StoreError) in try store.retry(RetryParams(id: id)) }
    case .requeue:
      _ = try await link.write { store throws(StoreError) in
        try store.requeueDead(RequeueDeadParams(ids: [id]))
      }
    }
  }

  func jobAction(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let (who, fields) = try await form(request)
    let id = try APIRoutes.jobID(context)
    let action = try Self.action(context)
    try await perform(action, id)
    try await audit(who, action.rawValue, "job \(id)", 1)
    return Self.redirect(fields.first { $0.0 == "back" }?.1, done: action.rawValue, n: 1)
  }

  /// The ids a filter matches, newest first, up to `cap` (pages of 1000 down the cursor; no
  /// COUNT(*)); for requeue only the dead ones.
  func matching(_ filter: ListParams, cap: Int) async throws -> [JobID] {
    var ids: [JobID] = []
    var before: JobID? = nil
    while ids.count < cap {
      var p = filter
      p.limit = min(1000, cap - ids.count)
      p.beforeID = before
      let params = p
      let page = try await link.read { store throws(StoreError) in try store.list(params).map(\.id)
      }
      ids += page
      if page.count < params.limit { break }
      before = page.last
    }
    return ids
  }

  func bulkAction(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let (who, fields) = try await form(request)
    let action = try Self.action(context)
    let back = fields.first { $0.0 == "back" }?.1
    if fields.contains(where: { $0 == ("scope", "filter") }) {
      let filterFields = Self.filterFields(fields)
      var filter: ListParams
      do {
        filter = try Self.listParams(Dictionary(filterFields, uniquingKeysWith: { a, _ in a }))
      } catch let e as APIError {
        throw APIError(.badRequest, (e.field.map { "\($0): " } ?? "") + e.message, field: e.field)
      }
      if action == .requeue { filter.state = .dead }
      let text = Self.describe(filterFields)
      guard fields.contains(where: { $0 == ("confirm", "yes") }) else {
        // The dry run: count what would change, change nothing, ask.
        let n = try await matching(filter, cap: Self.bulkCap + 1).count
        return page(
          request, "confirm", title: "Confirm \(action.rawValue)",
          [
            "action": action.rawValue, "count": min(n, Self.bulkCap), "capped": n > Self.bulkCap,
            "cap": Self.bulkCap, "filterText": text, "backTo": back ?? "/ui/jobs",
            "filterFields": filterFields.map { ["key": $0.0, "value": $0.1] },
          ])
      }
      var done = 0
      if action == .requeue {
        done = try await api.requeueDead(filter, limit: Self.bulkCap)
      } else {
        for id in try await matching(filter, cap: Self.bulkCap) {
          // A job that moved on since the count (finished, retried elsewhere) is skipped.
          do { try await perform(action, id) } catch is APIError { continue }
          done += 1
        }
      }
      try await audit(who, action.rawValue, "filter " + text, done)
      return Self.redirect(back, done: action.rawValue, n: done)
    }
    let ids = fields.filter { $0.0 == "id" }.compactMap { JobID($0.1) }.filter { $0 >= 1 }
    guard !ids.isEmpty else { throw APIError.badRequest("select at least one job", field: "id") }
    guard ids.count <= Self.bulkCap else {
      throw APIError.badRequest("at most \(Self.bulkCap) jobs at once", field: "id")
    }
    var done = 0
    for id in ids {
      do { try await perform(action, id) } catch is APIError { continue }
      done += 1
    }
    let shown = ids.prefix(20).map(String.init).joined(separator: ",")
    try await audit(
      who, action.rawValue, "jobs " + shown + (ids.count > 20 ? ",…" : ""), done)
    return Self.redirect(back, done: action.rawValue, n: done)
  }

  func poolAction(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let (who, fields) = try await form(request)
    let name = try APIRoutes.poolName(context)
    let back = fields.first { $0.0 == "back" }?.1
    switch context.parameters.get("action") {
    case "scale":
      let w = fields.first { $0.0 == "workers" }?.1.trimmingSpaces ?? ""
      let target: ScaleTarget
      if w == "auto" {
        target = .auto
      } else if let n = Int(w), n >= 0 {
        target = .count(n)
      } else {
        throw APIError.invalid("must be a whole number ≥ 0 or \"auto\"", field: "workers")
      }
      let (_, t, auto) = try await api.scale(name, target)
      try await audit(who, "scale", "pool \(name) to \(auto ? "auto" : String(t))", t)
      return Self.redirect(back, done: "scale", n: t)
    case let a? where a == "drain" || a == "resume":
      _ = try await api.quiet(a == "drain", pool: name)
      try await audit(who, a, "pool \(name)", 0)
      return Self.redirect(back, done: a, n: nil)
    default: throw APIError.notFound("no such pool action (scale, drain or resume)")
    }
  }
}

extension String {
  var trimmingSpaces: String {
    String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
  }
}
