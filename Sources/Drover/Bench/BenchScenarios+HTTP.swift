import DroverCore
import DroverStore
import DroverSystem
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// `bench http`: the HTTP API's figures, all in one run against one supervisor.
extension BenchScenarios {
  func http() throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(
      dir: dir.path,
      pools: pools("work", count: workers) + "\n[http]\nlisten = \"127.0.0.1:0\"\n")
    defer { sup.stop() }
    let port = try Self.httpPort(logPath: dir.path + "/serve.log")
    let client = LoopbackHTTPClient(port: port)
    var figures: [BenchFigure] = []
    let json = [("Content-Type", "application/json")]

    progress("http: single-job POST /jobs, one keep-alive connection")
    let singleN = 5_000
    let one = Array(#"{"type":"idle"}"#.utf8)
    var t0 = Monotonic.nanoseconds()
    for _ in 0..<singleN {
      let r = try client.request("POST", "/jobs", headers: json, body: one)
      guard r.status == 201 else { throw CLIError("POST /jobs: \(r.status) \(r.text)") }
    }
    figures.append(
      BenchFigure(
        scenario: "http", name: "single-job POSTs, keep-alive",
        value: Double(singleN) / BenchMath.seconds(t0, Monotonic.nanoseconds()), unit: "jobs/s"))

    for per in [100, 1000] {
      progress("http: batch POST /jobs, \(per) jobs per request")
      let body = Array(
        ("[" + Array(repeating: #"{"type":"idle"}"#, count: per).joined(separator: ",") + "]")
          .utf8)
      let posts = 50_000 / per
      t0 = Monotonic.nanoseconds()
      for _ in 0..<posts {
        let r = try client.request("POST", "/jobs", headers: json, body: body)
        guard r.status == 201 else { throw CLIError("POST /jobs: \(r.status)") }
      }
      figures.append(
        BenchFigure(
          scenario: "http", name: "batch POSTs of \(per)",
          value: Double(posts * per) / BenchMath.seconds(t0, Monotonic.nanoseconds()),
          unit: "jobs/s"))
    }

    // Drain with and without a scraper, alternated so drift on a noisy machine hits both.
    var plain: [Double] = []
    var scraped: [Double] = []
    var scrapes = 0
    for round in 0..<2 {
      plain.append(
        try drainRun(sup: sup, count: jobs, label: "http drain \(round + 1), no scraper"))
      let stop = Atomic<Bool>(false)
      let count = Atomic<Int>(0)
      let done = Atomic<Bool>(false)
      startThread {
        let c = LoopbackHTTPClient(port: port)
        while !stop.load(ordering: .relaxed) {
          if (try? c.request("GET", "/metrics"))?.status == 200 {
            count.add(1, ordering: .relaxed)
          }
          for _ in 0..<10 where !stop.load(ordering: .relaxed) { usleep(100_000) }
        }
        done.store(true, ordering: .relaxed)
      }
      scraped.append(
        try drainRun(sup: sup, count: jobs, label: "http drain \(round + 1), scraped every 1 s"))
      stop.store(true, ordering: .relaxed)
      while !done.load(ordering: .relaxed) { usleep(10_000) }
      scrapes += count.load(ordering: .relaxed)
    }
    let p = plain.reduce(0, +) / Double(plain.count)
    let s = scraped.reduce(0, +) / Double(scraped.count)
    figures += [
      BenchFigure(
        scenario: "http", name: "drain \(jobs) jobs, no scraper (mean of 2)", value: p,
        unit: "jobs/s"),
      BenchFigure(
        scenario: "http", name: "drain \(jobs) jobs, /metrics every 1 s (mean of 2)", value: s,
        unit: "jobs/s"),
      BenchFigure(
        scenario: "http", name: "drain change with the scraper (\(scrapes) scrapes)",
        value: (s - p) / p * 100, unit: "%", target: "> -5"),
    ]

    // Lists and scrapes at 1M rows: keyset pages and the oldest-ready skip-scan.
    progress("http: 1M queued jobs for list and scrape timings")
    let store = try sup.store()
    let now = Timestamp.now()
    for chunk in 0..<1000 {
      let params = (0..<1000).map { i in
        EnqueueParams(
          type: "idle", payload: #"{"acct":\#(chunk * 1000 + i)}"#, priority: i % 3, now: now)
      }
      _ = try store.enqueue(params)
    }
    func time(_ path: String, runs: Int = 20) throws -> Double {
      var best = Double.infinity
      for _ in 0..<runs {
        let t = Monotonic.nanoseconds()
        let r = try client.request("GET", path)
        guard r.status == 200 else { throw CLIError("GET \(path): \(r.status) \(r.text)") }
        best = min(best, BenchMath.seconds(t, Monotonic.nanoseconds()) * 1000)
      }
      return best
    }
    let mid = try store.list(ListParams(limit: 1)).first!.id - 500_000
    for (name, path) in [
      ("GET /jobs?limit=100, first page", "/jobs?limit=100"),
      ("GET /jobs?limit=100&after=(500k rows deep)", "/jobs?limit=100&after=\(mid)"),
      (
        "GET /jobs?state=queued&priority_min=2&limit=100",
        "/jobs?state=queued&priority_min=2&limit=100"
      ),
      (
        "GET /jobs?payload.acct=999000 (one match near the top)",
        "/jobs?payload.acct=999000&limit=1"
      ),
      ("GET /metrics (1M ready: oldest-ready skip-scan; cache 1 s)", "/metrics"),
    ] {
      figures.append(
        BenchFigure(
          scenario: "http", name: name + ", 1M rows (best of 20)", value: try time(path), unit: "ms"
        ))
    }
    return figures
  }

  /// The address `serve` logged (`http listening on 127.0.0.1:PORT`).
  static func httpPort(logPath: String) throws -> Int {
    let deadline = Monotonic.nanoseconds() + 10_000_000_000
    while Monotonic.nanoseconds() < deadline {
      if let text = readSmallFile(logPath) ?? readLog(logPath),
        let r = text.range(of: "http listening on 127.0.0.1:"),
        let port = Int(text[r.upperBound...].prefix { $0.isNumber })
      {
        return port
      }
      usleep(20_000)
    }
    throw CLIError("serve did not log its HTTP address")
  }

  static func readLog(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buf, buf.count)
      if n <= 0 { break }
      out += buf[..<n]
      if out.count > 1 << 20 { break }
    }
    return String(decoding: out, as: UTF8.self)
  }
}
