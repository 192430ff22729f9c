import DroverCore

/// The supervisor's group commit: settle, record progress, promote, claim.
extension SQLiteStore {
  /// Applies one turn of the supervisor in one `BEGIN IMMEDIATE` transaction, in this order:
  ///
  /// Order: new jobs (`enqueues`), progress and start times (2), finishes (1), then promotion
  /// and claims (which may take the jobs this batch enqueued).
  /// 1. `finishes`: each job that is `running` is settled by `RetryRule.decide` (the job's own
  ///    backoff wins over the pool's). A requeue of a job whose cancel was requested cancels it
  ///    instead. A finish for a job that is not running (unknown, or already settled) is
  ///    ignored: its result has a nil state and attempt 0.
  /// 2. `progress` of running jobs, clamped to 0-100, and `started` times (both applied
  ///    before the finishes).
  /// 3. `promoteDue`: scheduled jobs with `run_at` ≤ `now` become queued.
  /// 4. `claims`, one after another, each taking up to `limit` queued jobs of its types in claim
  ///    order (priority descending, then `run_at`, then id) and marking them running.
  ///
  /// With `batch.owner` set, claimed jobs are leased to that owner, and finishes, progress and
  /// start times only touch jobs it still holds (fencing): a finish for a job rescued from it
  /// is ignored like one for an unknown job. Without an owner nothing is fenced and claims hold
  /// no lease (any `rescueExpired` takes them back). A job that leaves `running` holds none.
  public func apply(_ batch: StoreBatch) throws(StoreError) -> BatchResult {
    try requireWritable()
    if batch.isEmpty { return BatchResult(claimed: batch.claims.map { _ in [] }) }
    for (i, job) in batch.enqueues.enumerated() {
      try job.validate(index: i, of: batch.enqueues.count, maxPayload: maxPayload)
    }
    try EnqueueParams.validateParents(batch.enqueues)
    let now = batch.now
    let owner = batch.owner
    return try write { () throws(StoreError) in
      var result = BatchResult()
      let inserted = try insert(batch.enqueues)
      result.enqueued = inserted.results
      result.note(inserted.settled)
      result.finished.reserveCapacity(batch.finishes.count)
      // Progress and start times first: a job that reports progress and then fails in the
      // same turn keeps the progress it reached.
      for (id, progress) in batch.progress {
        try db.run(Self.progressSQL, id, min(max(progress, 0), 100), owner)
      }
      for (id, at) in batch.started { try db.run(Self.startedSQL, id, at, owner) }
      var settled: [JobID] = []
      var settledKeys: [(type: String, key: String)] = []
      let limits = SQLiteLimits(store: self)
      var minutes = MinuteAccumulator()
      // Completions, the bulk of a busy turn, are settled by one statement for the lot; the
      // rest (failures, retries, releases…) one by one, as each needs its job's row first.
      let completed = try completeAll(batch.finishes, now: now, owner: owner)
      for (i, f) in batch.finishes.enumerated() {
        var one = completed[i]
        if one == nil {
          one = try finish(f, now: now, owner: owner, limits: batch.limits, on: limits)
        }
        guard let (r, key, sample) = one else { continue }
        if let sample { minutes.add(sample) }
        if r.state?.isFinal == true { settled.append(r.id) }
        if let key, r.state != nil { settledKeys.append((r.type, key)) }
        result.finished.append(r)
      }
      if !minutes.isEmpty { try flushMinutes(minutes, now: now) }
      if !settled.isEmpty {
        // In the same transaction as the finishes: a child is released (or cancelled) exactly
        // when its last parent's outcome becomes durable.
        result.note(try resolveChildren(of: settled, now: now))
      }
      if batch.promoteDue { result.promoted = try promote(now: now) }
      let limited = !batch.limits.isEmpty || batch.sweepLimits
      if limited {
        result.limitWork = try Limiter.releaseStep(
          batch.limits, settled: settledKeys, sweep: batch.sweepLimits, on: limits, now: now)
      }
      result.claimed.reserveCapacity(batch.claims.count)
      for claim in batch.claims {
        if let l = claim.limits {
          let (jobs, cut) = try Limiter.claim(claim, l, on: limits, now: now, owner: owner)
          for job in jobs { move(job.type, from: .queued, to: .running) }
          if cut { result.limitWork.insert(l.pool) }
          result.claimed.append(jobs)
        } else {
          result.claimed.append(try self.claim(claim, now: now, owner: owner))
        }
      }
      if limited { result.nextLimitAt = try limits.nextReadyAt() }
      return result
    }
  }

  // Fenced updates of a running job: `?3` is the batch's owner; NULL (no owner) fences nothing.
  static let progressSQL: SQLText =
    "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 2 AND (?3 IS NULL OR owner = ?3)"
  static let startedSQL: SQLText =
    "UPDATE jobs SET started_at = ?2 WHERE id = ?1 AND state = 2 AND (?3 IS NULL OR owner = ?3)"

  static let finishLookupSQL: SQLText = """
    SELECT state, attempts, max_attempts, backoff_base, backoff_cap, cancel_requested, worker_pid,
      type, owner, run_at, limit_key, priority, started_at
    FROM jobs WHERE id = ?1
    """
  /// What the attempt used (`FinishParams.usage`): its own small statement, so the settling
  /// updates above stay as they are.
  static let usageSQL: SQLText =
    "UPDATE jobs SET cpu_seconds = ?2, peak_rss = ?3 WHERE id = ?1"
  static let errorInsertSQL: SQLText =
    "INSERT INTO job_errors (job_id, attempt, message, at, worker_pid) VALUES (?1, ?2, ?3, ?4, ?5)"

  /// Settles one finish; returns also the job's limit key, when it has one, and the attempt as
  /// the per-minute stats count it.
  private func finish(
    _ f: FinishParams, now: Timestamp, owner: OwnerID?, limits: [PoolLimits], on d: SQLiteLimits
  ) throws(StoreError) -> (FinishResult, String?, StatSample?) {
    let st = try db.prepare(Self.finishLookupSQL)
    try st.bind(f.id)
    guard try st.step(), st.int(0) == JobState.running.rawValue,
      owner == nil || st.optionalInt64(8) == owner
    else {
      st.reset()
      return (FinishResult(id: f.id, state: nil, attempt: 0), nil, nil)
    }
    let type = st.text(7)
    let runAt = Timestamp(micros: st.int64(9))
    let attempts = st.int(1)
    let maxAttempts = st.int(2)
    var backoff = f.backoff
    if let base = st.optionalInt64(3) {
      backoff = BackoffPolicy(
        base: .microseconds(base), cap: .microseconds(st.optionalInt64(4) ?? base))
    }
    let cancelRequested = st.int64(5) != 0
    let pid = f.workerPID.map(Int64.init) ?? st.optionalInt64(6)
    let limitKey = st.optionalText(10)
    let priority = st.int(11)
    let startedAt = f.startedAt ?? st.optionalInt64(12).map(Timestamp.init(micros:))
    st.reset()
    if let u = f.usage { try db.run(Self.usageSQL, f.id, u.cpuSeconds, u.peakRSS) }
    if case .outcome(.rateLimited(let pause)) = f.settlement, !cancelRequested, let key = limitKey,
      let l = Limiter.forType(type, in: limits)
    {
      // Back in the queue, held, keeping its place; its key starts nothing before `d` is over.
      try db.run(
        """
        UPDATE jobs SET state = 1, held = 1, worker_pid = ?2, owner = NULL,
          started_at = coalesce(?3, started_at)
        WHERE id = ?1
        """, f.id, pid, f.startedAt)
      move(type, from: .running, to: .queued)
      let until = now.adding(max(.zero, pause))
      try Limiter.block(l, key: key, until: until, on: d, now: now)
      return (
        FinishResult(id: f.id, state: .queued, attempt: attempts + 1, type: type, retryAt: until),
        key, nil
      )
    }

    let attempt = attempts + 1
    var recorded: String?
    var retryAt: Timestamp?
    func recordError(_ message: String) throws(StoreError) {
      try db.run(Self.errorInsertSQL, f.id, attempt, message, now, pid)
      recorded = message
    }
    let decision = RetryRule.decide(
      f.settlement, attempts: attempts, maxAttempts: maxAttempts, backoff: backoff,
      jitter: f.jitter)
    let state: JobState
    switch decision {
    case .complete:
      state = .completed
      try db.run(
        """
        UPDATE jobs SET state = 3, attempts = attempts + 1, progress = 100, finished_at = ?2,
          worker_pid = ?3, owner = NULL, started_at = coalesce(?4, started_at), result = ?5
        WHERE id = ?1
        """, f.id, now, pid, f.startedAt, f.result)
    case .cancel:
      state = .cancelled
      try db.run(
        """
        UPDATE jobs SET state = 4, attempts = attempts + 1, finished_at = ?2, worker_pid = ?3,
          owner = NULL, started_at = coalesce(?4, started_at)
        WHERE id = ?1
        """, f.id, now, pid, f.startedAt)
    case .dead(let error):
      state = .dead
      try recordError(error)
      try db.run(
        """
        UPDATE jobs SET state = 5, attempts = attempts + 1, finished_at = ?2, worker_pid = ?3,
          owner = NULL, started_at = coalesce(?4, started_at)
        WHERE id = ?1
        """, f.id, now, pid, f.startedAt)
    case .requeue(let delay, let spendsAttempt, let error):
      if let error { try recordError(error) }
      if cancelRequested {
        // The operator asked for this job to stop: a failure must not bring it back.
        state = .cancelled
        try db.run(
          """
          UPDATE jobs SET state = 4, attempts = attempts + ?3, finished_at = ?2, worker_pid = ?4,
            owner = NULL, started_at = coalesce(?5, started_at)
          WHERE id = ?1
          """, f.id, now, spendsAttempt ? 1 : 0, pid, f.startedAt)
      } else {
        state = delay > .zero ? .scheduled : .queued
        // An attempt given back without spending anything (a prefetched job released, or one
        // interrupted by a drain or a dead supervisor) keeps its place in the claim order.
        let keepPlace = delay == .zero && !spendsAttempt
        let due = keepPlace ? runAt : now.adding(delay)
        retryAt = due
        try db.run(
          """
          UPDATE jobs SET state = ?2, run_at = ?3, attempts = attempts + ?4, worker_pid = ?5,
            owner = NULL, snoozes = snoozes + ?6, started_at = coalesce(?7, started_at)
          WHERE id = ?1
          """, f.id, state.rawValue, due, spendsAttempt ? 1 : 0, pid, f.settlement.isSnooze ? 1 : 0,
          f.startedAt)
      }
    }
    move(type, from: .running, to: state)
    let sample = StatSample.of(
      decision, cancelRequested: cancelRequested, type: type, priority: priority,
      startedAt: startedAt, runAt: runAt, now: now)
    return (
      FinishResult(
        id: f.id, state: state, attempt: attempt, type: type, retryAt: retryAt, error: recorded),
      limitKey, sample
    )
  }

  /// The claim query for one type: served in order, without sorting, by the partial index
  /// `jobs_ready (type, priority DESC, run_at, id) WHERE state = 1`.
  ///
  /// The hot queries name their index (`INDEXED BY`): without `ANALYZE` statistics SQLite's
  /// planner guesses, and with an index on `(state, id)` it once preferred that for
  /// `state = 0 AND run_at <= ?`, scanning every scheduled job on each promotion. A named index
  /// pins the plan whatever the data, and fails loudly at prepare time if a migration ever
  /// drops it.
  static let claimSQL: SQLText = """
    SELECT id, payload, attempts, max_attempts, priority, run_at, snoozes, traceparent
    FROM jobs INDEXED BY jobs_ready
    WHERE state = 1 AND held = 0 AND type = ?1 ORDER BY priority DESC, run_at, id LIMIT ?2
    """
  static let promoteSQL: SQLText = """
    UPDATE jobs INDEXED BY jobs_scheduled SET state = 1 WHERE state = 0 AND run_at <= ?1
    RETURNING type
    """
  static let startSQL: SQLText =
    "UPDATE jobs SET state = 2, started_at = ?2, worker_pid = ?3, owner = ?4 WHERE id = ?1"
  /// `startSQL` for many jobs: `?1` now, `?2` the owner, then (id, worker pid) per row.
  static let startAllSQL = SQLRowsText(
    head: "UPDATE jobs SET state = 2, started_at = ?1, worker_pid = v.column2, owner = ?2 FROM",
    tail: "WHERE jobs.id = v.column1", width: 2, shared: 2)

  /// Scheduled jobs due at `now` become queued; returns how many.
  func promote(now: Timestamp) throws(StoreError) -> Int {
    let st = try db.prepare(Self.promoteSQL)
    defer { st.reset() }
    try st.bind(now)
    var n = 0
    while try st.step() {
      move(st.text(0), from: .scheduled, to: .queued)
      n += 1
    }
    return n
  }

  /// Two statements (select the jobs in claim order, then one update for all of them) under
  /// the write lock: faster than one `UPDATE … RETURNING` (MEASURED.md), and safe because
  /// nobody else can write.
  private func claim(_ p: ClaimParams, now: Timestamp, owner: OwnerID?) throws(StoreError)
    -> [ClaimedJob]
  {
    guard p.limit > 0, !p.types.isEmpty else { return [] }
    var seen = Set<String>()
    let types = p.types.filter { seen.insert($0).inserted }
    var jobs: [ClaimedJob] = []
    jobs.reserveCapacity(min(p.limit, 1024))
    let st = try db.prepare(Self.claimSQL)
    for type in types {
      st.reset()
      try st.bind(type, p.limit)
      while try st.step() {
        jobs.append(
          ClaimedJob(
            id: st.int64(0), type: type, payload: st.text(1), attempt: st.int(2) + 1,
            maxAttempts: st.int(3), priority: st.int(4), runAt: Timestamp(micros: st.int64(5)),
            snoozes: st.int(6), traceparent: st.optionalText(7)))
      }
    }
    st.reset()
    if types.count > 1 {
      // Claim order: priority descending, then run_at and id ascending (note the swaps).
      jobs.sort { ($0.priority, $1.runAt, $1.id) > ($1.priority, $0.runAt, $0.id) }
      if jobs.count > p.limit { jobs.removeSubrange(p.limit...) }
    }
    if jobs.count < Self.setRows {
      for (i, job) in jobs.enumerated() {
        try db.run(Self.startSQL, job.id, now, p.worker(at: i), owner)
      }
    } else {
      for chunk in SQLRowsText.chunks(jobs.count) {
        let st = try db.prepare(Self.startAllSQL, rows: chunk.count)
        defer { st.reset() }
        try st.bind(now, owner)
        for (r, i) in chunk.enumerated() {
          try st.bind(row: r, of: Self.startAllSQL, jobs[i].id, p.worker(at: i))
        }
        while try st.step() {}
      }
    }
    if types.count == 1 {
      move(types[0], from: .queued, to: .running, jobs.count)
    } else {
      for job in jobs { move(job.type, from: .queued, to: .running) }
    }
    return jobs
  }
}
