import DroverCore
import DroverStore
import Logging

/// Schedules at the tick: the slots whose time came are recorded and their jobs enqueued in
/// one transaction (`fireSlots`), by the leader of `schedules` only.
extension Supervisor {
  func runSchedules() {
    guard !schedules.entries.isEmpty, state != .stopping else { return }
    let now = clock.wall()
    if schedules.loaded, let next = schedules.nextDue, next > now { return }
    do throws(StoreError) {
      // With one supervisor per SQLite file this always succeeds; with a shared store only
      // one supervisor enqueues a schedule's slots (each slot is recorded once either way).
      guard
        try store.acquireLeadership(
          LeadershipParams(name: "schedules", owner: owner, lease: options.lease, now: now))
      else { return }
      let paused = try store.pausedSchedules()
      let store = self.store
      let due = try schedules.due(
        now: now, lastSlots: { () throws(StoreError) in try store.lastSlots() },
        paused: paused,
        live: { id in
          guard let job = try? store.job(id) else { return false }
          return !job.state.isFinal
        },
        job: { s, slot in self.scheduledJob(s, slot: slot, now: now) })
      log(.debug, "schedules: \(due.count) due; next \(schedules.nextDue?.rfc3339 ?? "none")")
      guard !due.isEmpty else { return }
      let results = try store.fireSlots(due)
      schedules.recorded(results)
      var fired = 0
      for (fire, r) in zip(due, results) where r.fresh {
        if let id = r.job {
          fired += 1
          log(
            .info, "schedule fired",
            ["schedule": "\(fire.schedule)", "slot": "\(fire.slot.rfc3339)", "job_id": "\(id)"])
        } else {
          log(
            .info, "schedule slot passed without a job",
            ["schedule": "\(fire.schedule)", "slot": "\(fire.slot.rfc3339)"])
        }
      }
      if fired > 0 { noteStoreChanged() }
    } catch {
      log(.error, "schedules: \(error); will retry at the next tick")
    }
  }

  /// The job a schedule's slot enqueues: its type, payload and priority, its pool's attempts,
  /// the unique key `schedule:NAME:SLOT` (CONTRACT.md "Schedules").
  func scheduledJob(_ s: ScheduleConfig, slot: Timestamp, now: Timestamp) -> EnqueueParams {
    EnqueueParams(
      type: s.type, payload: s.payload.render(), priority: s.priority, runAt: now,
      maxAttempts: config.pool(forType: s.type)?.maxAttempts ?? 20,
      uniqueKey: "schedule:\(s.name):\(slot.rfc3339)", now: now,
      maxPayload: config.store.maxPayload)
  }
}
