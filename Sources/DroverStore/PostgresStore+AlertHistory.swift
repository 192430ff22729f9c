public import DroverCore

/// The alert history on PostgreSQL (see `JobStore`, "Alert history").
extension PostgresStore {
  static let alertSelect = """
    SELECT id, kind, severity, pool, job_id, subject, message, details, fired_at, resolved_at,
      acked_at, acked_by, notified_at, notifications FROM drover_alerts
    """

  public func recordAlerts(_ alerts: [NewAlert]) throws(StoreError) -> [Int64] {
    guard !alerts.isEmpty else { return [] }
    try requireWritable()
    return try transaction { () throws(StoreError) in
      var ids: [Int64] = []
      for a in alerts {
        ids.append(
          try db.exec(
            """
            INSERT INTO drover_alerts (kind, severity, pool, job_id, subject, message, details,
              fired_at, notified_at, resolves_by_ack)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id
            """, a.kind, a.severity, a.pool, a.job, a.subject, a.message, a.details, a.at,
            a.resolvesByAck
          ).int64(0, 0))
      }
      return ids
    }
  }

  public func resolveAlert(_ id: Int64, at: Timestamp) throws(StoreError) {
    try requireWritable()
    _ = try transaction { () throws(StoreError) in
      try db.exec(
        "UPDATE drover_alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL", id, at)
    }
  }

  public func noteAlertNotified(_ id: Int64, at: Timestamp) throws(StoreError) {
    try requireWritable()
    _ = try transaction { () throws(StoreError) in
      try db.exec(
        """
        UPDATE drover_alerts SET notified_at = $2, notifications = notifications + 1
        WHERE id = $1
        """, id, at)
    }
  }

  public func ackAlert(_ id: Int64, by: String, at: Timestamp) throws(StoreError) -> AlertRecord {
    try requireWritable()
    return try transaction { () throws(StoreError) in
      let r = try db.exec(
        """
        UPDATE drover_alerts SET acked_at = coalesce(acked_at, $2),
          acked_by = coalesce(acked_by, $3),
          resolved_at = CASE WHEN resolves_by_ack THEN coalesce(resolved_at, $2)
            ELSE resolved_at END
        WHERE id = $1
        RETURNING id, kind, severity, pool, job_id, subject, message, details, fired_at,
          resolved_at, acked_at, acked_by, notified_at, notifications
        """, id, at, by)
      guard let a = Self.alertRecords(r).first else { throw .noSuchAlert(id) }
      return a
    }
  }

  public func alerts(open: Bool, limit: Int) throws(StoreError) -> [AlertRecord] {
    try read { () throws(StoreError) in
      Self.alertRecords(
        try db.exec(
          Self.alertSelect + (open ? " WHERE resolved_at IS NULL" : "")
            + " ORDER BY id DESC LIMIT $1", limit))
    }
  }

  static func alertRecords(_ r: PGResult) -> [AlertRecord] {
    (0..<r.count).map { i in
      func t(_ c: Int) -> Timestamp? { r.optionalInt64(i, c).map(Timestamp.init(micros:)) }
      return AlertRecord(
        id: r.int64(i, 0), kind: r.text(i, 1), severity: r.text(i, 2), pool: r.optionalText(i, 3),
        job: r.optionalInt64(i, 4), subject: r.optionalText(i, 5), message: r.text(i, 6),
        details: r.text(i, 7), firedAt: Timestamp(micros: r.int64(i, 8)), resolvedAt: t(9),
        ackedAt: t(10), ackedBy: r.optionalText(i, 11), notifiedAt: t(12),
        notifications: r.int(i, 13))
    }
  }
}
