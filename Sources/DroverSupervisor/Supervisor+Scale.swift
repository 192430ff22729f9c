import DroverCore
import DroverStore
import DroverSystem
import Logging

/// Desired state, then converge: `scale`, autoscaling and reload only set a pool's target;
/// `reconcile` is the one place that spawns and retires to meet it.
extension Supervisor {
  func reconcile() {
    let now = clock.monotonic()
    var anyRemoved = false
    for p in pools {
      anyRemoved = anyRemoved || p.removed
      let want = (state == .stopping || p.removed) ? 0 : p.target
      // Every turn visits every pool: the common case (at its target) costs a count, not an
      // array of its workers.
      if p.liveWorkerCount == want { continue }
      let live = p.liveWorkers
      if live.count < want {
        if let notBefore = p.restartNotBefore, now < notBefore { continue }
        // While crash-looping, one probe worker at a time.
        let n = p.crashLooping ? min(1, want - live.count) : want - live.count
        if p.crashLooping && p.workers.contains(where: { $0.phase == .booting }) { continue }
        for _ in 0..<n { spawn(p) }
      } else if live.count > want {
        // Idle workers first, the longest idle first; busy ones finish their jobs then exit.
        let victims = live.sorted {
          ($0.busy ? 1 : 0, $0.idleSince) < ($1.busy ? 1 : 0, $1.idleSince)
        }
        for w in victims.prefix(live.count - want) { retire(w) }
      }
    }
    if anyRemoved { pools.removeAll { $0.removed && $0.workers.isEmpty } }
  }

  /// Automatic targets from the backlog: up at once, down only for workers idle longer than
  /// the pool's `idle_timeout`. Reads the backlog only when a pool could change.
  func autoscale(now: MonotonicInstant) {
    let autoPools = pools.filter { $0.auto && !$0.removed && !$0.paused }
    guard !autoPools.isEmpty, state != .stopping else { return }
    let candidates = autoPools.filter { p in
      let live = p.liveWorkers
      let full = live.allSatisfy { $0.freeSlots == 0 || $0.phase == .booting }
      let idleLong = live.contains {
        !$0.busy && now - $0.idleSince >= p.config.idleTimeout
      }
      return (full && live.count < p.config.max) || (idleLong && live.count > p.config.min)
        || p.target < p.config.min || p.target > p.config.max
    }
    guard !candidates.isEmpty else { return }
    guard let backlog = try? store.backlog(now: clock.wall()) else { return }
    for p in candidates {
      let queued = p.config.types.reduce(0) { $0 + (backlog[$1] ?? 0) }
      let need = PoolPolicy.desiredWorkers(
        running: p.runningJobs, backlog: queued, concurrency: p.config.concurrency,
        min: p.config.min, max: p.config.max)
      let live = p.liveWorkers
      let idleLong = live.filter {
        !$0.busy && now - $0.idleSince >= p.config.idleTimeout
      }.count
      let newTarget = need >= live.count ? need : max(need, live.count - idleLong)
      if newTarget != p.target {
        log(
          .info, "autoscale \(p.target) → \(newTarget) workers (backlog \(queued))",
          ["pool": "\(p.name)"])
        p.target = min(p.config.max, max(p.config.min, newTarget))
      }
    }
  }
}
