import DroverCore
import DroverSchedule
import DroverStore
import Hummingbird

/// Schedules (next fires in their zones, DST marks; pause, resume, trigger as `drover
/// schedules`) and limits with the keys holding them.
extension Dashboard {
  /// One limited pool's key as the limits table shows it.
  struct LimitRow: Sendable {
    var pool: String
    var rules: String
    var key: String
    var holders: String
    var held: Int
  }

  static func whenText(_ s: ScheduleConfig) -> String {
    switch s.when {
    case .cron(let c): "cron \(c.description)"
    case .every(let d): "every \(DurationText.format(d))"
    }
  }

  func schedules(_ request: Request) async throws -> Response {
    let config = self.config
    let now = Timestamp.now()
    let (paused, last, limits) = try await link.read {
      store throws(StoreError) -> (Set<String>, [String: LastSlot], [LimitRow]) in
      let running = try store.list(ListParams(state: .running, limit: 1000))
      var rows: [LimitRow] = []
      for pool in config.pools {
        guard let l = pool.limits else { continue }
        var rules: [String] = []
        if let c = l.concurrency { rules.append("concurrency \(c)") }
        if let r = l.rate {
          rules.append("rate \(r.limit) per \(DurationText.format(r.per)) (burst \(r.burst))")
        }
        // Holders: the keys of this pool's running jobs, each with its jobs and held count.
        var byKey: [String: [JobID]] = [:]
        for j in running where pool.types.contains(j.type) {
          byKey[j.limitKey ?? l.key(explicit: nil, payload: j.payload), default: []].append(j.id)
        }
        if byKey.isEmpty {
          rows.append(
            LimitRow(
              pool: pool.name, rules: rules.joined(separator: ", "),
              key: l.keyField.map { "payload.\($0)" } ?? "(one key)", holders: "none", held: 0))
        }
        for (key, ids) in byKey.sorted(by: { $0.key < $1.key }) {
          let s = try store.limitState(l, key: key, now: now, cap: 10_000)
          rows.append(
            LimitRow(
              pool: pool.name, rules: rules.joined(separator: ", "), key: key,
              holders: "\(s.running): " + ids.map { "job \($0)" }.joined(separator: ", "),
              held: s.held))
        }
      }
      return (try store.pausedSchedules(), try store.lastSlots(), rows)
    }
    let schedules: [[String: Any]] = config.schedules.map { s in
      let fires = (try? ScheduleRule(s))?.fires(after: now, count: 5) ?? []
      var d: [String: Any] = [
        "name": s.name, "rule": Self.whenText(s), "zone": s.timezone, "type": s.type,
        "state": paused.contains(s.name) ? "paused" : "active",
        "paused": paused.contains(s.name),
        "last": last[s.name].map { l in
          l.slot.rfc3339 + (l.job.map { " → job \($0)" } ?? " (passed without a job)")
        } ?? "none yet",
        "fires": fires.map { f -> [String: Any] in
          var x: [String: Any] = ["local": "\(f.local) \(f.offsetText)", "utc": f.utc.rfc3339]
          if let dst = f.dst { x["dst"] = dst.rawValue }
          return x
        },
      ]
      if fires.isEmpty { d["fires"] = [["local": "never"]] }
      return d
    }
    return page(
      request, "schedules", title: "Schedules",
      [
        "schedules": schedules,
        "limits": limits.map {
          [
            "pool": $0.pool, "rules": $0.rules, "key": $0.key, "holders": $0.holders,
            "held": $0.held,
          ]
            as [String: Any]
        },
      ])
  }

  /// `POST /ui/schedules/NAME/pause|resume|trigger`, as `drover schedules pause|resume|trigger`.
  func scheduleAction(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let (who, fields) = try await form(request)
    let name = context.parameters.get("name") ?? ""
    guard let s = config.schedules.first(where: { $0.name == name }) else {
      throw APIError.notFound("no schedule named \"\(name)\"")
    }
    let back = fields.first { $0.0 == "back" }?.1
    switch context.parameters.get("action") {
    case let a? where a == "pause" || a == "resume":
      try await link.write { store throws(StoreError) in
        try store.setSchedulePaused(name, a == "pause")
      }
      try await audit(who, a, "schedule \(name)", 0)
      return Self.redirect(back, done: a, n: nil)
    case "trigger":
      let now = Timestamp.now()
      let params = EnqueueParams(
        type: s.type, payload: s.payload.render(), priority: s.priority, runAt: now,
        maxAttempts: config.pool(forType: s.type)?.maxAttempts ?? 20,
        uniqueKey: "schedule:\(s.name):manual:\(now.rfc3339)", now: now,
        maxPayload: config.store.maxPayload)
      let id = try await link.write { store throws(StoreError) in
        try store.enqueue([params])[0].id
      }
      try await audit(who, "trigger", "schedule \(name) → job \(id)", 1)
      return Self.redirect(back, done: "trigger", n: 1)
    default: throw APIError.notFound("no such schedule action (pause, resume or trigger)")
    }
  }
}
