import DroverCore

/// The dashboard's reads and its audit log on SQLite (see `JobStore`, "Audit log").
extension SQLiteStore {
  static let minuteSeriesSQL: SQLText = """
    SELECT (minute / ?3) * ?3 AS b, sum(completed), sum(failed), sum(dead), sum(wait_count),
      sum(wait_sum_us)
    FROM job_minutes WHERE minute BETWEEN ?1 AND ?2 GROUP BY b ORDER BY b
    """

  public func minuteSeries(_ p: MinuteSeriesParams) throws(StoreError) -> [MinutePoint] {
    try db.transaction(write: false) { () throws(StoreError) in
      let st = try db.prepare(Self.minuteSeriesSQL)
      defer { st.reset() }
      try st.bind(p.sinceMinute, p.untilMinute, p.bucketMinutes)
      var out: [MinutePoint] = []
      while try st.step() {
        out.append(
          MinutePoint(
            minute: st.int64(0), completed: st.int(1), failed: st.int(2), dead: st.int(3),
            waitCount: st.int(4), waitSumMicros: st.int64(5)))
      }
      return out
    }
  }

  public func recordAudit(_ e: AuditEntry) throws(StoreError) -> Int64 {
    try requireWritable()
    return try write { () throws(StoreError) in
      try db.run(
        "INSERT INTO audit_log (at, who, action, target, count) VALUES (?1, ?2, ?3, ?4, ?5)",
        e.at, e.who, e.action, e.target, e.count)
      return db.lastInsertID
    }
  }

  public func auditEntries(limit: Int, beforeID: Int64?) throws(StoreError) -> [AuditEntry] {
    try db.transaction(write: false) { () throws(StoreError) in
      let st = try db.prepare(
        """
        SELECT id, at, who, action, target, count FROM audit_log WHERE id < ?2
        ORDER BY id DESC LIMIT ?1
        """)
      defer { st.reset() }
      try st.bind(Int64(max(1, limit)), beforeID ?? .max)
      var out: [AuditEntry] = []
      while try st.step() {
        out.append(
          AuditEntry(
            id: st.int64(0), at: Timestamp(micros: st.int64(1)), who: st.text(2),
            action: st.text(3), target: st.text(4), count: st.int(5)))
      }
      return out
    }
  }
}
