public import DroverCore

/// Operator actions and maintenance: cancel, retry, requeue, rescue, prune.
extension SQLiteStore {
  /// Cancels job `p.id`: a scheduled or queued job becomes `cancelled` at once; a running job
  /// is marked cancel-requested (`.requested`, also when already marked).
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for completed, cancelled and dead jobs.
  public func cancel(_ p: CancelParams) throws(StoreError) -> CancelResult {
    try db.transaction(write: true) { () throws(StoreError) in
      let state = try currentState(p.id)
      switch state {
      case .scheduled, .queued:
        try db.run("UPDATE jobs SET state = 4, finished_at = ?2 WHERE id = ?1", p.id, p.now)
        return .cancelled
      case .running:
        try db.run("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", p.id)
        return .requested
      case .completed, .cancelled, .dead:
        throw .invalidState(
          id: p.id, state: state, operation: "cancel", allowed: [.scheduled, .queued, .running])
      }
    }
  }

  /// Puts a dead or cancelled job back to `queued` (due now), keeping its attempts and errors,
  /// granting its budget (the `maxAttempts` given at enqueue) again on top of the attempts
  /// used, and clearing its progress, finish time and cancel request.
  ///
  /// - Throws: `.noSuchJob`; `.invalidState` for other states; `.uniqueKeyTaken` when another
  ///   live job now holds the job's unique key.
  public func retry(_ p: RetryParams) throws(StoreError) -> Job {
    try db.transaction(write: true) { () throws(StoreError) in
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
    try db.transaction(write: true) { () throws(StoreError) in
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

  private func currentState(_ id: JobID) throws(StoreError) -> JobState {
    guard let code = try db.int64("SELECT state FROM jobs WHERE id = ?1", id) else {
      throw .noSuchJob(id)
    }
    return try Self.decodeState(Int(code), job: id)
  }

  private func requeue(
    _ id: JobID, now: Timestamp, operation: String, allowed: [JobState]
  ) throws(StoreError) {
    let st = try db.prepare("SELECT state, unique_key FROM jobs WHERE id = ?1")
    try st.bind(id)
    guard try st.step() else {
      st.reset()
      throw .noSuchJob(id)
    }
    let code = st.int(0)
    let key = st.optionalText(1)
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
        finished_at = NULL, cancel_requested = 0
      WHERE id = ?1
      """, id, now)
  }

  static let runningSQL: SQLText = """
    SELECT id, attempts, cancel_requested, worker_pid FROM jobs INDEXED BY jobs_running
    WHERE state = 2 ORDER BY id
    """

  /// Returns every running job to `queued` (due now) without spending an attempt, recording
  /// `p.message` as the interrupted attempt's error; a job whose cancel was requested becomes
  /// `cancelled` instead (with the same error recorded).
  ///
  /// - Returns: the ids touched, ascending.
  public func rescueRunning(_ p: RescueParams) throws(StoreError) -> [JobID] {
    try db.transaction(write: true) { () throws(StoreError) in
      var running: [(id: JobID, attempt: Int, cancel: Bool, pid: Int64?)] = []
      do {
        let st = try db.prepare(Self.runningSQL)
        defer { st.reset() }
        while try st.step() {
          running.append((st.int64(0), st.int(1) + 1, st.int64(2) != 0, st.optionalInt64(3)))
        }
      }
      for job in running {
        try db.run(Self.errorInsertSQL, job.id, job.attempt, p.message, p.now, job.pid)
        if job.cancel {
          try db.run("UPDATE jobs SET state = 4, finished_at = ?2 WHERE id = ?1", job.id, p.now)
        } else {
          // Back where it was in the claim order: the attempt never counted.
          try db.run("UPDATE jobs SET state = 1 WHERE id = ?1", job.id)
        }
      }
      return running.map(\.id)
    }
  }

  /// The jobs `prune` removes, as ranges of `jobs_finished (state, finished_at)`.
  static let pruneErrorsSQL: SQLText = """
    DELETE FROM job_errors WHERE job_id IN (
      SELECT id FROM jobs INDEXED BY jobs_finished
      WHERE finished_at IS NOT NULL AND (
        (state IN (3, 4) AND finished_at < ?1) OR (state = 5 AND finished_at < ?2))
      AND id <> (SELECT max(id) FROM jobs))
    """
  static let pruneJobsSQL: SQLText = """
    DELETE FROM jobs WHERE id IN (
      SELECT id FROM jobs INDEXED BY jobs_finished
      WHERE finished_at IS NOT NULL AND (
        (state IN (3, 4) AND finished_at < ?1) OR (state = 5 AND finished_at < ?2))
      AND id <> (SELECT max(id) FROM jobs))
    """

  /// Deletes completed and cancelled jobs finished before `p.completedBefore` and dead jobs
  /// finished before `p.deadBefore`, with their errors.
  ///
  /// The newest job is always kept: ids come from `max(id) + 1` (no AUTOINCREMENT, whose
  /// `sqlite_sequence` row costs every enqueue commit an extra page write), so keeping the
  /// highest row is what guarantees an id is never handed out twice.
  ///
  /// - Returns: how many jobs were deleted.
  public func prune(_ p: PruneParams) throws(StoreError) -> Int {
    try db.transaction(write: true) { () throws(StoreError) in
      try db.run(Self.pruneErrorsSQL, p.completedBefore, p.deadBefore)
      return try db.run(Self.pruneJobsSQL, p.completedBefore, p.deadBefore)
    }
  }
}
