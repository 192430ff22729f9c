import DroverCore
import DroverStore
import Hummingbird

/// Metrics history from the per-minute aggregates (`job_minutes`, kept `[store] retain_stats`,
/// 30 days by default), coarser buckets for the long ranges.
extension Dashboard {
  /// Each range: its length and bucket, in minutes (at most a few hundred bars).
  static let ranges: [(name: String, minutes: Int64, bucket: Int64)] = [
    ("1h", 60, 1), ("24h", 1440, 10), ("7d", 10_080, 60), ("30d", 43_200, 240),
  ]

  func metricsPage(_ request: Request) async throws -> Response {
    let name = request.uri.queryParameters["range"].map(String.init) ?? "1h"
    guard let range = Self.ranges.first(where: { $0.name == name }) else {
      throw APIError.badRequest("range must be 1h, 24h, 7d or 30d", field: "range")
    }
    let until = WindowStats.minute(of: .now())
    // Buckets aligned to their size, the last one holding the current minute.
    let last = until / range.bucket * range.bucket
    let count = Int(range.minutes / range.bucket)
    let first = last - Int64(count - 1) * range.bucket
    let points = try await link.read { store throws(StoreError) in
      try store.minuteSeries(
        MinuteSeriesParams(sinceMinute: first, untilMinute: until, bucketMinutes: range.bucket))
    }
    var done = [Double](repeating: 0, count: count)
    var fails = [Double](repeating: 0, count: count)
    var wait = [Double](repeating: 0, count: count)
    for p in points {
      let i = Int((p.minute - first) / range.bucket)
      guard (0..<count).contains(i) else { continue }
      done[i] = Double(p.completed)
      fails[i] = Double(p.failed + p.dead)
      wait[i] = p.waitCount == 0 ? 0 : Double(p.waitSumMicros) / Double(p.waitCount) / 1000
    }
    func when(_ i: Int) -> String {
      Timestamp(micros: (first + Int64(i) * range.bucket) * 60_000_000).rfc3339
    }
    let bucket =
      range.bucket == 1
      ? "1 minute" : range.bucket < 60 ? "\(range.bucket) minutes" : "\(range.bucket / 60) h"
    return page(
      request, "metrics", title: "Metrics",
      [
        "ranges": Self.ranges.map {
          ["name": $0.name, "selected": $0.name == name] as [String: Any]
        },
        "bucket": bucket, "completed": Int(done.reduce(0, +)), "failures": Int(fails.reduce(0, +)),
        "throughputChart": SVGChart.bars(done, width: 720, height: 120) { i, v in
          "\(when(i)): \(Int(v)) completed"
        },
        "failureChart": SVGChart.bars(fails, width: 720, height: 120, cssClass: "chart errors") {
          i, v in "\(when(i)): \(Int(v)) failed"
        },
        "waitChart": SVGChart.bars(wait, width: 720, height: 120) { i, v in
          "\(when(i)): \(SVGChart.fmt(v)) ms mean wait"
        },
      ])
  }
}
