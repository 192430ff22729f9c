import DroverCore
import DroverStore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

extension BenchScenarios {
  /// `bench stall`: nothing slow on the loop. A store with `retained` completed jobs kept and
  /// `expired` more past retention (pruned in bounded batches while the run goes on); jobs
  /// flow at about 1,000/s over the control socket while `ctl status` is polled every 100 ms.
  /// Reports status reply times and the supervisor's worst loop turn (from `status`).
  func stall(retained: Int = 2_000_000, expired: Int = 500_000) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    progress("stall: seeding \(retained) retained and \(expired) expired completed jobs")
    var t0 = Monotonic.nanoseconds()
    do {
      let store = try SQLiteStore(path: dir.path + "/drover.db")
      let now = Timestamp.now()
      try store.seedFinished(count: retained, type: "history", finishedAt: now)
      try store.seedFinished(
        count: expired, type: "history", finishedAt: now.adding(.seconds(-10 * 86400)))
    }
    progress(
      "stall: seeded in \(String(format1: BenchMath.seconds(t0, Monotonic.nanoseconds()))) s")
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: workers))
    defer { sup.stop() }
    var poller = try ControlClient(socketPath: sup.config.control.socket)
    var feeder = try ControlClient(socketPath: sup.config.control.socket)
    defer {
      poller.close()
      feeder.close()
    }
    let before = try sup.status()
    progress("stall: \(seconds) s of 1000 jobs/s with status polled every 100 ms")
    let batch = [ControlRequest](
      repeating: .enqueue(EnqueueRequest(type: "work")), count: 100)
    var samples: [Double] = []
    t0 = Monotonic.nanoseconds()
    let end = t0 + Int64(seconds) * 1_000_000_000
    var tick = 0
    while Monotonic.nanoseconds() < end {
      let s0 = Monotonic.nanoseconds()
      let s = try poller.call(.status)
      samples.append(Double(Monotonic.nanoseconds() - s0) / 1e6)
      guard s["ok"]?.boolValue == true else { throw CLIError("status failed: \(s.render())") }
      _ = try feeder.pipeline(batch)
      tick += 1
      let next = t0 + Int64(tick) * 100_000_000
      let wait = next - Monotonic.nanoseconds()
      if wait > 0 { usleep(UInt32(wait / 1000)) }
    }
    let after = try sup.status()
    samples.sort()
    let turnMax = after["loop"]?["turn_max_ms"]?.doubleValue ?? .nan
    let pruned =
      (before["jobs"]?["completed"]?.intValue ?? 0) - (after["jobs"]?["completed"]?.intValue ?? 0)
      + Int64(tick * 100)
    let label = "\(retained / 1000)k rows"
    return [
      BenchFigure(
        scenario: "stall", name: "ctl status p50 at \(label)",
        value: BenchMath.quantile(samples, 0.5), unit: "ms"),
      BenchFigure(
        scenario: "stall", name: "ctl status p99 at \(label)",
        value: BenchMath.quantile(samples, 0.99), unit: "ms", target: "≤ 5"),
      BenchFigure(
        scenario: "stall", name: "ctl status max at \(label)", value: samples.last ?? .nan,
        unit: "ms"),
      BenchFigure(
        scenario: "stall", name: "worst loop turn (prune running)", value: turnMax, unit: "ms",
        target: "≤ 20"),
      BenchFigure(
        scenario: "stall", name: "expired jobs pruned during the run", value: Double(pruned),
        unit: "jobs"),
    ]
  }
}

extension String {
  /// A number with one decimal.
  init(format1 v: Double) { self = String((v * 10).rounded() / 10) }
}

extension BenchScenarios {
  /// `bench wakeup`: pick-up of jobs that reach the store with no nudge at all (another
  /// process writes the file; the supervisor notices by itself). Store times: `created_at` →
  /// `started_at` of each job, one job at a time, idle supervisor.
  func wakeup(count: Int = 100) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try BenchSupervisor(dir: dir.path, pools: pools("work", count: 1))
    defer { sup.stop() }
    let store = try sup.store()
    progress("wakeup: \(count) jobs written straight into the store, no wake")
    var ids: [JobID] = []
    for _ in 0..<count {
      ids.append(try store.enqueue([EnqueueParams(type: "work")])[0].id)
      // Idle between jobs, so each is a fresh pick-up by an idle supervisor.
      usleep(150_000)
    }
    var samples: [Double] = []
    let deadline = Monotonic.nanoseconds() + 30_000_000_000
    for id in ids {
      while true {
        guard let job = try store.job(id) else { throw CLIError("job \(id) vanished") }
        if let started = job.startedAt {
          samples.append(Double(started.micros - job.createdAt.micros) / 1000)
          break
        }
        guard Monotonic.nanoseconds() < deadline else {
          throw CLIError("job \(id) was never picked up")
        }
        usleep(10_000)
      }
    }
    samples.sort()
    return [
      BenchFigure(
        scenario: "wakeup", name: "no-nudge pick-up p50", value: BenchMath.quantile(samples, 0.5),
        unit: "ms"),
      BenchFigure(
        scenario: "wakeup", name: "no-nudge pick-up max", value: samples.last ?? .nan, unit: "ms",
        target: "≤ 200"),
    ]
  }
}
