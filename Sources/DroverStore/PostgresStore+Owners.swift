import DroverCore

/// Owners, leases, rescue and leadership on a shared database: any number of supervisors.
extension PostgresStore {
  /// Registers a supervisor (see `JobStore.openSession`). Unlike SQLite there is no file lock:
  /// many supervisors share the database, each with its own lease, and a dead one's jobs come
  /// back only once its lease has run out (`rescueExpired`).
  ///
  /// - Throws: `.conflict` when this store object already holds a session.
  public func openSession(_ p: SessionParams) throws(StoreError) -> OwnerID {
    try requireWritable()
    if let session {
      throw .conflict("this store object already holds session \(session) on \(label)")
    }
    try ready()
    let r = try db.exec(
      """
      INSERT INTO drover_owners (name, pid, started_at, heartbeat_at, lease_until)
      VALUES ($1, $2, $3, $3, $4) RETURNING id
      """, p.name, p.pid, p.now, p.now.adding(p.lease))
    let id = r.int64(0, 0)
    session = id
    return id
  }

  /// Extends `p.owner`'s lease to `p.now + p.lease`.
  ///
  /// - Throws: `.conflict` naming the owner when its row is gone (a peer found its lease run
  ///   out and rescued its jobs): it must stop settling jobs.
  public func renewLease(_ p: LeaseParams) throws(StoreError) {
    try requireWritable()
    try ready()
    let r = try db.exec(
      "UPDATE drover_owners SET lease_until = $2, heartbeat_at = $3 WHERE id = $1", p.owner,
      p.now.adding(p.lease), p.now)
    guard r.affected == 1 else {
      throw .conflict(
        "owner \(p.owner) is no longer registered on \(label): its lease ran out and its jobs "
          + "were rescued")
    }
  }

  /// Forgets `owner`: its running jobs become rescuable at once. Harmless for an unknown owner
  /// and twice.
  public func closeSession(_ owner: OwnerID) throws(StoreError) {
    if owner == session { session = nil }
    try requireWritable()
    try ready()
    try db.exec("DELETE FROM drover_owners WHERE id = $1", owner)
    // Its leaderships go with it: the next holder need not wait out their leases.
    try db.exec("DELETE FROM drover_leaders WHERE owner = $1", owner)
  }

  /// Running jobs whose owner is unknown or whose lease ended before `$1`, rescued in one
  /// statement: rows being settled right now (locked by their owner's commit) are skipped,
  /// and two rescuers never take one job twice.
  static let rescueSQL = """
    WITH expired AS (
      SELECT id FROM drover_jobs AS j
      WHERE state = 2 AND (owner IS NULL OR NOT EXISTS (
        SELECT 1 FROM drover_owners AS o WHERE o.id = j.owner AND o.lease_until >= $1))
      ORDER BY id FOR UPDATE SKIP LOCKED),
    r AS (
      UPDATE drover_jobs AS j
      SET state = CASE WHEN j.cancel_requested THEN 4 ELSE 1 END,
        finished_at = CASE WHEN j.cancel_requested THEN $1 ELSE NULL END, owner = NULL
      FROM expired WHERE j.id = expired.id
      RETURNING j.id, j.type, j.state, j.attempts, j.worker_pid),
    \(countMoves(
      "SELECT type, 2::smallint AS st, -1 AS d FROM r UNION ALL SELECT type, state, 1 FROM r",
      slot: 3)),
    errs AS (
      INSERT INTO drover_job_errors (job_id, attempt, message, at, worker_pid)
      SELECT id, attempts + 1, $2, $1, worker_pid FROM r),
    gone AS (DELETE FROM drover_owners WHERE lease_until < $1),
    freed AS (
      DELETE FROM drover_leaders WHERE owner IN (
        SELECT id FROM drover_owners WHERE lease_until < $1))
    SELECT id, type, state, attempts,
      (SELECT count(*) FROM (SELECT pg_notify($4, t.type)
        FROM (SELECT DISTINCT type FROM r WHERE state = 1) AS t) AS n)
    FROM r ORDER BY id
    """

  /// Takes back running jobs of expired (or unknown) owners (see `JobStore.rescueExpired`):
  /// back to `queued` in their old place without spending an attempt, or `cancelled` when a
  /// cancel was requested, with `p.message` recorded; expired owners are forgotten and peers
  /// are woken for the requeued jobs.
  public func rescueExpired(_ p: RescueParams) throws(StoreError) -> [RescuedJob] {
    try requireWritable()
    try ready()
    let message =
      p.message.utf8.contains(0) ? p.message.replacingAll("\u{0}", with: "\u{FFFD}") : p.message
    let r = try transaction { () throws(StoreError) in
      let r = try db.exec(Self.rescueSQL, p.now, message, Int(slot), channel)
      let cancelled = (0..<r.count).filter { r.int($0, 2) == JobState.cancelled.rawValue }
      if !cancelled.isEmpty {
        try db.exec(resolveStatement(parents: cancelled.map { r.int64($0, 0) }, now: p.now))
      }
      return r
    }
    return try (0..<r.count).map { i throws(StoreError) in
      guard let state = JobState(rawValue: r.int(i, 2)) else {
        throw .corrupt("rescued job \(r.int64(i, 0)) has state code \(r.int(i, 2))")
      }
      return RescuedJob(
        id: r.int64(i, 0), type: r.text(i, 1), state: state, attempt: r.int(i, 3) + 1)
    }
  }

  /// A leader row per name with a term that grows whenever the holder changes: taken when free,
  /// expired or held by an owner whose own lease ended (a dead supervisor), kept by its holder.
  static let leadershipSQL = """
    INSERT INTO drover_leaders AS l (name, owner, lease_until) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until,
      term = l.term + CASE WHEN l.owner = excluded.owner THEN 0 ELSE 1 END
    WHERE l.owner = excluded.owner OR l.lease_until < $4
      OR EXISTS (SELECT 1 FROM drover_owners AS o WHERE o.id = l.owner AND o.lease_until < $4)
    RETURNING owner
    """

  /// Takes or keeps leadership `p.name` for `p.owner` until `p.now + p.lease`; true when
  /// `p.owner` holds it after the call.
  public func acquireLeadership(_ p: LeadershipParams) throws(StoreError) -> Bool {
    try requireWritable()
    try ready()
    let r = try db.exec(Self.leadershipSQL, p.name, p.owner, p.now.adding(p.lease), p.now)
    return r.count == 1
  }
}
