import DroverCore
import DroverStore
import DroverWire
import Hummingbird
import NIOCore

/// The overview page, the live values its script refreshes, and the assets.
extension Dashboard {
  /// What the overview and `/ui/live` read from the store: the backlog and state counts per
  /// type, each ready type's oldest job, the newest dead jobs, the last hour's minutes.
  struct OverviewFacts: Sendable {
    var backlog: [String: Int] = [:]
    var counts: [String: [JobState: Int]] = [:]
    var oldest: [String: Timestamp] = [:]
    var failures: [Job] = []
    var series: [MinutePoint] = []
  }

  func overviewFacts(full: Bool) async throws -> OverviewFacts {
    try await link.read { store throws(StoreError) -> OverviewFacts in
      let now = Timestamp.now()
      var f = OverviewFacts()
      f.backlog = try store.backlog(now: now)
      f.counts = try store.counts()
      guard full else { return f }
      for (type, n) in f.backlog where n > 0 {
        f.oldest[type] = try store.oldestReady(OldestReadyParams(types: [type], now: now))
      }
      f.failures = try store.list(ListParams(state: .dead, limit: 10))
      let until = WindowStats.minute(of: now)
      f.series = try store.minuteSeries(
        MinuteSeriesParams(sinceMinute: until - 59, untilMinute: until))
      return f
    }
  }

  /// A worker's state as the dashboard names it.
  static func workerState(_ w: StatusSnapshot.Worker) -> String {
    if w.retiring { return "retiring" }
    if !w.ready { return "starting" }
    return w.busy ? "busy" : "idle"
  }

  static func poolState(_ p: StatusSnapshot.Pool) -> String {
    p.crashLooping ? "crash-looping" : p.paused ? "drained" : "running"
  }

  /// The values of every `data-live` key (but the event ones, which the script counts).
  static func liveValues(_ s: StatusSnapshot, _ f: OverviewFacts) -> [String: String] {
    var out: [String: String] = [:]
    for p in s.pools {
      var n: [String: Int] = ["busy": 0, "idle": 0, "starting": 0, "retiring": 0]
      for w in p.workers { n[workerState(w), default: 0] += 1 }
      for (k, v) in n { out["pool.\(p.name).\(k)"] = String(v) }
      out["pool.\(p.name).state"] = poolState(p)
      out["pool.\(p.name).backlog"] = String(p.types.reduce(0) { $0 + (f.backlog[$1] ?? 0) })
    }
    for (type, c) in f.counts {
      out["queue.\(type).depth"] = String(f.backlog[type] ?? 0)
      out["queue.\(type).running"] = String(c[.running] ?? 0)
    }
    return out
  }

  func overview(_ request: Request) async throws -> Response {
    let s = try await api.status()
    let f = try await overviewFacts(full: true)
    let live = Self.liveValues(s, f)
    let now = Timestamp.now()
    let pools: [[String: Any]] = s.pools.map { p in
      let oldest = p.types.compactMap { f.oldest[$0] }.min { $0.micros < $1.micros }
      return [
        "name": p.name, "state": Self.poolState(p), "target": p.target, "auto": p.auto,
        "busy": live["pool.\(p.name).busy"]!, "idle": live["pool.\(p.name).idle"]!,
        "starting": live["pool.\(p.name).starting"]!,
        "retiring": live["pool.\(p.name).retiring"]!, "backlog": live["pool.\(p.name).backlog"]!,
        "oldest": oldest.map { Self.ago($0, now: now) } ?? "—",
      ]
    }
    let types = Set(f.counts.keys).union(s.pools.flatMap(\.types)).sorted()
    let queues: [[String: Any]] = types.map { t in
      let c = f.counts[t] ?? [:]
      return [
        "type": t, "depth": f.backlog[t] ?? 0,
        "oldest": f.oldest[t].map { Self.ago($0, now: now) } ?? "—",
        "scheduled": c[.scheduled] ?? 0, "waiting": c[.waiting] ?? 0, "running": c[.running] ?? 0,
        "completed": c[.completed] ?? 0, "dead": c[.dead] ?? 0,
      ]
    }
    let failures: [[String: Any]] = f.failures.map { j in
      [
        "id": j.id, "type": j.type, "state": j.state.name, "when": Self.ago(j.finishedAt, now: now),
        "error": j.errors.last?.message ?? "",
      ]
    }
    // The last 60 minutes, a point per minute (absent minutes had no finish).
    let until = WindowStats.minute(of: now)
    var done = [Double](repeating: 0, count: 60)
    var rate = [Double](repeating: 0, count: 60)
    var completed = 0
    var failed = 0
    var finished = 0
    for p in f.series {
      let i = Int(p.minute - (until - 59))
      guard (0..<60).contains(i) else { continue }
      let all = p.completed + p.failed + p.dead
      done[i] = Double(p.completed)
      rate[i] = all == 0 ? 0 : Double(p.failed + p.dead) / Double(all) * 100
      completed += p.completed
      failed += p.failed + p.dead
      finished += all
    }
    let data: [String: Any] = [
      "pid": s.pid, "state": s.state, "pools": pools, "queues": queues, "failures": failures,
      "throughputChart": SVGChart.bars(done) { i, v in "\(59 - i) min ago: \(Int(v)) completed" },
      "errorChart": SVGChart.bars(rate, cssClass: "chart errors") { i, v in
        "\(59 - i) min ago: \(SVGChart.fmt(v))% failed"
      },
      "completedHour": completed, "failedHour": failed, "finishedHour": finished,
    ]
    return page(request, "overview", title: "Overview", data)
  }

  /// `GET /ui/live`: every `data-live` value as one JSON object, for the script to refresh
  /// the page's counters after events (cheap: the loop's status and O(types) counters).
  func live(_ request: Request) async throws -> Response {
    let s = try await api.status()
    let f = try await overviewFacts(full: false)
    let values = Self.liveValues(s, f).sorted { $0.key < $1.key }
    return JSONResponse.make(.object(values.map { JSONField($0.key, .string($0.value)) }))
  }

  /// `GET /ui/assets/NAME`: the stylesheet and the script, from the binary.
  func asset(_ context: BasicRequestContext) throws -> Response {
    let name = context.parameters.get("name") ?? ""
    guard let (text, type) = DashboardAssets.files[name] else {
      throw APIError.notFound("no asset \(name)")
    }
    return Response(
      status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
      body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
  }
}
