import DroverCore

/// A ready job a limited claim looks at, in claim order.
struct LimitCandidate {
  var job: ClaimedJob
  /// The key it was enqueued with (`--key`) or given by an earlier limited claim.
  var limitKey: String?
}

/// What a driver gives the limits' logic, inside the caller's write transaction. The logic
/// (`Limiter`) is shared so both drivers hold, start and release jobs by the same rules.
protocol LimitDriver {
  /// Up to `limit` ready (queued, not held) jobs of `types`, in claim order.
  func readyCandidates(types: [String], limit: Int) throws(StoreError) -> [LimitCandidate]
  /// A key's stored state (a new key: full bucket at `now`, not holding) with its running
  /// count among `limits.types`; `held` left at 0.
  func loadKey(_ limits: PoolLimits, key: String, now: Timestamp) throws(StoreError)
    -> (state: LimitKeyState, holding: Bool)
  /// Stores a key's bucket, block, holding flag and ready time.
  func saveKey(
    _ limits: PoolLimits, key: String, state: LimitKeyState, holding: Bool, readyAt: Timestamp?
  ) throws(StoreError)
  /// Takes a queued job out of the claim order, recording its key.
  func hold(_ id: JobID, key: String) throws(StoreError)
  /// Marks a candidate running (started at `now`, run by `worker`, leased to `owner`),
  /// recording its key; the caller counts the state change.
  func start(
    _ c: LimitCandidate, key: String, worker: Int32?, now: Timestamp, owner: OwnerID?
  ) throws(StoreError)
  /// Up to `limit` held jobs of the key among `limits.types`, in claim order.
  func heldJobs(_ limits: PoolLimits, key: String, limit: Int) throws(StoreError) -> [JobID]
  /// Puts held jobs back in the claim order.
  func unhold(_ ids: [JobID]) throws(StoreError)
  /// Keys whose `ready_at` is at or before `now`.
  func dueKeys(now: Timestamp) throws(StoreError) -> [(pool: String, key: String)]
  /// Keys holding jobs.
  func holdingKeys() throws(StoreError) -> [(pool: String, key: String)]
  /// Lets every held job of a key of a pool no longer limited go, and forgets the key.
  func releaseAll(pool: String, key: String) throws(StoreError)
  /// The earliest `ready_at` of any key.
  func nextReadyAt() throws(StoreError) -> Timestamp?
}

/// The limits' rules over a driver's primitives: a limited claim, the release of held jobs,
/// and a handler's push-back.
enum Limiter {
  /// At most this many jobs are held by one claim: the claim after it goes on (the result's
  /// `limitWork` names the pool), so a turn never holds a whole backlog at once.
  static let maxHeldPerClaim = 512

  /// Claims up to `p.limit` jobs in claim order, holding each job whose key cannot start one
  /// (full, out of tokens, blocked) instead. Returns the claimed jobs and whether the claim
  /// stopped at `maxHeldPerClaim` with ready jobs maybe left.
  static func claim(
    _ p: ClaimParams, _ limits: PoolLimits, on d: some LimitDriver, now: Timestamp,
    owner: OwnerID?
  ) throws(StoreError) -> (jobs: [ClaimedJob], cut: Bool) {
    var keys: [String: (state: LimitKeyState, holding: Bool)] = [:]
    var jobs: [ClaimedJob] = []
    var held = 0
    var cut = false
    while jobs.count < p.limit {
      let batch = try d.readyCandidates(types: p.types, limit: p.limit - jobs.count)
      if batch.isEmpty { break }
      for c in batch {
        let key = limits.key(explicit: c.limitKey, payload: c.job.payload)
        var k: (state: LimitKeyState, holding: Bool)
        if let known = keys[key] {
          k = known
        } else {
          k = try d.loadKey(limits, key: key, now: now)
        }
        if LimitGate.verdict(k.state, limits, now: now) == .open {
          try d.start(c, key: key, worker: p.worker(at: jobs.count), now: now, owner: owner)
          k.state = LimitGate.started(k.state, limits)
          jobs.append(c.job)
        } else {
          try d.hold(c.job.id, key: key)
          k.holding = true
          held += 1
        }
        keys[key] = k
      }
      if held >= maxHeldPerClaim {
        cut = true
        break
      }
    }
    for (key, k) in keys {
      let v = LimitGate.verdict(k.state, limits, now: now)
      // Still open with jobs held: the next commit's release lets more go.
      let readyAt = k.holding ? (v.readyAt ?? (v == .open ? now : nil)) : nil
      try d.saveKey(limits, key: key, state: k.state, holding: k.holding, readyAt: readyAt)
    }
    return (jobs, cut)
  }

  /// Lets as many held jobs of a key back into the claim order as it can start now; returns
  /// how many.
  @discardableResult
  static func release(_ limits: PoolLimits, key: String, on d: some LimitDriver, now: Timestamp)
    throws(StoreError) -> Int
  {
    var k = try d.loadKey(limits, key: key, now: now)
    guard k.holding else { return 0 }
    k.state.held = Int.max
    let room = LimitGate.releasable(k.state, limits, now: now)
    var released = 0
    if room > 0 {
      let ids = try d.heldJobs(limits, key: key, limit: room == Int.max ? 10_000 : room + 1)
      let take = Array(ids.prefix(room))
      try d.unhold(take)
      released = take.count
      k.holding = ids.count > take.count
    }
    let readyAt = k.holding ? LimitGate.verdict(k.state, limits, now: now).readyAt : nil
    try d.saveKey(limits, key: key, state: k.state, holding: k.holding, readyAt: readyAt)
    return released
  }

  /// A handler said its key is rate limited: nothing of the key starts before `until` (the
  /// job itself is already back in the queue, held).
  static func block(
    _ limits: PoolLimits, key: String, until: Timestamp, on d: some LimitDriver, now: Timestamp
  ) throws(StoreError) {
    var k = try d.loadKey(limits, key: key, now: now)
    k.state.blockedUntil = max(k.state.blockedUntil ?? until, until)
    try d.saveKey(limits, key: key, state: k.state, holding: true, readyAt: k.state.blockedUntil)
  }

  /// The commit's release step: the keys of the jobs it settled, the keys due by `now`, and
  /// with `sweep` every key holding jobs. Returns the pools that got jobs back.
  static func releaseStep(
    _ limits: [PoolLimits], settled: [(type: String, key: String)], sweep: Bool,
    on d: some LimitDriver, now: Timestamp
  ) throws(StoreError) -> Set<String> {
    var byPool: [String: PoolLimits] = [:]
    var byType: [String: PoolLimits] = [:]
    for l in limits {
      byPool[l.pool] = l
      for t in l.types { byType[t] = l }
    }
    var seen = Set<String>()
    var work = Set<String>()
    func visit(_ pool: String, _ key: String) throws(StoreError) {
      guard seen.insert(pool + "\u{1F}" + key).inserted else { return }
      if let l = byPool[pool] {
        if try release(l, key: key, on: d, now: now) > 0 { work.insert(pool) }
      } else {
        try d.releaseAll(pool: pool, key: key)
      }
    }
    for s in settled {
      if let l = byType[s.type] { try visit(l.pool, s.key) }
    }
    for k in try d.dueKeys(now: now) { try visit(k.pool, k.key) }
    if sweep { for k in try d.holdingKeys() { try visit(k.pool, k.key) } }
    return work
  }

  /// The pool's limits for a job type, among `limits`.
  static func forType(_ type: String, in limits: [PoolLimits]) -> PoolLimits? {
    limits.first { $0.types.contains(type) }
  }
}
