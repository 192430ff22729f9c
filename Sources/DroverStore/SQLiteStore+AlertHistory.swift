public import DroverCore

/// The alert history on SQLite (see `JobStore`, "Alert history").
extension SQLiteStore {
  static let alertColumns: SQLText = """
    SELECT id, kind, severity, pool, job_id, subject, message, details, fired_at, resolved_at,
      acked_at, acked_by, notified_at, notifications
    FROM alerts WHERE id = ?1
    """

  public func recordAlerts(_ alerts: [NewAlert]) throws(StoreError) -> [Int64] {
    guard !alerts.isEmpty else { return [] }
    try requireWritable()
    return try write { () throws(StoreError) in
      var ids: [Int64] = []
      for a in alerts {
        try db.run(
          """
          INSERT INTO alerts (kind, severity, pool, job_id, subject, message, details, fired_at,
            notified_at, resolves_by_ack)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)
          """, a.kind, a.severity, a.pool, a.job, a.subject, a.message, a.details, a.at,
          a.resolvesByAck)
        ids.append(db.lastInsertID)
      }
      return ids
    }
  }

  public func resolveAlert(_ id: Int64, at: Timestamp) throws(StoreError) {
    try requireWritable()
    _ = try write { () throws(StoreError) in
      try db.run(
        "UPDATE alerts SET resolved_at = ?2 WHERE id = ?1 AND resolved_at IS NULL", id, at)
    }
  }

  public func noteAlertNotified(_ id: Int64, at: Timestamp) throws(StoreError) {
    try requireWritable()
    _ = try write { () throws(StoreError) in
      try db.run(
        "UPDATE alerts SET notified_at = ?2, notifications = notifications + 1 WHERE id = ?1",
        id, at)
    }
  }

  public func ackAlert(_ id: Int64, by: String, at: Timestamp) throws(StoreError) -> AlertRecord {
    try requireWritable()
    return try write { () throws(StoreError) in
      let n = try db.run(
        """
        UPDATE alerts SET acked_at = coalesce(acked_at, ?2), acked_by = coalesce(acked_by, ?3),
          resolved_at = CASE WHEN resolves_by_ack = 1 THEN coalesce(resolved_at, ?2)
            ELSE resolved_at END
        WHERE id = ?1
        """, id, at, by)
      guard n == 1, let r = try loadAlerts(Self.alertColumns, id).first else {
        throw .noSuchAlert(id)
      }
      return r
    }
  }

  public func alerts(open: Bool, limit: Int) throws(StoreError) -> [AlertRecord] {
    try db.transaction(write: false) { () throws(StoreError) in
      open
        ? try loadAlerts(
          """
          SELECT id, kind, severity, pool, job_id, subject, message, details, fired_at,
            resolved_at, acked_at, acked_by, notified_at, notifications
          FROM alerts INDEXED BY alerts_open WHERE resolved_at IS NULL ORDER BY id DESC LIMIT ?1
          """, Int64(limit))
        : try loadAlerts(
          """
          SELECT id, kind, severity, pool, job_id, subject, message, details, fired_at,
            resolved_at, acked_at, acked_by, notified_at, notifications
          FROM alerts ORDER BY id DESC LIMIT ?1
          """, Int64(limit))
    }
  }

  private func loadAlerts(_ sql: SQLText, _ arg: Int64) throws(StoreError) -> [AlertRecord] {
    let st = try db.prepare(sql)
    defer { st.reset() }
    try st.bind(arg)
    var out: [AlertRecord] = []
    while try st.step() {
      func t(_ c: Int32) -> Timestamp? { st.optionalInt64(c).map(Timestamp.init(micros:)) }
      out.append(
        AlertRecord(
          id: st.int64(0), kind: st.text(1), severity: st.text(2), pool: st.optionalText(3),
          job: st.optionalInt64(4), subject: st.optionalText(5), message: st.text(6),
          details: st.text(7), firedAt: Timestamp(micros: st.int64(8)), resolvedAt: t(9),
          ackedAt: t(10), ackedBy: st.optionalText(11), notifiedAt: t(12), notifications: st.int(13)
        ))
    }
    return out
  }
}
