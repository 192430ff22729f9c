public import DroverCore

/// Per-minute aggregates of finished attempts: written by `apply` in the transaction of the
/// finishes, summed over a window by `windowStats`, dropped by `prune`.
extension SQLiteStore {
  static let minuteUpsertSQL: SQLText = """
    INSERT INTO job_minutes (minute, type, priority, completed, failed, dead, run_count,
      run_sum_us, wait_count, wait_sum_us, last_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (minute, type, priority) DO UPDATE SET
      completed = completed + excluded.completed, failed = failed + excluded.failed,
      dead = dead + excluded.dead, run_count = run_count + excluded.run_count,
      run_sum_us = run_sum_us + excluded.run_sum_us, wait_count = wait_count + excluded.wait_count,
      wait_sum_us = wait_sum_us + excluded.wait_sum_us, last_at = max(last_at, excluded.last_at)
    """
  static let histUpsertSQL: SQLText = """
    INSERT INTO job_minute_hist (minute, type, kind, bucket, n) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (minute, type, kind, bucket) DO UPDATE SET n = n + excluded.n
    """

  /// Writes one transaction's deltas: one upsert per changed (type, priority), one per
  /// non-zero histogram bucket of each type.
  func flushMinutes(_ acc: MinuteAccumulator, now: Timestamp) throws(StoreError) {
    let minute = WindowStats.minute(of: now)
    var hists: [(String, DurationHistogram, DurationHistogram)] = []
    for row in acc.rows {
      let c = row.counts
      try db.run(
        Self.minuteUpsertSQL, minute, c.type, c.priority, c.completed, c.failed, c.dead,
        c.runCount, c.runSumMicros, c.waitCount, c.waitSumMicros, now)
      if let i = hists.firstIndex(where: { $0.0 == c.type }) {
        hists[i].1.merge(row.run)
        hists[i].2.merge(row.wait)
      } else {
        hists.append((c.type, row.run, row.wait))
      }
    }
    for (type, run, wait) in hists {
      for (kind, h) in [(0, run), (1, wait)] {
        for k in 0..<DurationHistogram.bucketCount where h.counts[k] != 0 {
          try db.run(Self.histUpsertSQL, minute, type, kind, k, h.counts[k])
        }
      }
    }
  }

  static let windowRowsSQL: SQLText = """
    SELECT type, priority, sum(completed), sum(failed), sum(dead), sum(run_count),
      sum(run_sum_us), sum(wait_count), sum(wait_sum_us)
    FROM job_minutes WHERE minute BETWEEN ?1 AND ?2 GROUP BY type, priority
    """
  static let windowHistSQL: SQLText = """
    SELECT type, kind, bucket, sum(n) FROM job_minute_hist WHERE minute BETWEEN ?1 AND ?2
    GROUP BY type, kind, bucket
    """
  static let lastFinishSQL: SQLText = """
    SELECT max(last_at) FROM job_minutes WHERE minute = (SELECT max(minute) FROM job_minutes)
    """
  static let runningSQL: SQLText =
    "SELECT id, type, started_at FROM jobs INDEXED BY jobs_running WHERE state = 2"

  /// See `JobStore.windowStats`: reads O(minutes × types) aggregate rows and the running set.
  public func windowStats(_ p: WindowStatsParams) throws(StoreError) -> WindowStats {
    let since = p.sinceMinute
    let until = WindowStats.minute(of: p.now)
    return try db.transaction(write: false) { () throws(StoreError) in
      var out = WindowStats(since: Timestamp(micros: since * 60_000_000), now: p.now)
      let st = try db.prepare(Self.windowRowsSQL)
      try st.bind(since, until)
      while try st.step() {
        out.rows.append(
          WindowCounts(
            type: st.text(0), priority: st.int(1), completed: st.int(2), failed: st.int(3),
            dead: st.int(4), runCount: st.int(5), runSumMicros: st.int64(6),
            waitCount: st.int(7), waitSumMicros: st.int64(8)))
      }
      st.reset()
      let h = try db.prepare(Self.windowHistSQL)
      try h.bind(since, until)
      while try h.step() {
        let type = h.text(0)
        if h.int(1) == 0 {
          out.runHistograms[type, default: DurationHistogram()].add(bucket: h.int(2), h.int(3))
        } else {
          out.waitHistograms[type, default: DurationHistogram()].add(bucket: h.int(2), h.int(3))
        }
      }
      h.reset()
      out.rows.sort { ($0.type, -$0.priority) < ($1.type, -$1.priority) }
      out.lastFinishedAt = try db.int64(Self.lastFinishSQL).map(Timestamp.init(micros:))
      let r = try db.prepare(Self.runningSQL)
      defer { r.reset() }
      var running: [(JobID, String, Timestamp?)] = []
      while try r.step() {
        running.append((r.int64(0), r.text(1), r.optionalInt64(2).map(Timestamp.init(micros:))))
      }
      out.stuck = p.stuck(running)
      return out
    }
  }

  /// Drops the aggregate minutes before `before` (called by `prune`, in its transaction).
  func pruneMinutes(before: Timestamp) throws(StoreError) {
    let minute = WindowStats.minute(of: before)
    try db.run("DELETE FROM job_minutes WHERE minute < ?1", minute)
    try db.run("DELETE FROM job_minute_hist WHERE minute < ?1", minute)
  }
}
