public import DroverCore

/// Operator actions and maintenance: cancel, retry, requeue, prune.
extension SQLiteStore {
  /// Cancels job `p.id`: a scheduled or queued job becomes `cancelled` at once; a running job
  /// is marked cancel-requested (`.requested`, also when already marked).
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for completed, cancelled and dead jobs.
  public func cancel(_ p: CancelParams) throws(StoreError) -> CancelResult {
    try write { () throws(StoreError) in
      let (state, type) = try currentState(p.id)
      switch state {
      case .waiting, .scheduled, .queued:
        try db.run("UPDATE jobs SET state = 4, finished_at = ?2 WHERE id = ?1", p.id, p.now)
        move(type, from: state, to: .cancelled)
        if p.cascade {
          _ = try cancelSubtree(of: p.id, now: p.now)
        } else {
          _ = try resolveChildren(of: [p.id], now: p.now)
        }
        return .cancelled
      case .running:
        try db.run("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", p.id)
        if p.cascade { _ = try cancelSubtree(of: p.id, now: p.now) }
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
    try write { () throws(StoreError) in
      let (state, type) = try currentState(p.id)
      guard state != .running else {
        throw .invalidState(id: p.id, state: state, operation: "delete", allowed: deletableStates)
      }
      guard try db.int64("SELECT max(id) FROM jobs") != p.id else { throw newestJobKept(p.id) }
      if let child = try db.int64(
        """
        SELECT e.child FROM job_parents AS e JOIN jobs AS c ON c.id = e.child
        WHERE e.parent = ?1 AND c.state = 6 LIMIT 1
        """, p.id)
      {
        throw waitedOn(p.id, child: child)
      }
      try db.run("DELETE FROM job_parents WHERE child = ?1", p.id)
      try db.run("DELETE FROM job_errors WHERE job_id = ?1", p.id)
      try db.run("DELETE FROM jobs WHERE id = ?1", p.id)
      count(type, state, -1)
    }
  }

  /// Puts a dead or cancelled job back to `queued` (due now), keeping its attempts and errors,
  /// granting its budget (the `maxAttempts` given at enqueue) again on top of the attempts
  /// used, and clearing its progress, finish time and cancel request.
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for other states; `.uniqueKeyTaken` when another
  ///   live job now holds the job's unique key.
  public func retry(_ p: RetryParams) throws(StoreError) -> Job {
    try write { () throws(StoreError) in
      try requeue(p.id, now: p.now, operation: "retry", allowed: [.dead, .cancelled])
      guard let job = try loadJob(p.id) else { throw .noSuchJob(p.id) }
      return job
    }
  }

  /// Requeues dead jobs as `retry` does, in one transaction.
  ///
  /// With `p.ids` nil every dead job is requeued, except those whose unique key another live
  /// job holds (they stay dead). With ids the call is strict: an unknown id, a job that is not
  /// dead, or a taken key throws and nothing is requeued.
  ///
  /// - Returns: how many jobs were requeued.
  public func requeueDead(_ p: RequeueDeadParams) throws(StoreError) -> Int {
    try write { () throws(StoreError) in
      guard let ids = p.ids else {
        var count = 0
        for id in try deadIDs() {
          do throws(StoreError) {
            try requeue(id, now: p.now, operation: "requeue", allowed: [.dead])
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

  private func deadIDs() throws(StoreError) -> [JobID] {
    let st = try db.prepare(
      """
      SELECT id FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL AND state = 5
      ORDER BY id
      """)
    defer { st.reset() }
    var ids: [JobID] = []
    while try st.step() { ids.append(st.int64(0)) }
    return ids
  }

  /// The job's state and type.
  private func currentState(_ id: JobID) throws(StoreError) -> (JobState, String) {
    let st = try db.prepare("SELECT state, type FROM jobs WHERE id = ?1")
    defer { st.reset() }
    try st.bind(id)
    guard try st.step() else { throw .noSuchJob(id) }
    return (try Self.decodeState(st.int(0), job: id), st.text(1))
  }

  private func requeue(
    _ id: JobID, now: Timestamp, operation: String, allowed: [JobState]
  ) throws(StoreError) {
    let st = try db.prepare("SELECT state, unique_key, type FROM jobs WHERE id = ?1")
    try st.bind(id)
    guard try st.step() else {
      st.reset()
      throw .noSuchJob(id)
    }
    let code = st.int(0)
    let key = st.optionalText(1)
    let type = st.text(2)
    st.reset()
    let state = try Self.decodeState(code, job: id)
    guard allowed.contains(state) else {
      throw .invalidState(id: id, state: state, operation: operation, allowed: allowed)
    }
    if let key, let holder = try db.int64(Self.liveKeySQL, key, id) {
      throw .uniqueKeyTaken(id: id, key: key, holder: holder)
    }
    try db.run(
      """
      UPDATE jobs SET state = 1, run_at = ?2, max_attempts = attempts + budget, progress = 0,
        finished_at = NULL, cancel_requested = 0, held = 0
      WHERE id = ?1
      """, id, now)
    move(type, from: state, to: .queued)
    // A job with parents goes back to waiting on them: it never runs before they complete.
    if try db.int64("SELECT 1 FROM job_parents WHERE child = ?1 LIMIT 1", id) != nil {
      try db.run("UPDATE jobs SET state = 6 WHERE id = ?1", id)
      move(type, from: .queued, to: .waiting)
      let policy = try db.int64("SELECT on_parent_failure FROM jobs WHERE id = ?1", id) ?? 0
      let attempts = try db.int64("SELECT attempts FROM jobs WHERE id = ?1", id) ?? 0
      _ = try settle(
        WaitingJob(
          id: id, type: type, policy: ParentFailurePolicy(rawValue: Int(policy)) ?? .cancel,
          attempts: Int(attempts)), now: now)
    }
  }

  /// The jobs one `prune` step removes: the oldest of one final state (`?1`) finished before
  /// `?2`, at most `?3`, walked in order along `jobs_finished (state, finished_at)` without a
  /// sort. Both statements select the same rows (same data, same plan, under the write lock).
  static let pruneErrorsSQL: SQLText = """
    DELETE FROM job_errors WHERE job_id IN (
      SELECT id FROM jobs INDEXED BY jobs_finished
      WHERE finished_at IS NOT NULL AND state = ?1 AND finished_at < ?2
        AND id <> (SELECT max(id) FROM jobs)
      ORDER BY finished_at LIMIT ?3)
    """
  static let pruneEdgesSQL: SQLText = """
    DELETE FROM job_parents WHERE child IN (
      SELECT id FROM jobs INDEXED BY jobs_finished
      WHERE finished_at IS NOT NULL AND state = ?1 AND finished_at < ?2
        AND id <> (SELECT max(id) FROM jobs)
      ORDER BY finished_at LIMIT ?3)
    """
  static let pruneJobsSQL: SQLText = """
    DELETE FROM jobs WHERE id IN (
      SELECT id FROM jobs INDEXED BY jobs_finished
      WHERE finished_at IS NOT NULL AND state = ?1 AND finished_at < ?2
        AND id <> (SELECT max(id) FROM jobs)
      ORDER BY finished_at LIMIT ?3)
    RETURNING type
    """

  /// Deletes completed and cancelled jobs finished before `p.completedBefore` and dead jobs
  /// finished before `p.deadBefore`, with their errors: at most `p.limit` jobs, the oldest of
  /// each state first (completed, then cancelled, then dead), so one call's transaction stays
  /// short however much history has piled up. Call again while it returns `p.limit`.
  ///
  /// The newest job is always kept: ids come from `max(id) + 1` (no AUTOINCREMENT, whose
  /// `sqlite_sequence` row costs every enqueue commit an extra page write), so keeping the
  /// highest row is what guarantees an id is never handed out twice.
  ///
  /// - Returns: how many jobs were deleted.
  /// - Throws: `.invalidInput` when `p.limit` < 1.
  public func prune(_ p: PruneParams) throws(StoreError) -> Int {
    try requireWritable()
    guard p.limit >= 1 else { throw .invalidInput("prune: the limit must be at least 1") }
    return try write { () throws(StoreError) in
      if let before = p.statsBefore { try pruneMinutes(before: before) }
      var deleted = 0
      let steps: [(JobState, Timestamp)] = [
        (.completed, p.completedBefore), (.cancelled, p.completedBefore), (.dead, p.deadBefore),
      ]
      for (state, before) in steps where deleted < p.limit {
        let left = p.limit - deleted
        try db.run(Self.pruneErrorsSQL, state.rawValue, before, left)
        try db.run(Self.pruneEdgesSQL, state.rawValue, before, left)
        let st = try db.prepare(Self.pruneJobsSQL)
        defer { st.reset() }
        try st.bind(state.rawValue, before, left)
        while try st.step() {
          count(st.text(0), state, -1)
          deleted += 1
        }
      }
      return deleted
    }
  }
}
