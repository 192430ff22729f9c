import DroverCore
import DroverStore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `drover bench pg --pg-url URL`: the PostgreSQL scenarios. Each runs in a scratch schema of
/// the given database (dropped afterwards), with real `drover serve` processes as the hosts.
struct BenchPostgres {
  var url: String
  var jobs: Int
  var workers: Int
  var seconds: Int
  var progress: (String) -> Void

  /// A fresh schema for one scenario; `body` gets its URL.
  func scratch<T>(_ body: (String) throws -> T) throws -> T {
    let schema = "drover_bench_\(getpid())_\(Monotonic.nanoseconds())"
    let u = try PostgresBenchmark.scratchURL(url, schema: schema)
    defer { PostgresBenchmark.dropScratch(url, schema: schema) }
    return try body(u)
  }

  func pools() -> String {
    """
    [pools.work]
    handler = "noop"
    min = \(workers)
    max = \(workers)
    """
  }

  /// `k` supervisors on `u`, each in a folder of its own.
  func supervisors(_ k: Int, url u: String) throws -> ([BenchSupervisor], [BenchDirectory]) {
    var dirs: [BenchDirectory] = []
    var sups: [BenchSupervisor] = []
    for _ in 0..<k {
      let d = try BenchDirectory()
      dirs.append(d)
      sups.append(try BenchSupervisor(dir: d.path, pools: pools(), store: "url = \"\(u)\""))
    }
    return (sups, dirs)
  }

  func stop(_ sups: [BenchSupervisor], _ dirs: [BenchDirectory]) {
    for s in sups { s.stop() }
    for d in dirs { d.remove() }
  }

  func all() throws -> [BenchFigure] {
    var figures = try driver()
    for k in 1...3 { figures += try drain(supervisors: k) }
    return figures
  }

  /// The driver alone, one connection (`PostgresBenchmark`).
  func driver() throws -> [BenchFigure] {
    try scratch { u in
      try PostgresBenchmark.run(url: u, progress: progress).map {
        BenchFigure(scenario: "pg", name: $0.name, value: $0.value, unit: $0.unit)
      }
    }
  }

  /// `jobs` no-op jobs enqueued while every pool is paused, then drained by `k` supervisors
  /// at once: jobs/s from the jobs' own start and finish times.
  func drain(supervisors k: Int) throws -> [BenchFigure] {
    try scratch { u in
      let (sups, dirs) = try supervisors(k, url: u)
      defer { stop(sups, dirs) }
      for s in sups { _ = try s.client.call(.drain(pool: "work")) }
      let store = try PostgresStore(url: u)
      var left = jobs
      let now = Timestamp.now()
      while left > 0 {
        let n = min(1000, left)
        _ = try store.enqueue(
          [EnqueueParams](repeating: EnqueueParams(type: "work", now: now), count: n))
        left -= n
      }
      progress("pg drain: \(jobs) jobs, \(k) supervisors × \(workers) workers")
      for s in sups { _ = try s.client.call(.resume(pool: "work")) }
      let deadline = Monotonic.nanoseconds() + 900_000_000_000
      while (try store.stats()[.completed] ?? 0) < jobs {
        guard Monotonic.nanoseconds() < deadline else { throw CLIError("pg drain timed out") }
        usleep(200_000)
      }
      let done = try store.list(ListParams(state: .completed, limit: jobs))
      let twice = done.filter { $0.attempts != 1 || !$0.errors.isEmpty }.count
      if twice > 0 { throw CLIError("pg drain: \(twice) jobs ran more than once") }
      let first = done.compactMap(\.startedAt).min()!
      let last = done.compactMap(\.finishedAt).max()!
      let rate = Double(jobs) / (Double(last.micros - first.micros) / 1e6)
      return [
        BenchFigure(
          scenario: "pg", name: "drain \(jobs) no-op jobs, \(k) supervisor(s) × \(workers)",
          value: rate, unit: "jobs/s")
      ]
    }
  }

  /// Pick-up latency across processes: the bench enqueues (its own connection, one job per
  /// transaction, paced at `rate`) and two supervisors wake through NOTIFY; the figure is the
  /// job's start time minus its enqueue time.
  func latency(rate: Int) throws -> [BenchFigure] {
    try scratch { u in
      let (sups, dirs) = try supervisors(2, url: u)
      defer { stop(sups, dirs) }
      let store = try PostgresStore(url: u)
      progress("pg latency: \(rate) jobs/s for \(seconds) s into 2 supervisors")
      let total = rate * seconds
      var ids: [(JobID, Timestamp)] = []
      ids.reserveCapacity(total)
      let t0 = Monotonic.nanoseconds()
      while ids.count < total {
        let due = min(total, Int(Double(Monotonic.nanoseconds() - t0) / 1e9 * Double(rate)) + 1)
        if due > ids.count {
          let now = Timestamp.now()
          let batch = [EnqueueParams](
            repeating: EnqueueParams(type: "work", now: now), count: due - ids.count)
          // One job per transaction unless the enqueuer fell behind its pace.
          for r in try store.enqueue(batch) { ids.append((r.id, now)) }
        } else {
          let next = t0 + Int64(Double(ids.count) / Double(rate) * 1e9)
          let wait = next - Monotonic.nanoseconds()
          if wait > 50_000 { usleep(UInt32(wait / 1000)) }
        }
      }
      let deadline = Monotonic.nanoseconds() + 120_000_000_000
      while (try store.stats()[.completed] ?? 0) < total {
        guard Monotonic.nanoseconds() < deadline else { throw CLIError("pg latency: not done") }
        usleep(50_000)
      }
      let byID = Dictionary(
        uniqueKeysWithValues: try store.list(ListParams(state: .completed, limit: total)).map {
          ($0.id, $0)
        })
      var samples = ids.compactMap { id, at in
        byID[id]?.startedAt.map { Double($0.micros - at.micros) / 1000 }
      }
      samples.sort()
      return [0.5, 0.9, 0.99].map { q in
        BenchFigure(
          scenario: "pg", name: "@\(rate)/s pick-up p\(Int(q * 100)), 2 supervisors",
          value: BenchMath.quantile(samples, q), unit: "ms")
      } + [
        BenchFigure(
          scenario: "pg", name: "@\(rate)/s pick-up max, 2 supervisors",
          value: samples.last ?? .nan, unit: "ms")
      ]
    }
  }
}
