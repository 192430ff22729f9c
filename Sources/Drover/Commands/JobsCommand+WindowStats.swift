import DroverCore
import DroverStore
import DroverWire

/// `jobs stats --window D`: a window's finished attempts, from the store's per-minute
/// aggregates.
enum WindowStatsCommand {
  static func run(options: ConfigOptions, window: String, stuckAfter: String?, json: Bool)
    throws(CLIError)
  {
    let params = try parse(window: window, stuckAfter: stuckAfter, now: .now())
    let context = try CommandContext(options)
    var p = params
    p.stuckAfterByType = WindowStatsParams.poolTimeouts(context.config)
    if p.stuckAfter != nil { p.stuckAfterByType = [:] }
    let s = try context.run { store throws(StoreError) in try store.windowStats(p) }
    Output.out(
      json
        ? JobJSON.windowStats(s, window: p.window).render()
        : table(s, window: p.window))
  }

  /// The params of `--window` and `--stuck-after`, refusing what is not a positive duration.
  static func parse(window: String, stuckAfter: String?, now: Timestamp) throws(CLIError)
    -> WindowStatsParams
  {
    guard let w = DurationText.parse(window), w > .zero else {
      throw .usage("--window: '\(window)' is not a positive duration (like 15m, 1h, 7d)")
    }
    var p = WindowStatsParams(window: w, now: now)
    if let stuckAfter {
      guard let d = DurationText.parse(stuckAfter), d > .zero else {
        throw .usage("--stuck-after: '\(stuckAfter)' is not a positive duration (like 10m)")
      }
      p.stuckAfter = d
    }
    return p
  }

  /// The table: a summary block, then one row per type and per priority.
  static func table(_ s: WindowStats, window: Duration) -> String {
    let t = s.total
    func ms(_ sum: Int64, _ n: Int) -> String {
      n == 0 ? "-" : String(format3(Double(sum) / Double(n) / 1000)) + "ms"
    }
    func p95(_ h: DurationHistogram) -> String {
      h.quantile(0.95).map { "≤\($0 / 1000)ms" } ?? "-"
    }
    func rate(_ c: WindowCounts) -> String {
      c.finished == 0
        ? "-" : String(format3(Double(c.failed + c.dead) / Double(c.finished) * 100)) + "%"
    }
    let last =
      s.lastFinishedAt.map {
        "\(JobRendering.short($0)) (\(JobJSON.minutes(from: $0, to: s.now)) min ago)"
      } ?? "never"
    var out = JobRendering.align(
      [
        ["window", "\(DurationText.format(window)) (since \(JobRendering.short(s.since)))"],
        ["completed", String(t.completed)], ["failed", String(t.failed)],
        ["dead", String(t.dead)], ["error rate", rate(t)],
        ["run time", "avg \(ms(t.runSumMicros, t.runCount)), p95 \(p95(s.runHistogram))"],
        ["queue wait", "avg \(ms(t.waitSumMicros, t.waitCount)), p95 \(p95(s.waitHistogram))"],
        ["last finish", last], ["stuck", String(s.stuck.count)],
      ])
    let types = JobJSON.byType(s)
    if !types.isEmpty {
      out += "\n\n"
      out += JobRendering.align(
        [["TYPE", "COMPLETED", "FAILED", "DEAD", "ERRORS", "RUN AVG", "RUN P95", "WAIT P95"]]
          + types.map { c in
            [
              c.type, String(c.completed), String(c.failed), String(c.dead), rate(c),
              ms(c.runSumMicros, c.runCount), p95(s.runHistograms[c.type] ?? .init()),
              p95(s.waitHistograms[c.type] ?? .init()),
            ]
          }, rightAligned: [1, 2, 3, 4, 5, 6, 7])
      out += "\n\n"
      out += JobRendering.align(
        [["PRIORITY", "COMPLETED", "FAILED", "DEAD", "ERRORS"]]
          + JobJSON.byPriority(s).map { c in
            [String(c.priority), String(c.completed), String(c.failed), String(c.dead), rate(c)]
          }, rightAligned: [0, 1, 2, 3, 4])
    }
    if !s.stuck.isEmpty {
      out += "\n\n"
      out += JobRendering.align(
        [["STUCK", "TYPE", "STARTED", "RUNNING"]]
          + s.stuck.map { j in
            [
              String(j.id), j.type, JobRendering.short(j.startedAt),
              DurationText.format(.seconds((s.now.micros - j.startedAt.micros) / 1_000_000)),
            ]
          }, rightAligned: [0])
    }
    return out
  }

  /// `x` with at most one decimal.
  static func format3(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    return r == r.rounded() ? String(Int64(r)) : String(r)
  }
}
