public import DroverCore

/// `jobs stats --window D --json` and `GET /stats?window=D`.
extension JobJSON {
  /// The window's report:
  ///
  /// ```
  /// {"window_seconds": 3600, "since": T, "now": T,
  ///  "completed": n, "failed": n, "dead": n, "finished": n, "error_rate": x|null,
  ///  "run_ms": {"avg": x|null, "p95": n|null}, "wait_ms": {"avg": x|null, "p95": n|null},
  ///  "last_finished_at": T|null, "minutes_since_last_finish": x|null,
  ///  "stuck": [{"id", "type", "started_at", "running_seconds"}],
  ///  "types": [{"type", "completed", "failed", "dead", "finished", "error_rate", "run_ms",
  ///             "wait_ms"}],
  ///  "priorities": [{"priority", "completed", "failed", "dead", "finished", "error_rate"}]}
  /// ```
  ///
  /// `failed` counts attempts that failed and will be retried, `dead` the ones that failed for
  /// good; `error_rate` is (failed + dead) / finished. `p95` is the upper edge of its
  /// power-of-two histogram bucket (never below the true value, at most twice it).
  public static func windowStats(_ s: WindowStats, window: Duration) -> JSONValue {
    let total = s.total
    var fields: [JSONField] = [
      JSONField("window_seconds", .int(window.microseconds / 1_000_000)),
      JSONField("since", .string(s.since.rfc3339)),
      JSONField("now", .string(s.now.rfc3339)),
    ]
    fields += counts(total)
    fields += [
      JSONField("run_ms", timing(total.runSumMicros, total.runCount, s.runHistogram)),
      JSONField("wait_ms", timing(total.waitSumMicros, total.waitCount, s.waitHistogram)),
      JSONField("last_finished_at", .optional(s.lastFinishedAt?.rfc3339)),
      JSONField(
        "minutes_since_last_finish",
        s.lastFinishedAt.map { .double(minutes(from: $0, to: s.now)) } ?? .null),
      JSONField(
        "stuck",
        .array(
          s.stuck.map { j in
            .object([
              JSONField("id", .int(j.id)), JSONField("type", .string(j.type)),
              JSONField("started_at", .string(j.startedAt.rfc3339)),
              JSONField("running_seconds", .int((s.now.micros - j.startedAt.micros) / 1_000_000)),
            ])
          })),
      JSONField(
        "types",
        .array(
          byType(s).map { c in
            .object(
              [JSONField("type", .string(c.type))] + counts(c) + [
                JSONField(
                  "run_ms",
                  timing(c.runSumMicros, c.runCount, s.runHistograms[c.type] ?? .init())),
                JSONField(
                  "wait_ms",
                  timing(c.waitSumMicros, c.waitCount, s.waitHistograms[c.type] ?? .init())),
              ])
          })),
      JSONField(
        "priorities",
        .array(
          byPriority(s).map { c in
            .object([JSONField("priority", .int(Int64(c.priority)))] + counts(c))
          })),
    ]
    return .object(fields)
  }

  /// The rows summed per type, by type name.
  public static func byType(_ s: WindowStats) -> [WindowCounts] {
    sum(s.rows, key: { WindowCounts(type: $0.type, priority: 0) }).sorted { $0.type < $1.type }
  }

  /// The rows summed per priority, highest first.
  public static func byPriority(_ s: WindowStats) -> [WindowCounts] {
    sum(s.rows, key: { WindowCounts(type: "", priority: $0.priority) })
      .sorted { $0.priority > $1.priority }
  }

  /// Minutes from `a` to `b`, to a hundredth.
  public static func minutes(from a: Timestamp, to b: Timestamp) -> Double {
    (Double(b.micros - a.micros) / 600_000).rounded() / 100
  }

  static func sum(_ rows: [WindowCounts], key: (WindowCounts) -> WindowCounts) -> [WindowCounts] {
    var out: [WindowCounts] = []
    for r in rows {
      let k = key(r)
      let i =
        out.firstIndex { $0.type == k.type && $0.priority == k.priority }
        ?? {
          out.append(k)
          return out.count - 1
        }()
      out[i].completed += r.completed
      out[i].failed += r.failed
      out[i].dead += r.dead
      out[i].runCount += r.runCount
      out[i].runSumMicros += r.runSumMicros
      out[i].waitCount += r.waitCount
      out[i].waitSumMicros += r.waitSumMicros
    }
    return out
  }

  static func counts(_ c: WindowCounts) -> [JSONField] {
    [
      JSONField("completed", .int(Int64(c.completed))), JSONField("failed", .int(Int64(c.failed))),
      JSONField("dead", .int(Int64(c.dead))), JSONField("finished", .int(Int64(c.finished))),
      JSONField(
        "error_rate",
        c.finished == 0
          ? .null
          : .double((Double(c.failed + c.dead) / Double(c.finished) * 10_000).rounded() / 10_000)),
    ]
  }

  static func timing(_ sum: Int64, _ n: Int, _ h: DurationHistogram) -> JSONValue {
    .object([
      JSONField(
        "avg", n == 0 ? .null : .double((Double(sum) / Double(n) / 1000 * 1000).rounded() / 1000)),
      JSONField("p95", h.quantile(0.95).map { .int($0 / 1000) } ?? .null),
    ])
  }
}
