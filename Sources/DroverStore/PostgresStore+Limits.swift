public import DroverCore

/// The limits' primitives on PostgreSQL (see `LimitDriver`), inside the caller's transaction,
/// which holds `PostgresStore.limitsLock`: one supervisor at a time counts a key's running
/// jobs and spends its tokens.
struct PGLimits: LimitDriver {
  let store: PostgresStore
  var db: PGConnection { store.db }

  func readyCandidates(types: [String], limit: Int) throws(StoreError) -> [LimitCandidate] {
    let r = try db.exec(
      """
      SELECT r.id, r.type, r.payload, r.payload_raw, r.attempts, r.max_attempts, r.priority,
        r.run_at, r.snoozes, r.limit_key, r.traceparent
      FROM unnest($1::text[]) AS t(type)
      CROSS JOIN LATERAL (
        SELECT * FROM drover_jobs WHERE state = 1 AND NOT held AND type = t.type
        ORDER BY priority DESC, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) AS r
      ORDER BY r.priority DESC, r.run_at, r.id LIMIT $2
      """, PGArray.texts(types), limit)
    return (0..<r.count).map { i in
      LimitCandidate(
        job: ClaimedJob(
          id: r.int64(i, 0), type: r.text(i, 1), payload: PostgresStore.payload(r, i, 2),
          attempt: r.int(i, 4) + 1, maxAttempts: r.int(i, 5), priority: r.int(i, 6),
          runAt: Timestamp(micros: r.int64(i, 7)), snoozes: r.int(i, 8),
          traceparent: r.optionalText(i, 10)),
        limitKey: r.optionalText(i, 9))
    }
  }

  func loadKey(_ limits: PoolLimits, key: String, now: Timestamp) throws(StoreError)
    -> (state: LimitKeyState, holding: Bool)
  {
    let r = try db.exec(
      """
      SELECT (SELECT count(*) FROM drover_jobs
              WHERE state = 2 AND limit_key IS NOT NULL AND limit_key = $3
                AND type = ANY($4::text[])),
        k.tokens, k.tokens_at, k.blocked_until, k.holding
      FROM (SELECT 1) AS one
      LEFT JOIN drover_limit_keys AS k ON k.pool = $1 AND k.key = $2
      """, limits.pool, key, key, PGArray.texts(limits.types))
    var state = LimitKeyState(
      running: r.int(0, 0), tokens: Double(limits.rate?.burst ?? 0), tokensAt: now)
    var holding = false
    if let at = r.optionalInt64(0, 2) {
      state.tokens = Double(r.text(0, 1)) ?? 0
      state.tokensAt = Timestamp(micros: at)
      state.blockedUntil = r.optionalInt64(0, 3).map(Timestamp.init(micros:))
      holding = r.bool(0, 4)
    }
    return (LimitGate.refilled(state, limits, now: now), holding)
  }

  func saveKey(
    _ limits: PoolLimits, key: String, state: LimitKeyState, holding: Bool, readyAt: Timestamp?
  ) throws(StoreError) {
    try db.exec(
      """
      INSERT INTO drover_limit_keys AS k
        (pool, key, tokens, tokens_at, blocked_until, holding, ready_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (pool, key) DO UPDATE SET tokens = $3, tokens_at = $4, blocked_until = $5,
        holding = $6, ready_at = $7
      """, limits.pool, key, String(state.tokens), state.tokensAt, state.blockedUntil, holding,
      readyAt)
  }

  func hold(_ id: JobID, key: String) throws(StoreError) {
    try db.exec("UPDATE drover_jobs SET held = true, limit_key = $2 WHERE id = $1", id, key)
  }

  func start(
    _ c: LimitCandidate, key: String, worker: Int32?, now: Timestamp, owner: OwnerID?
  ) throws(StoreError) {
    try db.exec(
      """
      WITH s AS (
        UPDATE drover_jobs SET state = 2, started_at = $2, worker_pid = $3, owner = $4,
          limit_key = $5
        WHERE id = $1 RETURNING type),
      \(PostgresStore.countMoves(
        "SELECT type, 1::smallint AS st, -1 AS d FROM s UNION ALL SELECT type, 2::smallint, 1 FROM s",
        slot: 6))
      SELECT 1
      """, c.job.id, now, worker, owner, key, Int(store.slot))
  }

  func heldJobs(_ limits: PoolLimits, key: String, limit: Int) throws(StoreError) -> [JobID] {
    let r = try db.exec(
      """
      SELECT h.id FROM unnest($2::text[]) AS t(type)
      CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM drover_jobs
        WHERE state = 1 AND held AND limit_key = $1 AND type = t.type
        ORDER BY priority DESC, run_at, id LIMIT $3) AS h
      ORDER BY h.priority DESC, h.run_at, h.id LIMIT $3
      """, key, PGArray.texts(limits.types), limit)
    return (0..<r.count).map { r.int64($0, 0) }
  }

  func unhold(_ ids: [JobID]) throws(StoreError) {
    guard !ids.isEmpty else { return }
    let r = try db.exec(
      """
      WITH u AS (
        UPDATE drover_jobs SET held = false WHERE id = ANY($1::bigint[]) AND state = 1
        RETURNING type)
      SELECT count(*) FROM (SELECT pg_notify($2, d.type) FROM (SELECT DISTINCT type FROM u) AS d)
        AS n
      """, PGArray.ints(ids), store.channel)
    _ = r
  }

  func dueKeys(now: Timestamp) throws(StoreError) -> [(pool: String, key: String)] {
    pairs(try db.exec("SELECT pool, key FROM drover_limit_keys WHERE ready_at <= $1", now))
  }

  func holdingKeys() throws(StoreError) -> [(pool: String, key: String)] {
    pairs(try db.exec("SELECT pool, key FROM drover_limit_keys WHERE holding"))
  }

  private func pairs(_ r: PGResult) -> [(pool: String, key: String)] {
    (0..<r.count).map { (r.text($0, 0), r.text($0, 1)) }
  }

  func releaseAll(pool: String, key: String) throws(StoreError) {
    try db.exec(
      "UPDATE drover_jobs SET held = false WHERE state = 1 AND held AND limit_key = $1", key)
    try db.exec("DELETE FROM drover_limit_keys WHERE pool = $1 AND key = $2", pool, key)
  }

  func nextReadyAt() throws(StoreError) -> Timestamp? {
    try db.exec("SELECT min(ready_at) FROM drover_limit_keys").optionalInt64(0, 0)
      .map(Timestamp.init(micros:))
  }
}

extension PostgresStore {
  /// The advisory lock every transaction that holds, starts or releases limited jobs takes
  /// first ("DRVR", then 2).
  static let limitsLock: Int64 = 0x4452_5652_0000_0002

  /// See `JobStore.limitState`.
  public func limitState(_ limits: PoolLimits, key: String, now: Timestamp, cap: Int)
    throws(StoreError) -> LimitKeyState
  {
    try read { () throws(StoreError) in
      let d = PGLimits(store: self)
      var state = try d.loadKey(limits, key: key, now: now).state
      state.held = try d.heldJobs(limits, key: key, limit: cap).count
      return state
    }
  }
}

extension PostgresStore {
  /// The limit work of a commit, after its pipelines and before its COMMIT, under the limits
  /// lock: rate-limited jobs held and their keys blocked, the release step, limited claims.
  func applyLimits(
    _ batch: StoreBatch, into result: inout BatchResult, settled: [(type: String, key: String)],
    rateHolds: [(id: JobID, limits: PoolLimits, key: String, until: Timestamp)], now: Timestamp,
    owner: OwnerID?
  ) throws(StoreError) {
    let d = PGLimits(store: self)
    for h in rateHolds {
      try db.exec("UPDATE drover_jobs SET held = true WHERE id = $1 AND state = 1", h.id)
      try Limiter.block(h.limits, key: h.key, until: h.until, on: d, now: now)
    }
    if !batch.limits.isEmpty || batch.sweepLimits {
      result.limitWork = try Limiter.releaseStep(
        batch.limits, settled: settled, sweep: batch.sweepLimits, on: d, now: now)
    }
    for (i, c) in batch.claims.enumerated() where c.limit > 0 {
      guard let l = c.limits else {
        result.claimed[i] = Self.claimed(try db.exec(claimStatement(c, now: now, owner: owner)))
        continue
      }
      var seen = Set<String>()
      var claim = c
      claim.types = c.types.filter { seen.insert($0).inserted }
      let (jobs, cut) = try Limiter.claim(claim, l, on: d, now: now, owner: owner)
      if cut { result.limitWork.insert(l.pool) }
      result.claimed[i] = jobs
    }
    result.nextLimitAt = try d.nextReadyAt()
  }
}
