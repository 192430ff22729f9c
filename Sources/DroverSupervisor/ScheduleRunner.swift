import DroverCore
import DroverSchedule
import DroverStore

/// The supervisor's schedules: when each fires next, and what to record when it does.
///
/// Each slot goes through `fireSlots`, which records `(schedule, slot)` at most once ever and
/// enqueues the slot's job in the same transaction: a restart, a reload, a clock step back or
/// a second supervisor cannot enqueue a slot twice. Slots are only ever computed after the
/// newest recorded one, so a schedule never goes back in time.
///
/// Catch-up, when the supervisor (re)starts or the loop stalled: the slots missed since the
/// newest recorded one are `none` (the newest is recorded as passed, without a job),
/// `latest` (the newest runs) or `all` (up to `catch_up_limit` of the newest run; the older
/// pass). A schedule that never fired starts from now.
final class ScheduleRunner {
  final class Entry {
    var config: ScheduleConfig
    let rule: ScheduleRule
    /// The next slot to fire (nil: none in the next ten years).
    var next: Timestamp?
    /// The job of the newest fired slot (for `overlap = "skip"`).
    var lastJob: JobID?
    /// The newest recorded slot.
    var last: Timestamp?

    init(config: ScheduleConfig, rule: ScheduleRule) {
      self.config = config
      self.rule = rule
    }
  }

  var entries: [Entry] = []
  /// Whether the store's records have been read (at the first turn as leader).
  var loaded = false

  init(_ schedules: [ScheduleConfig]) throws(ScheduleRule.UnknownZone) {
    entries = try schedules.map { s throws(ScheduleRule.UnknownZone) in
      Entry(config: s, rule: try ScheduleRule(s))
    }
  }

  /// The config changed: new rules, keeping what is known of the schedules that stay.
  func replace(with schedules: [ScheduleConfig]) throws(ScheduleRule.UnknownZone) {
    var old: [String: Entry] = [:]
    for e in entries { old[e.config.name] = e }
    entries = try schedules.map { s throws(ScheduleRule.UnknownZone) in
      let e = Entry(config: s, rule: try ScheduleRule(s))
      if let o = old[s.name] {
        e.last = o.last
        e.lastJob = o.lastJob
      }
      return e
    }
    for e in entries where loaded {
      e.next = e.rule.fires(after: e.last ?? .now(), count: 1).first?.utc
    }
  }

  /// The slots due at `now`, as store records: catch-up on the first call, then every slot
  /// whose time came. `live(id)` says whether a job is still scheduled, queued or running
  /// (for `overlap = "skip"`); `paused` names the paused schedules; `job` builds a slot's
  /// job.
  func due(
    now: Timestamp, lastSlots: () throws(StoreError) -> [String: LastSlot],
    paused: Set<String>, live: (JobID) -> Bool,
    job: (ScheduleConfig, Timestamp) -> EnqueueParams
  ) throws(StoreError) -> [SlotFire] {
    if !loaded {
      let recorded = try lastSlots()
      for e in entries {
        e.last = recorded[e.config.name]?.slot
        e.lastJob = recorded[e.config.name]?.job
      }
      loaded = true
    }
    var out: [SlotFire] = []
    for e in entries {
      guard let last = e.last else {
        // Never fired: start from now (the first slot after it), nothing to catch up.
        if e.next == nil { e.next = e.rule.fires(after: now, count: 1).first?.utc }
        if let n = e.next, n <= now {
          out.append(fire(e, n, now: now, paused: paused, live: live, job: job))
        }
        continue
      }
      if let n = e.next, n > now { continue }
      let missed = e.rule.fires(after: last, through: now, limit: 1_000_000).map(\.utc)
      guard let newest = missed.last else {
        e.next = e.rule.fires(after: max(last, now), count: 1).first?.utc
        continue
      }
      // One slot due on time is not a catch-up: it fires whatever `catch_up` says.
      let onTime = missed.count == 1 && now.micros - newest.micros < 5_000_000
      switch onTime ? .all : e.config.catchUp {
      case .none:
        out.append(SlotFire(schedule: e.config.name, slot: newest, job: nil))
        e.last = newest
      case .latest:
        out.append(fire(e, newest, now: now, paused: paused, live: live, job: job))
      case .all:
        for slot in missed.suffix(e.config.catchUpLimit) {
          out.append(fire(e, slot, now: now, paused: paused, live: live, job: job))
        }
      }
      e.next = e.rule.fires(after: newest, count: 1).first?.utc
    }
    return out
  }

  private func fire(
    _ e: Entry, _ slot: Timestamp, now: Timestamp, paused: Set<String>, live: (JobID) -> Bool,
    job: (ScheduleConfig, Timestamp) -> EnqueueParams
  ) -> SlotFire {
    e.last = slot
    e.next = e.rule.fires(after: slot, count: 1).first?.utc
    if paused.contains(e.config.name) {
      return SlotFire(schedule: e.config.name, slot: slot, job: nil)
    }
    if e.config.overlap == .skip, let previous = e.lastJob, live(previous) {
      return SlotFire(schedule: e.config.name, slot: slot, job: nil)
    }
    return SlotFire(schedule: e.config.name, slot: slot, job: job(e.config, slot))
  }

  /// Records what the store did: the jobs of fresh slots (and of slots fired before).
  func recorded(_ results: [SlotResult]) {
    for r in results {
      guard let e = entries.first(where: { $0.config.name == r.schedule }) else { continue }
      if let job = r.job { e.lastJob = job }
    }
  }

  /// The earliest next slot of any schedule.
  var nextDue: Timestamp? { entries.compactMap(\.next).min() }
}
