public import DroverCore

extension SQLiteStore {
  /// The oldest queued job of one type: `jobs_ready` is ordered (type, priority DESC, run_at),
  /// so the walk visits each distinct priority with two seeks (a loose index scan) and takes
  /// that priority's first run_at. A min(run_at) over the type would read its whole backlog.
  static let oldestQueuedSQL: SQLText = """
    WITH RECURSIVE p(pr) AS (
      SELECT (SELECT max(priority) FROM jobs INDEXED BY jobs_ready WHERE state = 1 AND held = 0 AND type = ?1)
      UNION ALL
      SELECT (SELECT max(priority) FROM jobs INDEXED BY jobs_ready
              WHERE state = 1 AND held = 0 AND type = ?1 AND priority < p.pr)
      FROM p WHERE p.pr IS NOT NULL
    )
    SELECT min((SELECT run_at FROM jobs INDEXED BY jobs_ready
                WHERE state = 1 AND held = 0 AND type = ?1 AND priority = p.pr ORDER BY run_at LIMIT 1))
    FROM p WHERE p.pr IS NOT NULL
    """

  /// The oldest due scheduled job of one type (the due range is normally a handful: the
  /// supervisor promotes due jobs every turn).
  static let oldestDueSQL: SQLText = """
    SELECT min(run_at) FROM jobs INDEXED BY jobs_scheduled
    WHERE state = 0 AND run_at <= ?2 AND type = ?1
    """

  /// See `JobStore.oldestReady`: two seeks per distinct priority and type.
  public func oldestReady(_ p: OldestReadyParams) throws(StoreError) -> Timestamp? {
    try db.transaction(write: false) { () throws(StoreError) in
      var oldest: Int64?
      for type in p.types {
        for (sql, usesNow) in [(Self.oldestQueuedSQL, false), (Self.oldestDueSQL, true)] {
          let st = try db.prepare(sql)
          defer { st.reset() }
          if usesNow { try st.bind(type, p.now) } else { try st.bind(type) }
          if try st.step(), let v = st.optionalInt64(0) { oldest = min(oldest ?? v, v) }
        }
      }
      return oldest.map { Timestamp(micros: $0) }
    }
  }

  static let readyAheadSQL: SQLText = """
    SELECT count(*) FROM (
      SELECT 1 FROM jobs INDEXED BY jobs_ready
      WHERE state = 1 AND held = 0 AND type = ?1
        AND (priority > ?2 OR (priority = ?2 AND (run_at < ?3 OR (run_at = ?3 AND id < ?4))))
      LIMIT ?5)
    """

  /// Ready jobs ahead of a place in claim order (see `JobStore.readyAhead`).
  public func readyAhead(_ p: ReadyAheadParams) throws(StoreError) -> Int {
    try db.transaction(write: false) { () throws(StoreError) in
      var n = 0
      for type in Set(p.types) where n < p.cap {
        let st = try db.prepare(Self.readyAheadSQL)
        defer { st.reset() }
        try st.bind(type, p.priority, p.runAt, p.id, p.cap - n)
        if try st.step() { n += st.int(0) }
      }
      return min(n, p.cap)
    }
  }
}
