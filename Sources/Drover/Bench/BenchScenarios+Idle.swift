import DroverCore
import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bench idle` and `bench pools`: what a host with many pools pays for them.
///
/// `bench idle`: The supervisor's own CPU (user +
/// system from /proc) with `pools` pools of one idle worker each and no job, over a window of
/// at least 20 s once every worker is ready. Not in the default set: it starts 1,000 worker
/// processes (about 11 GiB of RSS in all).
extension BenchScenarios {
  func idle(pools count: Int = 1000) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try startPools(count, in: dir, label: "idle")
    defer { sup.stop() }
    // The start's aftermath (first samples, first beats) settles before the window opens.
    sleep(5)
    let window = max(seconds, 20)
    progress("idle: all ready; measuring \(window) s")
    guard let before = ResourceUsage.cpuTime(of: sup.pid) else { return [] }
    sleep(UInt32(window))
    guard let after = ResourceUsage.cpuTime(of: sup.pid) else { return [] }
    let share = (after - before) / Duration.seconds(window) * 100
    return [
      BenchFigure(
        scenario: "idle", name: "supervisor CPU, \(count) pools × 1 idle worker", value: share,
        unit: "% of a core", target: "≤ 1")
    ]
  }

  /// `bench pools`: a drain of `jobs` no-op jobs dealt over `count` pools of one worker each
  /// (pool `pN` runs type `pN`): jobs/s, the supervisor's CPU per job and jobs per loop turn,
  /// as `bench drain` measures them. What a loop whose turns visit every pool pays. Not in the
  /// default set, for the same reason as `idle`.
  func drainPools(pools count: Int = 1000) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    let sup = try startPools(count, in: dir, label: "pools")
    defer { sup.stop() }
    let run = try drainRunWithCPU(
      sup: sup, count: jobs, label: "pools", pool: nil, types: (1...count).map { "p\($0)" })
    return drainFigures(
      run, scenario: "pools", name: "\(jobs) no-op jobs over \(count) pools × 1 worker")
  }

  /// A supervisor on `count` pools of one no-op worker each, returned once every worker is
  /// ready.
  private func startPools(_ count: Int, in dir: BenchDirectory, label: String) throws
    -> BenchSupervisor
  {
    progress("\(label): \(count) pools × 1 worker, starting them")
    let text = (1...count).map { pools("p\($0)", count: 1) }.joined(separator: "\n")
    let sup = try BenchSupervisor(dir: dir.path, pools: text)
    let deadline = Monotonic.nanoseconds() + 600_000_000_000
    while try readyWorkers(sup) < count {
      guard Monotonic.nanoseconds() < deadline else {
        sup.stop()
        throw CLIError("\(label): the workers were not all ready within 10 minutes")
      }
      usleep(500_000)
    }
    return sup
  }

  /// Ready workers over every pool, from `ctl status`.
  private func readyWorkers(_ sup: BenchSupervisor) throws -> Int {
    let pools = try sup.status()["pools"]?.arrayValue ?? []
    return pools.reduce(0) { n, p in
      n + (p["workers"]?.arrayValue ?? []).filter { $0["ready"]?.boolValue == true }.count
    }
  }
}
