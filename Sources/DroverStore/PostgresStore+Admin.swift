public import DroverCore

/// Operator actions and maintenance on PostgreSQL: cancel, retry, requeue, prune.
extension PostgresStore {
  /// Adds a job's move from `from` to `to` to this connection's counters.
  func move(_ type: String, from: JobState, to: JobState) throws(StoreError) {
    try db.exec(
      """
      INSERT INTO drover_job_counts AS c (type, state, slot, n) VALUES ($1, $2, $4, -1), ($1, $3, $4, 1)
      ON CONFLICT (type, state, slot) DO UPDATE SET n = c.n + excluded.n
      """, type, from.rawValue, to.rawValue, Int(slot))
  }

  /// The job's state and type, its row locked until the transaction ends.
  private func lockedState(_ id: JobID) throws(StoreError) -> (JobState, String, String?) {
    let r = try db.exec(
      "SELECT state, type, unique_key FROM drover_jobs WHERE id = $1 FOR UPDATE", id)
    guard r.count == 1 else { throw .noSuchJob(id) }
    guard let state = JobState(rawValue: r.int(0, 0)) else {
      throw .corrupt("job \(id) has unknown state code \(r.int(0, 0))")
    }
    return (state, r.text(0, 1), r.optionalText(0, 2))
  }

  /// Cancels a job (see `JobStore.cancel`).
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for completed, cancelled and dead jobs.
  public func cancel(_ p: CancelParams) throws(StoreError) -> CancelResult {
    try requireWritable()
    return try transaction { () throws(StoreError) in
      let (state, type, _) = try lockedState(p.id)
      switch state {
      case .waiting, .scheduled, .queued:
        try db.exec(
          "UPDATE drover_jobs SET state = 4, finished_at = $2 WHERE id = $1", p.id, p.now)
        try move(type, from: state, to: .cancelled)
        if p.cascade {
          try db.exec("SELECT drover_cancel_subtree($1, $2, $3)", p.id, p.now, Int(slot))
        } else {
          try db.exec(resolveStatement(parents: [p.id], now: p.now))
        }
        return .cancelled
      case .running:
        try db.exec("UPDATE drover_jobs SET cancel_requested = true WHERE id = $1", p.id)
        if p.cascade {
          try db.exec("SELECT drover_cancel_subtree($1, $2, $3)", p.id, p.now, Int(slot))
        }
        return .requested
      case .completed, .cancelled, .dead:
        throw .invalidState(
          id: p.id, state: state, operation: "cancel",
          allowed: [.waiting, .scheduled, .queued, .running])
      }
    }
  }

  /// Deletes a job that is not running, with its errors (see `JobStore.delete`).
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for a running job; `.conflict` for the newest job.
  public func delete(_ p: DeleteParams) throws(StoreError) {
    try requireWritable()
    try transaction { () throws(StoreError) in
      let (state, type, _) = try lockedState(p.id)
      guard state != .running else {
        throw .invalidState(id: p.id, state: state, operation: "delete", allowed: deletableStates)
      }
      let newest = try db.exec("SELECT max(id) FROM drover_jobs")
      guard newest.int64(0, 0) != p.id else { throw newestJobKept(p.id) }
      let waiting = try db.exec(
        """
        SELECT e.child FROM drover_job_parents AS e JOIN drover_jobs AS c ON c.id = e.child
        WHERE e.parent = $1 AND c.state = 6 LIMIT 1
        """, p.id)
      if waiting.count == 1 { throw waitedOn(p.id, child: waiting.int64(0, 0)) }
      try db.exec("DELETE FROM drover_job_parents WHERE child = $1", p.id)
      try db.exec("DELETE FROM drover_job_errors WHERE job_id = $1", p.id)
      try db.exec("DELETE FROM drover_jobs WHERE id = $1", p.id)
      try db.exec(
        """
        INSERT INTO drover_job_counts AS c (type, state, slot, n) VALUES ($1, $2, $3, -1)
        ON CONFLICT (type, state, slot) DO UPDATE SET n = c.n + excluded.n
        """, type, state.rawValue, Int(slot))
    }
  }

  /// Puts a dead or cancelled job back to `queued` (see `JobStore.retry`).
  ///
  /// - Throws: `.noSuchJob`; `.invalidState`; `.uniqueKeyTaken`.
  public func retry(_ p: RetryParams) throws(StoreError) -> Job {
    try requireWritable()
    try transaction { () throws(StoreError) in
      try requeue(p.id, now: p.now, operation: "retry", allowed: [.dead, .cancelled])
    }
    guard let job = try job(p.id) else { throw .noSuchJob(p.id) }
    return job
  }

  /// Requeues dead jobs (see `JobStore.requeueDead`): all of them but those whose key is
  /// taken, or exactly `p.ids`, all or nothing.
  public func requeueDead(_ p: RequeueDeadParams) throws(StoreError) -> Int {
    try requireWritable()
    return try transaction { () throws(StoreError) in
      guard let ids = p.ids else {
        let r = try db.exec(
          """
          SELECT id FROM drover_jobs WHERE finished_at IS NOT NULL AND state = 5 ORDER BY id
          """)
        var count = 0
        for i in 0..<r.count {
          do throws(StoreError) {
            try requeue(r.int64(i, 0), now: p.now, operation: "requeue", allowed: [.dead])
            count += 1
          } catch .uniqueKeyTaken {
            continue
          }
        }
        return count
      }
      var seen = Set<JobID>()
      for id in ids where seen.insert(id).inserted {
        try requeue(id, now: p.now, operation: "requeue", allowed: [.dead])
      }
      return seen.count
    }
  }

  private func requeue(_ id: JobID, now: Timestamp, operation: String, allowed: [JobState])
    throws(StoreError)
  {
    let (state, type, key) = try lockedState(id)
    guard allowed.contains(state) else {
      throw .invalidState(id: id, state: state, operation: operation, allowed: allowed)
    }
    if let key {
      let h = try db.exec(
        """
        SELECT id FROM drover_jobs WHERE unique_key = $1 AND state IN (0, 1, 2, 6)
          AND id <> $2
        LIMIT 1
        """, key, id)
      if h.count == 1 { throw .uniqueKeyTaken(id: id, key: key, holder: h.int64(0, 0)) }
    }
    try db.exec(
      """
      UPDATE drover_jobs SET state = 1, run_at = $2, max_attempts = attempts + budget,
        progress = 0, finished_at = NULL, cancel_requested = false, held = false
      WHERE id = $1
      """, id, now)
    try move(type, from: state, to: .queued)
    // A job with parents goes back to waiting on them: it never runs before they complete.
    if try db.exec("SELECT 1 FROM drover_job_parents WHERE child = $1 LIMIT 1", id).count > 0 {
      try db.exec("UPDATE drover_jobs SET state = 6 WHERE id = $1", id)
      try move(type, from: .queued, to: .waiting)
      try db.exec(
        PGStatement(
          Self.settleWaitingSQL, [PGArray.ints([id]), String(now.micros), String(slot)]))
      return
    }
    try notify(types: [type])
  }

  /// One prune step: the oldest jobs of one final state finished before `$2`, at most `$3`,
  /// with their errors; the newest job stays (see `SQLiteStore.prune`; here the identity
  /// sequence never repeats an id anyway, but both drivers keep one rule).
  static let pruneSQL = """
    WITH sel AS (
      SELECT id FROM drover_jobs
      WHERE finished_at IS NOT NULL AND state = $1 AND finished_at < $2
        AND id <> (SELECT max(id) FROM drover_jobs)
      ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED),
    errs AS (DELETE FROM drover_job_errors WHERE job_id IN (SELECT id FROM sel)),
    edges AS (DELETE FROM drover_job_parents WHERE child IN (SELECT id FROM sel)),
    gone AS (DELETE FROM drover_jobs WHERE id IN (SELECT id FROM sel) RETURNING type),
    \(countMoves("SELECT type, $1::smallint AS st, -1 AS d FROM gone", slot: 4))
    SELECT count(*) FROM gone
    """

  /// Counter slots of connections that are gone, folded into slot 0: keeps the counter table
  /// at a few rows per (type, state) however many connections came and went.
  static let foldSlotsSQL = """
    WITH old AS (
      DELETE FROM drover_job_counts
      WHERE slot <> 0 AND abs(slot) NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
      RETURNING type, state, n)
    INSERT INTO drover_job_counts AS c (type, state, slot, n)
    SELECT type, state, 0, sum(n) FROM old GROUP BY type, state
    ON CONFLICT (type, state, slot) DO UPDATE SET n = c.n + excluded.n
    """

  /// Deletes finished jobs past retention (see `JobStore.prune`), at most `p.limit`, oldest of
  /// each final state first, and folds the counter slots of departed connections.
  ///
  /// - Throws: `.invalidInput` when `p.limit` < 1.
  public func prune(_ p: PruneParams) throws(StoreError) -> Int {
    try requireWritable()
    guard p.limit >= 1 else { throw .invalidInput("prune: the limit must be at least 1") }
    return try transaction { () throws(StoreError) in
      if let before = p.statsBefore { try pruneMinutes(before: before) }
      var deleted = 0
      let steps: [(JobState, Timestamp)] = [
        (.completed, p.completedBefore), (.cancelled, p.completedBefore), (.dead, p.deadBefore),
      ]
      for (state, before) in steps where deleted < p.limit {
        let r = try db.exec(Self.pruneSQL, state.rawValue, before, p.limit - deleted, Int(slot))
        deleted += r.int(0, 0)
      }
      try db.exec(Self.foldSlotsSQL)
      return deleted
    }
  }
}
