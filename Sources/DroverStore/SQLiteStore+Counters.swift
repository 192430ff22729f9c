public import DroverCore

/// A pending change of one `job_counts` row: a job type in one state, by `n`.
struct CountDelta {
  var type: String
  var state: Int
  var n: Int
}

/// Counts by state and type, read from `job_counts` (O(types), never a scan of `jobs`), and the
/// bookkeeping that keeps them right inside each write transaction.
///
/// Every driver statement that inserts, deletes or changes a job's `state` records a delta with
/// `count` / `move`; `write` sums them in memory and writes one upsert per changed (type, state)
/// just before its commit, so a group commit of a hundred claims and finishes costs a handful of
/// counter statements. Inserts by someone else's SQL are counted by the schema's trigger (see
/// `SQLiteSchema.migrations`, v2).
extension SQLiteStore {
  /// Adds `n` (negative to subtract) to the count of `type` in `state`, at this transaction's
  /// commit.
  ///
  /// A transaction touches a handful of (type, state) pairs, most often the same few again and
  /// again (claims and finishes of one type): a short list searched from its end beats hashing
  /// the type for every job (measured in the group commit's profile).
  func count(_ type: String, _ state: JobState, _ n: Int) {
    let s = state.rawValue
    var i = deltas.count - 1
    while i >= 0 {
      if deltas[i].state == s && deltas[i].type == type {
        deltas[i].n += n
        return
      }
      i -= 1
    }
    deltas.append(CountDelta(type: type, state: s, n: n))
  }

  /// Records that `n` jobs of `type` went from state `from` to `to`.
  func move(_ type: String, from: JobState, to: JobState, _ n: Int = 1) {
    guard from != to, n != 0 else { return }
    count(type, from, -n)
    count(type, to, n)
  }

  static let countUpsertSQL: SQLText = """
    INSERT INTO job_counts (type, state, n) VALUES (?1, ?2, ?3)
    ON CONFLICT (type, state) DO UPDATE SET n = n + excluded.n
    """

  /// Writes the transaction's deltas: one upsert per (type, state) whose count changed.
  func flushCounts() throws(StoreError) {
    for d in deltas where d.n != 0 {
      try db.run(Self.countUpsertSQL, d.type, d.state, d.n)
    }
    deltas.removeAll(keepingCapacity: true)
  }

  static let statsSQL: SQLText = "SELECT state, sum(n) FROM job_counts GROUP BY state"
  static let countsSQL: SQLText = "SELECT type, state, n FROM job_counts"

  /// Count of jobs in each state; every state is present. Reads the counters: its cost grows
  /// with the number of job types, not of jobs.
  public func stats() throws(StoreError) -> [JobState: Int] {
    try db.transaction(write: false) { () throws(StoreError) in
      var counts = Self.zeroStates
      let st = try db.prepare(Self.statsSQL)
      defer { st.reset() }
      while try st.step() {
        if let state = JobState(rawValue: st.int(0)) { counts[state] = st.int(1) }
      }
      return counts
    }
  }

  /// `stats` per job type: types without any job are absent; a present type has every state.
  public func counts() throws(StoreError) -> [String: [JobState: Int]] {
    try db.transaction(write: false) { () throws(StoreError) in
      try Self.perType(db.prepare(Self.countsSQL))
    }
  }

  /// Every state with count 0.
  static var zeroStates: [JobState: Int] {
    Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
  }

  /// Rows of (type, state, count) as per-type counts, without the types whose counts are all
  /// 0 (a counter row stays behind, at 0, once its last job is pruned).
  private static func perType(_ st: SQLiteStatement) throws(StoreError) -> [String:
    [JobState: Int]]
  {
    defer { st.reset() }
    var out: [String: [JobState: Int]] = [:]
    while try st.step() {
      let n = st.int(2)
      guard n != 0 else { continue }
      guard let state = JobState(rawValue: st.int(1)) else {
        throw .corrupt("job_counts holds unknown state code \(st.int(1))")
      }
      out[st.text(0), default: zeroStates][state] = n
    }
    return out
  }

  /// Queued jobs per type from the counters, plus the due scheduled ones from their index range
  /// (normally a handful: the supervisor promotes due jobs every turn).
  static let backlogSQL: SQLText = """
    SELECT type, n FROM job_counts WHERE state = 1 AND n > 0
    UNION ALL
    SELECT type, count(*) FROM jobs INDEXED BY jobs_scheduled WHERE state = 0 AND run_at <= ?1
    GROUP BY type
    """

  /// Ready jobs per type at `now`: `queued` plus `scheduled` already due. Types with none are
  /// absent.
  public func backlog(now: Timestamp) throws(StoreError) -> [String: Int] {
    try db.transaction(write: false) { () throws(StoreError) in
      var counts: [String: Int] = [:]
      let st = try db.prepare(Self.backlogSQL)
      defer { st.reset() }
      try st.bind(now)
      while try st.step() { counts[st.text(0), default: 0] += st.int(1) }
      return counts
    }
  }

  /// `oldestReady` the plain way (every queued job of the type read): what the skip-scan is
  /// measured against in `bench http`.
  package func oldestReadyByScan(type: String) throws(StoreError) -> Timestamp? {
    try db.transaction(write: false) { () throws(StoreError) in
      let st = try db.prepare(
        "SELECT min(run_at) FROM jobs INDEXED BY jobs_ready WHERE state = 1 AND held = 0 AND type = ?1"
      )
      defer { st.reset() }
      try st.bind(type)
      guard try st.step() else { return nil }
      return st.optionalInt64(0).map(Timestamp.init(micros:))
    }
  }

  /// `counts()` the slow way, by a full scan of `jobs`: what the counters must always equal.
  /// For tests and diagnostics.
  package func countByScan() throws(StoreError) -> [String: [JobState: Int]] {
    try db.transaction(write: false) { () throws(StoreError) in
      try Self.perType(
        db.prepare("SELECT type, state, count(*) FROM jobs NOT INDEXED GROUP BY type, state"))
    }
  }

  /// Inserts `count` completed jobs of `type`, finished at `finishedAt` (created, due and
  /// started a few seconds before), set-based in transactions of 100,000 rows, with the
  /// counters kept. For benchmarks that need a big retained history quickly.
  package func seedFinished(count: Int, type: String, finishedAt: Timestamp) throws(StoreError) {
    guard count >= 0 else { throw .invalidInput("seedFinished: count must not be negative") }
    let sql: SQLText = """
      WITH RECURSIVE seq(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM seq WHERE k < ?1)
      INSERT INTO jobs (type, state, priority, attempts, max_attempts, budget, payload, progress,
        created_at, run_at, started_at, finished_at, counted)
      SELECT ?2, 3, 0, 1, 1, 1, '{}', 100, ?3, ?4, ?5, ?6, 1 FROM seq
      """
    var left = count
    while left > 0 {
      let n = min(left, 100_000)
      try write { () throws(StoreError) in
        try db.run(
          sql, n, type, finishedAt.adding(.seconds(-3)), finishedAt.adding(.seconds(-2)),
          finishedAt.adding(.seconds(-1)), finishedAt)
        self.count(type, .completed, n)
      }
      left -= n
    }
  }
}
