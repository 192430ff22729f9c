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

    // Drain with and without a scraper: three pairs, the order swapped each round so drift on
    // a noisy machine hits both; wall-clock rate and the supervisor's CPU per job (its HTTP
    // threads included: the scraper's whole cost in this process).
    var plain: [(rate: Double, cpu: Double)] = []
    var scraped: [(rate: Double, cpu: Double)] = []
    var scrapes = 0
    func micros(_ d: Duration?) -> Double { d.map(BenchMath.micros) ?? 0 }
    for round in 0..<6 {
      let withScraper = (round % 4 == 1 || round % 4 == 2)
      let stop = Atomic<Bool>(false)
      let count = Atomic<Int>(0)
      let done = Atomic<Bool>(!withScraper)
      if withScraper {
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
      }
      let label = "http drain \(round + 1), " + (withScraper ? "scraped every 1 s" : "no scraper")
      let r = try drainRunWithCPU(sup: sup, count: jobs, label: label)
      stop.store(true, ordering: .relaxed)
      while !done.load(ordering: .relaxed) { usleep(10_000) }
      scrapes += count.load(ordering: .relaxed)
      if withScraper {
        scraped.append((r.rate, micros(r.cpuPerJob)))
      } else {
        plain.append((r.rate, micros(r.cpuPerJob)))
      }
    }
    func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(max(1, xs.count)) }
    let p = mean(plain.map(\.rate))
    let s = mean(scraped.map(\.rate))
    let pc = mean(plain.map(\.cpu))
    let sc = mean(scraped.map(\.cpu))
    figures += [
      BenchFigure(
        scenario: "http", name: "drain \(jobs) jobs, no scraper (mean of 3)", value: p,
        unit: "jobs/s"),
      BenchFigure(
        scenario: "http", name: "drain \(jobs) jobs, /metrics every 1 s (mean of 3)", value: s,
        unit: "jobs/s"),
      BenchFigure(
        scenario: "http", name: "drain rate change with the scraper (\(scrapes) scrapes)",
        value: (s - p) / p * 100, unit: "%", target: "> -5"),
      BenchFigure(
        scenario: "http", name: "supervisor CPU per job, no scraper / scraped",
        value: pc, unit: "µs / \(Self.format1(sc)) µs"),
      BenchFigure(
        scenario: "http", name: "supervisor CPU per job change with the scraper",
        value: (sc - pc) / pc * 100, unit: "%", target: "< 5"),
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
      ("GET /jobs?payload.acct=999000 (a match near the top)", "/jobs?payload.acct=999000&limit=1"),
      ("GET /metrics (oldest-ready cached)", "/metrics"),
    ] {
      figures.append(
        BenchFigure(
          scenario: "http", name: name + ", 1M rows (best of 20)", value: try time(path),
          unit: "ms"))
    }
    // The worst list: a payload match nothing has walks the whole table.
    figures.append(
      BenchFigure(
        scenario: "http", name: "GET /jobs?payload.acct=-1 (no match: full walk), 1M rows",
        value: try time("/jobs?payload.acct=-1&limit=1", runs: 3), unit: "ms"))
    // An uncached scrape: past the 1 s cache, so it runs the skip-scan on 1M ready jobs.
    usleep(1_100_000)
    figures.append(
      BenchFigure(
        scenario: "http", name: "GET /metrics, uncached (skip-scan of 1M ready), 1M rows",
        value: try time("/metrics", runs: 1), unit: "ms"))
    // The skip-scan itself against the plain aggregate it replaces, on the same store.
    var t = Monotonic.nanoseconds()
    _ = try store.oldestReady(OldestReadyParams(types: ["idle"], now: .now()))
    let skip = BenchMath.seconds(t, Monotonic.nanoseconds()) * 1000
    t = Monotonic.nanoseconds()
    _ = try store.oldestReadyByScan(type: "idle")
    let scan = BenchMath.seconds(t, Monotonic.nanoseconds()) * 1000
    figures += [
      BenchFigure(
        scenario: "http", name: "oldest ready job, skip-scan of jobs_ready, 1M ready",
        value: skip, unit: "ms"),
      BenchFigure(
        scenario: "http", name: "oldest ready job, min(run_at) over the type's range, 1M ready",
        value: scan, unit: "ms"),
    ]
    return figures
  }

  static func format1(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
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
