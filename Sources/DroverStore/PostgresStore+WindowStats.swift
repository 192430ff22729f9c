public import DroverCore

/// Per-minute aggregates of finished attempts on PostgreSQL (see `SQLiteStore+WindowStats`):
/// written as two more CTEs of the settle statements, one slot per connection.
extension PostgresStore {
  /// The aggregate bookkeeping a settle statement ends with: `samples` is a query of
  /// `(type, priority, k, run_us, wait_us)` rows, one per counted attempt (`k`: 3 completed,
  /// 5 dead, 9 failed); `$now` and `$slot` are the statement's parameter numbers. The bucket is
  /// `DurationHistogram.bucket`: the bit length of the whole milliseconds, at most 31.
  static func minuteStats(_ samples: String, now: Int, slot: Int) -> String {
    """
    mins AS (
      INSERT INTO drover_job_minutes AS m (minute, type, priority, slot, completed, failed, dead,
        run_count, run_sum_us, wait_count, wait_sum_us, last_at)
      SELECT $\(now)::bigint / 60000000, type, priority, $\(slot), count(*) FILTER (WHERE k = 3),
        count(*) FILTER (WHERE k = 9), count(*) FILTER (WHERE k = 5), count(run_us),
        coalesce(sum(run_us), 0), count(wait_us), coalesce(sum(wait_us), 0), $\(now)::bigint
      FROM (\(samples)) AS s GROUP BY type, priority
      ON CONFLICT (minute, type, priority, slot) DO UPDATE SET
        completed = m.completed + excluded.completed, failed = m.failed + excluded.failed,
        dead = m.dead + excluded.dead, run_count = m.run_count + excluded.run_count,
        run_sum_us = m.run_sum_us + excluded.run_sum_us,
        wait_count = m.wait_count + excluded.wait_count,
        wait_sum_us = m.wait_sum_us + excluded.wait_sum_us,
        last_at = greatest(m.last_at, excluded.last_at)),
    hist AS (
      INSERT INTO drover_job_minute_hist AS h (minute, type, kind, bucket, slot, n)
      SELECT $\(now)::bigint / 60000000, s.type, v.kind,
        CASE WHEN v.us < 1000 THEN 0
          ELSE least(31, length(ltrim((v.us / 1000)::bit(64)::text, '0'))) END, $\(slot),
        count(*)
      FROM (\(samples)) AS s
      CROSS JOIN LATERAL (VALUES (0::smallint, s.run_us), (1::smallint, s.wait_us)) AS v(kind, us)
      WHERE v.us IS NOT NULL GROUP BY 1, 2, 3, 4
      ON CONFLICT (minute, type, kind, bucket, slot) DO UPDATE SET n = h.n + excluded.n)
    """
  }

  /// See `JobStore.windowStats`.
  public func windowStats(_ p: WindowStatsParams) throws(StoreError) -> WindowStats {
    let since = p.sinceMinute
    let until = WindowStats.minute(of: p.now)
    return try read { () throws(StoreError) in
      var out = WindowStats(since: Timestamp(micros: since * 60_000_000), now: p.now)
      let r = try db.exec(
        """
        SELECT type, priority, sum(completed), sum(failed), sum(dead), sum(run_count),
          sum(run_sum_us), sum(wait_count), sum(wait_sum_us)
        FROM drover_job_minutes WHERE minute BETWEEN $1 AND $2 GROUP BY type, priority
        ORDER BY type, priority DESC
        """, since, until)
      for i in 0..<r.count {
        out.rows.append(
          WindowCounts(
            type: r.text(i, 0), priority: r.int(i, 1), completed: r.int(i, 2),
            failed: r.int(i, 3), dead: r.int(i, 4), runCount: r.int(i, 5),
            runSumMicros: r.int64(i, 6), waitCount: r.int(i, 7), waitSumMicros: r.int64(i, 8)))
      }
      let h = try db.exec(
        """
        SELECT type, kind, bucket, sum(n) FROM drover_job_minute_hist WHERE minute BETWEEN $1 AND $2
        GROUP BY type, kind, bucket
        """, since, until)
      for i in 0..<h.count {
        let type = h.text(i, 0)
        if h.int(i, 1) == 0 {
          out.runHistograms[type, default: DurationHistogram()].add(
            bucket: h.int(i, 2), h.int(i, 3))
        } else {
          out.waitHistograms[type, default: DurationHistogram()].add(
            bucket: h.int(i, 2), h.int(i, 3))
        }
      }
      out.rows.sort { ($0.type, -$0.priority) < ($1.type, -$1.priority) }
      let last = try db.exec(
        """
        SELECT max(last_at) FROM drover_job_minutes
        WHERE minute = (SELECT max(minute) FROM drover_job_minutes)
        """)
      out.lastFinishedAt = last.optionalInt64(0, 0).map(Timestamp.init(micros:))
      let running = try db.exec("SELECT id, type, started_at FROM drover_jobs WHERE state = 2")
      out.stuck = p.stuck(
        (0..<running.count).map { i in
          (
            running.int64(i, 0), running.text(i, 1),
            running.optionalInt64(i, 2).map(Timestamp.init(micros:))
          )
        })
      return out
    }
  }

  /// Drops the aggregate minutes before `before` (called by `prune`, in its transaction).
  func pruneMinutes(before: Timestamp) throws(StoreError) {
    let minute = WindowStats.minute(of: before)
    _ = try db.exec("DELETE FROM drover_job_minutes WHERE minute < $1", minute)
    _ = try db.exec("DELETE FROM drover_job_minute_hist WHERE minute < $1", minute)
  }
}
