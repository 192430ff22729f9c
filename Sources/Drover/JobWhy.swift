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
    WhyFacts.gather(
      job, pool: context.config.pool(forType: job.type), pools: context.config.pools.map(\.name),
      store: context.store, now: now
    ) { supervisorView(pool: $0, socket: context.config.control.socket) }
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
