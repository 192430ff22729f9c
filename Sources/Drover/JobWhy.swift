import DroverCore
import DroverStore
import DroverWire

/// Gathers what `JobExplanation` needs for one job: its pool from the config, the running
/// supervisor's view of that pool (asked over the control socket, briefly: none answering
/// is itself a fact), and the ready jobs ahead of it from the store.
enum JobWhy {
  static func line(_ job: Job, context: CommandContext, now: Timestamp = .now()) -> String {
    JobExplanation.line(job, facts(job, context: context, now: now), now: now)
  }

  static func facts(_ job: Job, context: CommandContext, now: Timestamp) -> WhyFacts {
    let pool = context.config.pool(forType: job.type)
    var facts = WhyFacts(pool: pool?.name, pools: context.config.pools.map(\.name))
    guard job.state == .queued || job.state == .scheduled, let pool else { return facts }
    facts.supervisor = supervisorView(pool: pool.name, socket: context.config.control.socket)
    if job.state == .queued, job.held, let limits = pool.limits {
      let key = job.limitKey ?? limits.key(explicit: nil, payload: job.payload)
      let cap = 10_000
      if let s = try? context.store.limitState(limits, key: key, now: now, cap: cap) {
        facts.limitHold = WhyFacts.LimitHold(
          limits: limits, key: key, state: s, capped: s.held >= cap)
      }
    }
    if job.state == .queued, !job.held {
      let cap = 10_000
      let params = ReadyAheadParams(
        types: pool.types, priority: job.priority, runAt: job.runAt, id: job.id, cap: cap)
      if let n = try? context.store.readyAhead(params) {
        facts.readyAhead = n
        facts.readyAheadCapped = n >= cap
      }
    }
    return facts
  }

  /// The supervisor's state and one pool's workers from `status`; nil when none answers.
  static func supervisorView(pool: String, socket: String) -> WhyFacts.SupervisorView? {
    guard let reply = TopView.status(socket) else { return nil }
    let p = reply["pools"]?.arrayValue?.first { $0["name"]?.stringValue == pool }
    let workers = p?["workers"]?.arrayValue ?? []
    return WhyFacts.SupervisorView(
      state: reply["state"]?.stringValue ?? "?", paused: p?["paused"]?.boolValue == true,
      crashLooping: p?["crash_looping"]?.boolValue == true,
      workers: workers.filter { $0["ready"]?.boolValue == true }.count,
      busy: workers.filter { $0["busy"]?.boolValue == true }.count)
  }
}
