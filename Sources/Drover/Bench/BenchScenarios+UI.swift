import DroverCore
import DroverStore
import DroverSystem

/// `bench ui`: the dashboard's jobs page with 1M jobs in the store, through the real HTTP
/// server: the first page, a deep cursor page, filtered pages, and the payload text search
/// that matches nothing (the worst case: a walk of the whole table).
extension BenchScenarios {
  func ui(rows: Int = 1_000_000) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    progress("ui: seeding \(rows) finished jobs (two types, half each)")
    var t0 = Monotonic.nanoseconds()
    do {
      let store = try SQLiteStore(path: dir.path + "/drover.db")
      let now = Timestamp.now()
      try store.seedFinished(count: rows / 2, type: "history", finishedAt: now)
      try store.seedFinished(count: rows - rows / 2, type: "mail", finishedAt: now)
    }
    progress("ui: seeded in \(String(format1: BenchMath.seconds(t0, Monotonic.nanoseconds()))) s")
    let sup = try BenchSupervisor(
      dir: dir.path,
      pools: pools("work", count: 1) + "\n[http]\nlisten = \"127.0.0.1:0\"\n")
    defer { sup.stop() }
    let client = LoopbackHTTPClient(port: try Self.httpPort(logPath: dir.path + "/serve.log"))
    let pages: [(String, String)] = [
      ("jobs page: first page", "/ui/jobs"),
      ("jobs page: deep cursor (after=\(rows / 2))", "/ui/jobs?after=\(rows / 2)"),
      ("jobs page: state=completed", "/ui/jobs?state=completed"),
      ("jobs page: type of the newer half", "/ui/jobs?type=mail"),
      ("jobs page: type of the older half", "/ui/jobs?type=history"),
      ("jobs page: payload text, no match", "/ui/jobs?q=nomatch"),
      ("overview", "/ui"),
    ]
    var figures: [BenchFigure] = []
    for (name, path) in pages {
      progress("ui: \(name)")
      var samples: [Double] = []
      let n = path.contains("q=") ? 3 : 20
      for _ in 0..<n {
        t0 = Monotonic.nanoseconds()
        let r = try client.request("GET", path)
        guard r.status == 200 else { throw CLIError("GET \(path): \(r.status) \(r.text)") }
        samples.append(Double(Monotonic.nanoseconds() - t0) / 1e6)
      }
      samples.sort()
      figures.append(
        BenchFigure(scenario: "ui", name: name + ", median", value: samples[n / 2], unit: "ms"))
    }
    return figures
  }
}
