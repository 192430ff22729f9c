import DroverCore
import DroverStore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// The scenarios of `drover bench`. Each starts its own supervisor on a temp store, like a
/// user would, and reports figures against the targets.
struct BenchScenarios {
  var jobs: Int
  var workers: Int
  var seconds: Int
  var progress: (String) -> Void

  func pools(_ name: String, handler: String = "noop", count: Int, max: Int? = nil) -> String {
    """
    [pools.\(name)]
    handler = "\(handler)"
    min = \(count)
    max = \(max ?? count)
    """
  }

  // MARK: store

  func store() throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    return try StoreBenchmark.run(directory: dir.path, progress: progress).map {
      BenchFigure(scenario: "store", name: $0.name, value: $0.value, unit: $0.unit)
    }
  }

  // MARK: commit

  /// The store's share of a drain in this process, no supervisor and no workers: the group
  /// commits a drain of `jobs` makes, `perClaim` jobs claimed per worker per turn. What
  /// `scripts/callgrind.sh` counts instructions per job in.
  func commit(perClaim: Int = 4) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    progress("commit: \(jobs) jobs through the drain's group commits, in process")
    let (seconds, turns) = try StoreBenchmark.drainTurns(
      path: dir.path + "/drover.db", jobs: jobs, workers: workers, perClaim: perClaim)
    return [
      BenchFigure(
        scenario: "commit", name: "\(jobs) jobs, \(workers)×\(perClaim) claimed per turn",
        value: Double(jobs) / seconds, unit: "jobs/s"),
      BenchFigure(
        scenario: "commit", name: "store time per job", value: seconds / Double(jobs) * 1e6,
        unit: "µs"),
      BenchFigure(scenario: "commit", name: "turns", value: Double(turns), unit: ""),
    ]
  }

  // MARK: enqueue

  func enqueue() throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    // No pool runs "bench": jobs stay queued, so enqueue is all that is measured.
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("idle", count: 0, max: 1))
    defer { sup.stop() }
    var figures: [BenchFigure] = []

    progress("enqueue: single jobs through the CLI (a process each)")
    let cliN = 200
    var t0 = Monotonic.nanoseconds()
    for _ in 0..<cliN { try runDrover(["enqueue", "bench", "--config", sup.configPath]) }
    figures.append(
      BenchFigure(
        scenario: "enqueue", name: "single via CLI process",
        value: Double(cliN) / BenchMath.seconds(t0, Monotonic.nanoseconds()), unit: "jobs/s"))

    progress("enqueue: single jobs over the control socket, one client, one at a time")
    let sockN = 20_000
    var client = try ControlClient(socketPath: sup.config.control.socket)
    let req = ControlRequest.enqueue(EnqueueRequest(type: "bench"))
    t0 = Monotonic.nanoseconds()
    var cpu = ResourceUsage.cpuTime(of: sup.pid)
    for _ in 0..<sockN {
      let r = try client.call(req)
      guard r["ok"]?.boolValue == true else { throw CLIError("enqueue failed: \(r.render())") }
    }
    figures.append(
      BenchFigure(
        scenario: "enqueue", name: "single via control socket",
        value: Double(sockN) / BenchMath.seconds(t0, Monotonic.nanoseconds()), unit: "jobs/s",
        target: "≥ 12000"))
    figures += cpuPerJob(sup, since: cpu, jobs: sockN, scenario: "enqueue", "single via socket")

    progress("enqueue: pipelined over the control socket, 100 in flight")
    let pipeN = 100_000
    let hundred = [ControlRequest](repeating: req, count: 100)
    t0 = Monotonic.nanoseconds()
    cpu = ResourceUsage.cpuTime(of: sup.pid)
    for _ in 0..<(pipeN / 100) { _ = try client.pipeline(hundred) }
    figures.append(
      BenchFigure(
        scenario: "enqueue", name: "pipelined via control socket",
        value: Double(pipeN) / BenchMath.seconds(t0, Monotonic.nanoseconds()), unit: "jobs/s"))
    figures += cpuPerJob(sup, since: cpu, jobs: pipeN, scenario: "enqueue", "pipelined")
    client.close()

    progress("enqueue: one NDJSON batch of \(jobs) through the CLI")
    let file = dir.path + "/batch.ndjson"
    try writeBatchFile(file, type: "bench", count: jobs)
    t0 = Monotonic.nanoseconds()
    try runDrover(["enqueue", "--batch", file, "--config", sup.configPath])
    figures.append(
      BenchFigure(
        scenario: "enqueue", name: "batch via CLI (\(jobs) lines)",
        value: Double(jobs) / BenchMath.seconds(t0, Monotonic.nanoseconds()), unit: "jobs/s",
        target: "≥ 100000"))
    return figures
  }

  /// "supervisor CPU per job" since `before` (user + system from /proc), as a figure beside a
  /// throughput one; nothing when /proc could not be read.
  func cpuPerJob(
    _ sup: BenchSupervisor, since before: Duration?, jobs: Int, scenario: String, _ what: String
  ) -> [BenchFigure] {
    guard let before, let after = ResourceUsage.cpuTime(of: sup.pid), jobs > 0 else { return [] }
    let per = (after - before) / jobs
    return [
      BenchFigure(
        scenario: scenario, name: "supervisor CPU per job, \(what)",
        value: BenchMath.micros(per), unit: "µs")
    ]
  }

  // MARK: drain

  /// Enqueues `count` no-op jobs into a paused pool, resumes it and times first claim to last
  /// completion from the store's own timestamps.
  func drainRun(sup: BenchSupervisor, count: Int, label: String) throws -> Double {
    try drainRunWithCPU(sup: sup, count: count, label: label).rate
  }

  /// A drain of `count` jobs: jobs/s (store timestamps: first start → last finish), the
  /// supervisor's CPU per job (user + system from /proc, resume → all completed) and the jobs
  /// per loop turn (how much each group commit carried).
  /// `pool` nil drains and resumes every pool; `types` are dealt the jobs in turn.
  func drainRunWithCPU(
    sup: BenchSupervisor, count: Int, label: String, pool: String? = "work",
    types: [String] = ["work"]
  ) throws -> (rate: Double, cpuPerJob: Duration?, jobsPerTurn: Double?) {
    _ = try sup.client.call(.drain(pool: pool))
    let file = sup.dir + "/drain.ndjson"
    try writeBatchFile(file, types: types, count: count)
    try runDrover(["enqueue", "--batch", file, "--config", sup.configPath])
    unlink(file)
    let store = try sup.store()
    let before = try store.stats()[.completed] ?? 0
    progress(
      "\(label): \(count) jobs "
        + (pool == nil ? "over \(types.count) types" : "through \(workers) workers"))
    func turns() -> Int64? { (try? sup.status())?["loop"]?["turns"]?.intValue }
    let turnsBefore = turns()
    let cpuBefore = ResourceUsage.cpuTime(of: sup.pid)
    _ = try sup.client.call(.resume(pool: pool))
    let deadline = Monotonic.nanoseconds() + 600_000_000_000
    while true {
      let s = try store.stats()
      if (s[.completed] ?? 0) - before >= count { break }
      guard Monotonic.nanoseconds() < deadline else { throw CLIError("\(label): drain timed out") }
      // Counting costs the store an index walk: poll gently, the figure comes from the
      // jobs' own timestamps anyway.
      usleep(250_000)
    }
    let cpuAfter = ResourceUsage.cpuTime(of: sup.pid)
    let turnsAfter = turns()
    let done = try store.list(
      ListParams(state: .completed, type: types.count == 1 ? types[0] : nil, limit: count))
    let first = done.compactMap(\.startedAt).min()!
    let last = done.compactMap(\.finishedAt).max()!
    let left = try store.backlog(now: .now()).values.reduce(0, +)
    let running = try store.stats()[.running] ?? 0
    if left + running > 0 {
      throw CLIError("\(label): jobs left behind: \(left) ready, \(running) running")
    }
    let twice = done.filter { $0.attempts != 1 }.count
    if twice > 0 { throw CLIError("\(label): \(twice) jobs ran more than once") }
    let cpu = cpuBefore.flatMap { b in cpuAfter.map { ($0 - b) / count } }
    let perTurn = turnsBefore.flatMap { b in
      turnsAfter.map { $0 > b ? Double(count) / Double($0 - b) : .nan }
    }
    return (Double(count) / (Double(last.micros - first.micros) / 1e6), cpu, perTurn)
  }

  func drain() throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: workers))
    defer { sup.stop() }
    let run = try drainRunWithCPU(sup: sup, count: jobs, label: "drain")
    return drainFigures(
      run, scenario: "drain", name: "\(jobs) no-op jobs, \(workers) workers", target: "≥ 20000")
  }

  /// A drain's rate, then the supervisor's CPU per job and the jobs per loop turn when known.
  func drainFigures(
    _ run: (rate: Double, cpuPerJob: Duration?, jobsPerTurn: Double?), scenario: String,
    name: String, target: String? = nil
  ) -> [BenchFigure] {
    var figures = [
      BenchFigure(scenario: scenario, name: name, value: run.rate, unit: "jobs/s", target: target)
    ]
    if let cpu = run.cpuPerJob {
      figures.append(
        BenchFigure(
          scenario: scenario, name: "supervisor CPU per job", value: BenchMath.micros(cpu),
          unit: "µs"))
    }
    if let perTurn = run.jobsPerTurn {
      figures.append(
        BenchFigure(scenario: scenario, name: "jobs per loop turn", value: perTurn, unit: "jobs"))
    }
    return figures
  }

  // MARK: latency

  func latency(rate: Int) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: workers))
    defer { sup.stop() }
    progress("latency: \(rate) jobs/s for \(seconds) s")
    var client = try ControlClient(socketPath: sup.config.control.socket)
    let req = ControlRequest.enqueue(EnqueueRequest(type: "work"))
    var sent: [(id: Int64, at: Timestamp)] = []
    let total = rate * seconds
    sent.reserveCapacity(total)
    let cpuAtStart = ResourceUsage.cpuTime(of: sup.pid)
    let t0 = Monotonic.nanoseconds()
    while sent.count < total {
      let due = min(total, Int(Double(Monotonic.nanoseconds() - t0) / 1e9 * Double(rate)) + 1)
      if due > sent.count {
        let at = Timestamp.now()
        let replies = try client.pipeline(
          [ControlRequest](repeating: req, count: due - sent.count))
        for r in replies {
          guard let id = r["id"]?.intValue else { throw CLIError("enqueue failed: \(r.render())") }
          sent.append((id, at))
        }
      } else {
        let nextNS = t0 + Int64(Double(sent.count) / Double(rate) * 1e9)
        let wait = nextNS - Monotonic.nanoseconds()
        if wait > 50_000 { usleep(UInt32(wait / 1000)) }
      }
    }
    client.close()
    let store = try sup.store()
    let deadline = Monotonic.nanoseconds() + 60_000_000_000
    while (try store.stats()[.completed] ?? 0) < total {
      guard Monotonic.nanoseconds() < deadline else { throw CLIError("latency: jobs not done") }
      usleep(50_000)
    }
    let jobsByID = Dictionary(
      uniqueKeysWithValues: try store.list(ListParams(state: .completed, limit: total)).map {
        ($0.id, $0)
      })
    let cpuFigure = cpuPerJob(
      sup, since: cpuAtStart, jobs: total, scenario: "latency", "@\(rate)/s")
    var samples: [Double] = []
    for s in sent {
      guard let started = jobsByID[s.id]?.startedAt else { continue }
      samples.append(Double(started.micros - s.at.micros) / 1000)
    }
    samples.sort()
    let target = rate <= 200 ? "≤ 1" : "≤ 5"
    return [
      BenchFigure(
        scenario: "latency", name: "@\(rate)/s pick-up p50",
        value: BenchMath.quantile(samples, 0.5), unit: "ms"),
      BenchFigure(
        scenario: "latency", name: "@\(rate)/s pick-up p90",
        value: BenchMath.quantile(samples, 0.9), unit: "ms"),
      BenchFigure(
        scenario: "latency", name: "@\(rate)/s pick-up p99",
        value: BenchMath.quantile(samples, 0.99),
        unit: "ms", target: target),
      BenchFigure(
        scenario: "latency", name: "@\(rate)/s pick-up max", value: samples.last ?? .nan, unit: "ms"
      ),
    ] + cpuFigure
  }

  // MARK: scale

  func scale(rows: [Int]) throws -> [BenchFigure] {
    var figures: [BenchFigure] = []
    let drainN = 10_000
    for n in rows {
      let dir = try BenchDirectory()
      defer { dir.remove() }
      progress("scale: filling the table to \(n) rows")
      // Filler rows of a type no pool runs, written through the store like any enqueue.
      do {
        let store = try SQLiteStore(path: dir.path + "/drover.db")
        var left = max(0, n - drainN)
        let now = Timestamp.now()
        while left > 0 {
          let k = min(5000, left)
          _ = try store.enqueue(
            [EnqueueParams](repeating: EnqueueParams(type: "filler", now: now), count: k))
          left -= k
        }
      }
      let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: workers))
      defer { sup.stop() }
      let rate = try drainRun(sup: sup, count: drainN, label: "scale \(n)")
      figures.append(
        BenchFigure(
          scenario: "scale", name: "drain \(drainN) jobs at \(n) rows", value: rate,
          unit: "jobs/s"))
    }
    if let a = figures.first?.value, let b = figures.last?.value, b > 0 {
      figures.append(
        BenchFigure(
          scenario: "scale", name: "drain slowdown \(rows.last!) vs \(rows.first!) rows",
          value: a / b, unit: "×", target: "≤ 1.5"))
    }
    return figures
  }

  // MARK: spawn

  func spawn(rounds: Int = 10) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: 1, max: 2))
    defer { sup.stop() }
    _ = try sup.client.call(.scale(pool: "work", target: .count(1)))
    var up: [Double] = []
    var replace: [Double] = []
    for i in 0..<rounds {
      progress("spawn: round \(i + 1) of \(rounds)")
      var t0 = Monotonic.nanoseconds()
      _ = try sup.client.call(.scale(pool: "work", target: .count(2)))
      while try sup.workers("work").count < 2 {
        guard Monotonic.nanoseconds() - t0 < 10_000_000_000 else {
          throw CLIError("spawn: no worker")
        }
      }
      up.append(Double(Monotonic.nanoseconds() - t0) / 1e6)
      _ = try sup.client.call(.scale(pool: "work", target: .count(1)))
      while try sup.workers("work").count > 1 {}
      let victims = try sup.workers("work")
      guard let victim = victims.first else { throw CLIError("spawn: no worker to kill") }
      // A worker that dies within PoolPolicy.stableAfter of its start counts toward a crash
      // loop and is replaced with backoff; measure the healthy case.
      usleep(1_100_000)
      t0 = Monotonic.nanoseconds()
      try Signals.send(signal: SIGKILL, to: victim)
      while true {
        let ws = try sup.workers("work")
        if ws.count == 1 && ws[0] != victim { break }
        guard Monotonic.nanoseconds() - t0 < 10_000_000_000 else {
          throw CLIError("spawn: no replacement")
        }
      }
      replace.append(Double(Monotonic.nanoseconds() - t0) / 1e6)
    }
    up.sort()
    replace.sort()
    return [
      BenchFigure(
        scenario: "spawn", name: "spawn → ready, median", value: BenchMath.quantile(up, 0.5),
        unit: "ms"),
      BenchFigure(
        scenario: "spawn", name: "spawn → ready, max", value: up.last ?? .nan, unit: "ms"),
      BenchFigure(
        scenario: "spawn", name: "kill -9 → replacement ready, median",
        value: BenchMath.quantile(replace, 0.5), unit: "ms", target: "≤ 50"),
      BenchFigure(
        scenario: "spawn", name: "kill -9 → replacement ready, max", value: replace.last ?? .nan,
        unit: "ms"),
    ]
  }

  // MARK: rss

  func rss() throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: workers))
    defer { sup.stop() }
    progress("rss: idle, then after draining 20000 jobs")
    usleep(300_000)
    let worker = try sup.workers("work").first!
    let idleSup = ResourceUsage.rss(of: sup.pid) ?? 0
    let idleWorker = ResourceUsage.rss(of: worker) ?? 0
    _ = try drainRun(sup: sup, count: 20_000, label: "rss")
    let busySup = ResourceUsage.rss(of: sup.pid) ?? 0
    let mb = { (b: UInt64) in Double(b) / 1_048_576 }
    return [
      BenchFigure(
        scenario: "rss", name: "idle worker", value: mb(idleWorker), unit: "MiB", target: "≤ 15"),
      BenchFigure(
        scenario: "rss", name: "supervisor, idle", value: mb(idleSup), unit: "MiB", target: "≤ 40"),
      BenchFigure(
        scenario: "rss", name: "supervisor, after 20000 jobs", value: mb(busySup), unit: "MiB",
        target: "≤ 40"),
    ]
  }
}
