import DroverCore

/// The dashboard's reads and its audit log on PostgreSQL (see `JobStore`, "Audit log").
extension PostgresStore {
  public func minuteSeries(_ p: MinuteSeriesParams) throws(StoreError) -> [MinutePoint] {
    try read { () throws(StoreError) in
      let r = try db.exec(
        """
        SELECT (minute / $3) * $3 AS b, sum(completed), sum(failed), sum(dead), sum(wait_count),
          sum(wait_sum_us)
        FROM drover_job_minutes WHERE minute BETWEEN $1 AND $2 GROUP BY b ORDER BY b
        """, p.sinceMinute, p.untilMinute, p.bucketMinutes)
      return (0..<r.count).map { i in
        MinutePoint(
          minute: r.int64(i, 0), completed: r.int(i, 1), failed: r.int(i, 2), dead: r.int(i, 3),
          waitCount: r.int(i, 4), waitSumMicros: r.int64(i, 5))
      }
    }
  }

  public func recordAudit(_ e: AuditEntry) throws(StoreError) -> Int64 {
    try requireWritable()
    return try transaction { () throws(StoreError) in
      try db.exec(
        """
        INSERT INTO drover_audit_log (at, who, action, target, count)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """, e.at, e.who, e.action, e.target, e.count
      ).int64(0, 0)
    }
  }

  public func auditEntries(limit: Int, beforeID: Int64?) throws(StoreError) -> [AuditEntry] {
    try read { () throws(StoreError) in
      let r = try db.exec(
        """
        SELECT id, at, who, action, target, count FROM drover_audit_log
        WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1
        """, max(1, limit), beforeID)
      return (0..<r.count).map { i in
        AuditEntry(
          id: r.int64(i, 0), at: Timestamp(micros: r.int64(i, 1)), who: r.text(i, 2),
          action: r.text(i, 3), target: r.text(i, 4), count: r.int(i, 5))
      }
    }
  }
}
