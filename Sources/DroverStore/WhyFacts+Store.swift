public import DroverCore

extension WhyFacts {
  /// What `JobExplanation` needs for one job, read from `store`: the limit hold of a held
  /// job, the ready jobs ahead of a queued one (both counted up to 10 000). Shared by
  /// `drover why` and the dashboard's job page, which differ only in how they see the
  /// supervisor (`supervisor`: asked over the control socket, or the HTTP layer's status).
  public static func gather(
    _ job: Job, pool: PoolConfig?, pools: [String], store: any JobStore, now: Timestamp,
    supervisor: (String) -> SupervisorView?
  ) -> WhyFacts {
    var facts = WhyFacts(pool: pool?.name, pools: pools)
    guard job.state == .queued || job.state == .scheduled, let pool else { return facts }
    facts.supervisor = supervisor(pool.name)
    let cap = 10_000
    if job.state == .queued, job.held, let limits = pool.limits {
      let key = job.limitKey ?? limits.key(explicit: nil, payload: job.payload)
      if let s = try? store.limitState(limits, key: key, now: now, cap: cap) {
        facts.limitHold = LimitHold(limits: limits, key: key, state: s, capped: s.held >= cap)
      }
    }
    if job.state == .queued, !job.held {
      let params = ReadyAheadParams(
        types: pool.types, priority: job.priority, runAt: job.runAt, id: job.id, cap: cap)
      if let n = try? store.readyAhead(params) {
        facts.readyAhead = n
        facts.readyAheadCapped = n >= cap
      }
    }
    return facts
  }
}
