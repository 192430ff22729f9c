import CSQLite
public import DroverCore

/// The limits' primitives on SQLite (see `LimitDriver`), inside the store's write transaction.
struct SQLiteLimits: LimitDriver {
  let store: SQLiteStore
  var db: SQLiteConnection { store.db }

  static let candidatesSQL: SQLText = """
    SELECT id, payload, attempts, max_attempts, priority, run_at, snoozes, limit_key, traceparent
    FROM jobs INDEXED BY jobs_ready
    WHERE state = 1 AND held = 0 AND type = ?1 ORDER BY priority DESC, run_at, id LIMIT ?2
    """

  func readyCandidates(types: [String], limit: Int) throws(StoreError) -> [LimitCandidate] {
    var out: [LimitCandidate] = []
    let st = try db.prepare(Self.candidatesSQL)
    defer { st.reset() }
    for type in types {
      st.reset()
      try st.bind(type, limit)
      while try st.step() {
        out.append(
          LimitCandidate(
            job: ClaimedJob(
              id: st.int64(0), type: type, payload: st.text(1), attempt: st.int(2) + 1,
              maxAttempts: st.int(3), priority: st.int(4), runAt: Timestamp(micros: st.int64(5)),
              snoozes: st.int(6), traceparent: st.optionalText(8)),
            limitKey: st.optionalText(7)))
      }
    }
    return LimitCandidate.inClaimOrder(out, limit: limit, types: types.count)
  }

  static let runningSQL: SQLText = """
    SELECT count(*) FROM jobs INDEXED BY jobs_limit_running
    WHERE state = 2 AND limit_key IS NOT NULL AND limit_key = ?1 AND type = ?2
    """
  static let keySQL: SQLText = """
    SELECT tokens, tokens_at, blocked_until, holding FROM limit_keys WHERE pool = ?1 AND key = ?2
    """

  func loadKey(_ limits: PoolLimits, key: String, now: Timestamp) throws(StoreError)
    -> (state: LimitKeyState, holding: Bool)
  {
    var running = 0
    for type in limits.types { running += Int(try db.int64(Self.runningSQL, key, type) ?? 0) }
    let st = try db.prepare(Self.keySQL)
    defer { st.reset() }
    try st.bind(limits.pool, key)
    var state = LimitKeyState(
      running: running, tokens: Double(limits.rate?.burst ?? 0), tokensAt: now)
    var holding = false
    if try st.step() {
      state.tokens = st.double(0)
      state.tokensAt = Timestamp(micros: st.int64(1))
      state.blockedUntil = st.optionalInt64(2).map(Timestamp.init(micros:))
      holding = st.int(3) != 0
    }
    return (LimitGate.refilled(state, limits, now: now), holding)
  }

  func saveKey(
    _ limits: PoolLimits, key: String, state: LimitKeyState, holding: Bool, readyAt: Timestamp?
  ) throws(StoreError) {
    try db.run(
      """
      INSERT INTO limit_keys (pool, key, tokens, tokens_at, blocked_until, holding, ready_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
      ON CONFLICT (pool, key) DO UPDATE SET tokens = ?3, tokens_at = ?4, blocked_until = ?5,
        holding = ?6, ready_at = ?7
      """, limits.pool, key, state.tokens, state.tokensAt, state.blockedUntil, holding, readyAt)
  }

  func hold(_ id: JobID, key: String) throws(StoreError) {
    try db.run("UPDATE jobs SET held = 1, limit_key = ?2 WHERE id = ?1", id, key)
  }

  func start(
    _ c: LimitCandidate, key: String, worker: Int32?, now: Timestamp, owner: OwnerID?
  ) throws(StoreError) {
    try db.run(
      """
      UPDATE jobs SET state = 2, started_at = ?2, worker_pid = ?3, owner = ?4, limit_key = ?5
      WHERE id = ?1
      """, c.job.id, now, worker, owner, key)
  }

  static let heldSQL: SQLText = """
    SELECT id, priority, run_at FROM jobs INDEXED BY jobs_held
    WHERE state = 1 AND held = 1 AND limit_key = ?1 AND type = ?2
    ORDER BY priority DESC, run_at, id LIMIT ?3
    """

  func heldJobs(_ limits: PoolLimits, key: String, limit: Int) throws(StoreError) -> [JobID] {
    var found: [(id: JobID, priority: Int, runAt: Int64)] = []
    let st = try db.prepare(Self.heldSQL)
    defer { st.reset() }
    for type in limits.types {
      st.reset()
      try st.bind(key, type, limit)
      while try st.step() { found.append((st.int64(0), st.int(1), st.int64(2))) }
    }
    if limits.types.count > 1 {
      found.sort { ($0.priority, $1.runAt, $1.id) > ($1.priority, $0.runAt, $0.id) }
    }
    return found.prefix(limit).map(\.id)
  }

  func unhold(_ ids: [JobID]) throws(StoreError) {
    for id in ids { try db.run("UPDATE jobs SET held = 0 WHERE id = ?1 AND state = 1", id) }
  }

  func dueKeys(now: Timestamp) throws(StoreError) -> [(pool: String, key: String)] {
    try keys(
      "SELECT pool, key FROM limit_keys INDEXED BY limit_keys_ready WHERE ready_at <= ?1", now)
  }

  func holdingKeys() throws(StoreError) -> [(pool: String, key: String)] {
    try keys("SELECT pool, key FROM limit_keys INDEXED BY limit_keys_holding WHERE holding = 1")
  }

  private func keys(_ sql: SQLText, _ now: Timestamp? = nil) throws(StoreError)
    -> [(pool: String, key: String)]
  {
    let st = try db.prepare(sql)
    defer { st.reset() }
    if let now { try st.bind(now) }
    var out: [(pool: String, key: String)] = []
    while try st.step() { out.append((st.text(0), st.text(1))) }
    return out
  }

  func releaseAll(pool: String, key: String) throws(StoreError) {
    try db.run(
      "UPDATE jobs INDEXED BY jobs_held SET held = 0 WHERE state = 1 AND held = 1 AND limit_key = ?1",
      key)
    try db.run("DELETE FROM limit_keys WHERE pool = ?1 AND key = ?2", pool, key)
  }

  func nextReadyAt() throws(StoreError) -> Timestamp? {
    try db.int64(
      "SELECT min(ready_at) FROM limit_keys INDEXED BY limit_keys_ready WHERE ready_at IS NOT NULL"
    ).map(Timestamp.init(micros:))
  }
}

extension LimitCandidate {
  /// Candidates of several types merged into claim order (priority descending, then run_at and
  /// id ascending), the first `limit`: the first `limit` of each type hold the first `limit`
  /// of all.
  static func inClaimOrder(_ c: [LimitCandidate], limit: Int, types: Int) -> [LimitCandidate] {
    guard types > 1 else { return c }
    let sorted = c.sorted {
      ($0.job.priority, $1.job.runAt, $1.job.id) > ($1.job.priority, $0.job.runAt, $0.job.id)
    }
    return Array(sorted.prefix(limit))
  }
}

extension SQLiteStore {
  /// See `JobStore.limitState`.
  public func limitState(_ limits: PoolLimits, key: String, now: Timestamp, cap: Int)
    throws(StoreError) -> LimitKeyState
  {
    try db.transaction(write: false) { () throws(StoreError) in
      let d = SQLiteLimits(store: self)
      var state = try d.loadKey(limits, key: key, now: now).state
      state.held = try d.heldJobs(limits, key: key, limit: cap).count
      return state
    }
  }
}

extension Double: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_double(statement, index, self)
  }
}

extension SQLiteStatement {
  func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
}
