public import DroverCore

/// Counts by state and type from `drover_job_counts`: O(types × live connections), never a
/// scan of the jobs.
extension PostgresStore {
  /// Count of jobs in each state; every state present.
  public func stats() throws(StoreError) -> [JobState: Int] {
    try ready()
    let r = try db.exec("SELECT state, sum(n) FROM drover_job_counts GROUP BY state")
    var counts = SQLiteStore.zeroStates
    for i in 0..<r.count {
      if let state = JobState(rawValue: r.int(i, 0)) { counts[state] = r.int(i, 1) }
    }
    return counts
  }

  /// `stats` per type: types without jobs are absent; a present type has every state.
  public func counts() throws(StoreError) -> [String: [JobState: Int]] {
    try ready()
    return try Self.perType(
      db.exec("SELECT type, state, sum(n) FROM drover_job_counts GROUP BY type, state"))
  }

  static func perType(_ r: PGResult) throws(StoreError) -> [String: [JobState: Int]] {
    var out: [String: [JobState: Int]] = [:]
    for i in 0..<r.count {
      let n = r.int(i, 2)
      guard n != 0 else { continue }
      guard let state = JobState(rawValue: r.int(i, 1)) else {
        throw .corrupt("drover_job_counts holds unknown state code \(r.int(i, 1))")
      }
      out[r.text(i, 0), default: SQLiteStore.zeroStates][state] = n
    }
    return out
  }

  /// Ready jobs per type at `now`: queued (counters) plus due scheduled ones (index range).
  public func backlog(now: Timestamp) throws(StoreError) -> [String: Int] {
    try ready()
    let r = try db.exec(
      """
      SELECT type, sum(n) FROM drover_job_counts WHERE state = 1 GROUP BY type HAVING sum(n) > 0
      UNION ALL
      SELECT type, count(*) FROM drover_jobs WHERE state = 0 AND run_at <= $1 GROUP BY type
      """, now)
    var counts: [String: Int] = [:]
    for i in 0..<r.count { counts[r.text(i, 0), default: 0] += r.int(i, 1) }
    return counts
  }

  /// `counts()` by a full scan: what the counters must equal. For tests and diagnostics.
  package func countByScan() throws(StoreError) -> [String: [JobState: Int]] {
    try ready()
    return try Self.perType(
      db.exec("SELECT type, state, count(*) FROM drover_jobs GROUP BY type, state"))
  }

  /// A statement on this store's connection, for tests that play an application's own SQL.
  package func execForTests(_ sql: String) throws(StoreError) {
    try ready()
    try db.script(sql)
  }
}
