import DroverCore
import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bench idle`: what an idle host pays for its pools. The supervisor's own CPU (user +
/// system from /proc) with `pools` pools of one idle worker each and no job, over a window of
/// at least 20 s once every worker is ready. Not in the default set: it starts 1,000 worker
/// processes (about 11 GiB of RSS in all).
extension BenchScenarios {
  func idle(pools count: Int = 1000) throws -> [BenchFigure] {
    let dir = try BenchDirectory()
    defer { dir.remove() }
    progress("idle: \(count) pools × 1 worker, starting them")
    let text = (1...count).map { pools("p\($0)", count: 1) }.joined(separator: "\n")
    let sup = try BenchSupervisor(dir: dir.path, pools: text)
    defer { sup.stop() }
    let deadline = Monotonic.nanoseconds() + 600_000_000_000
    while try readyWorkers(sup) < count {
      guard Monotonic.nanoseconds() < deadline else {
        throw CLIError("idle: the workers were not all ready within 10 minutes")
      }
      usleep(500_000)
    }
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

  /// Ready workers over every pool, from `ctl status`.
  private func readyWorkers(_ sup: BenchSupervisor) throws -> Int {
    let pools = try sup.status()["pools"]?.arrayValue ?? []
    return pools.reduce(0) { n, p in
      n + (p["workers"]?.arrayValue ?? []).filter { $0["ready"]?.boolValue == true }.count
    }
  }
}
