import DroverCore

/// The supervisor's group commit on PostgreSQL: one or two round trips per turn.
extension PostgresStore {
  /// The counter bookkeeping every state-changing statement ends with: `moves` is a query of
  /// `(type, st, d)` rows (`d` = +1 / -1 per job), summed per (type, state) and added to this
  /// connection's slot (`$slot` is the statement's parameter number).
  static func countMoves(_ moves: String, slot: Int) -> String {
    """
    counted AS (
      INSERT INTO drover_job_counts AS c (type, state, slot, n)
      SELECT type, st, $\(slot), sum(d) FROM (\(moves)) AS m GROUP BY type, st
      ON CONFLICT (type, state, slot) DO UPDATE SET n = c.n + excluded.n)
    """
  }

  static let progressSQL = """
    UPDATE drover_jobs AS j SET progress = p.v
    FROM unnest($1::bigint[], $2::int[]) AS p(id, v)
    WHERE j.id = p.id AND j.state = 2 AND ($3::bigint IS NULL OR j.owner = $3)
    """
  static let startedSQL = """
    UPDATE drover_jobs AS j SET started_at = p.v
    FROM unnest($1::bigint[], $2::bigint[]) AS p(id, v)
    WHERE j.id = p.id AND j.state = 2 AND ($3::bigint IS NULL OR j.owner = $3)
    """

  /// Completions and cancelled outcomes need nothing from the row: one fenced update settles
  /// them all, and what it returns is what it settled.
  static let settleDirectSQL = """
    WITH u AS (
      UPDATE drover_jobs AS j SET state = f.state, attempts = j.attempts + 1,
        progress = CASE WHEN f.state = 3 THEN 100 ELSE j.progress END, finished_at = $2,
        worker_pid = coalesce(f.pid, j.worker_pid), owner = NULL,
        started_at = coalesce(f.started, j.started_at),
        result = CASE WHEN f.state = 3 THEN f.result ELSE j.result END,
        cpu_seconds = coalesce(f.cpu, j.cpu_seconds), peak_rss = coalesce(f.rss, j.peak_rss)
      FROM unnest($1::bigint[], $3::smallint[], $4::int[], $7::bigint[], $8::text[],
        $9::float8[], $10::bigint[]) AS f(id, state, pid, started, result, cpu, rss)
      WHERE j.id = f.id AND j.state = 2 AND ($5::bigint IS NULL OR j.owner = $5)
      RETURNING j.id, j.type, j.attempts, f.state, j.limit_key, j.priority, j.started_at, j.run_at),
    \(countMoves(
      "SELECT type, 2::smallint AS st, -1 AS d FROM u UNION ALL SELECT type, state, 1 FROM u",
      slot: 6)),
    \(minuteStats(
      """
      SELECT type, priority, state AS k,
        CASE WHEN started_at IS NOT NULL THEN greatest(0, $2 - started_at) END AS run_us,
        CASE WHEN started_at IS NOT NULL THEN greatest(0, started_at - run_at) END AS wait_us
      FROM u WHERE state = 3
      """, now: 2, slot: 6))
    SELECT id, type, attempts, limit_key FROM u
    """

  /// Failures, retries and releases need the row (attempts, budget, backoff, cancel request):
  /// read and locked first, in claim-free order (by id) so two writers never deadlock.
  static let finishLookupSQL = """
    SELECT id, state, attempts, max_attempts, backoff_base, backoff_cap, cancel_requested,
      worker_pid, type, owner, run_at, limit_key, priority, started_at
    FROM drover_jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
    """

  static let settleDecidedSQL = """
    WITH u AS (
      UPDATE drover_jobs AS j SET state = f.state, attempts = j.attempts + f.spend,
        finished_at = f.finished_at, run_at = coalesce(f.run_at, j.run_at), worker_pid = f.pid,
        owner = NULL, snoozes = j.snoozes + f.snoozed, started_at = coalesce(f.started, j.started_at),
        cpu_seconds = coalesce(f.cpu, j.cpu_seconds), peak_rss = coalesce(f.rss, j.peak_rss)
      FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::bigint[], $5::bigint[],
        $6::int[], $13::int[], $14::bigint[], $15::float8[], $16::bigint[], $17::int[],
        $18::bigint[], $19::bigint[])
        AS f(id, state, spend, finished_at, run_at, pid, snoozed, started, cpu, rss, k, run_us,
          wait_us)
      WHERE j.id = f.id
      RETURNING j.type, f.state, j.priority, f.k, f.run_us, f.wait_us),
    \(countMoves(
      "SELECT type, 2::smallint AS st, -1 AS d FROM u UNION ALL SELECT type, state, 1 FROM u",
      slot: 7)),
    \(minuteStats(
      "SELECT type, priority, k, run_us, wait_us FROM u WHERE k > 0", now: 8, slot: 7)),
    errs AS (
      INSERT INTO drover_job_errors (job_id, attempt, message, at, worker_pid)
      SELECT e.id, e.attempt, e.message, $8, e.pid
      FROM unnest($9::bigint[], $10::int[], $11::text[], $12::int[])
        AS e(id, attempt, message, pid))
    SELECT count(*) FROM u
    """

  static let promoteSQL = """
    WITH p AS (
      UPDATE drover_jobs AS j SET state = 1
      WHERE j.id IN (
        SELECT id FROM drover_jobs WHERE state = 0 AND run_at <= $1
        ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)
      RETURNING j.type),
    \(countMoves(
      "SELECT type, 0::smallint AS st, -1 AS d FROM p UNION ALL SELECT type, 1::smallint, 1 FROM p",
      slot: 2))
    SELECT (SELECT count(*) FROM p),
      (SELECT count(*) FROM (SELECT pg_notify($3, d.type) FROM (SELECT DISTINCT type FROM p) AS d)
        AS n)
    """

  /// Up to `$2` ready jobs of the types in `$1`, in claim order, skipping rows another
  /// supervisor has locked: each type's range of the ready index is read in order (LATERAL),
  /// then merged.
  static let claimSQL = """
    WITH picked AS (
      SELECT r.id, row_number() OVER (ORDER BY r.priority DESC, r.run_at, r.id) AS n
      FROM unnest($1::text[]) AS t(type)
      CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM drover_jobs
        WHERE state = 1 AND NOT held AND type = t.type
        ORDER BY priority DESC, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) AS r
      ORDER BY r.priority DESC, r.run_at, r.id LIMIT $2),
    claimed AS (
      UPDATE drover_jobs AS j SET state = 2, started_at = $3,
        worker_pid = coalesce(($7::int[])[picked.n], $4), owner = $5
      FROM picked WHERE j.id = picked.id
      RETURNING j.id, j.type, j.payload, j.payload_raw, j.attempts, j.max_attempts, j.priority,
        j.run_at, j.snoozes, j.traceparent),
    \(countMoves(
      """
      SELECT type, 1::smallint AS st, -1 AS d FROM claimed
      UNION ALL SELECT type, 2::smallint, 1 FROM claimed
      """, slot: 6))
    SELECT id, type, payload, payload_raw, attempts, max_attempts, priority, run_at, snoozes,
      traceparent
    FROM claimed ORDER BY priority DESC, run_at, id
    """

  /// Applies one supervisor turn (see `JobStore.apply` and `SQLiteStore.apply` for the order
  /// and the fencing rules, which are the same here).
  ///
  /// Round trips: one when no finish needs its row read (completions, cancellations) and no
  /// enqueue has a unique key; otherwise two: the look-ups (rows locked) and keyed inserts,
  /// then every write, the claims and COMMIT in one pipeline.
  public func apply(_ batch: StoreBatch) throws(StoreError) -> BatchResult {
    try requireWritable()
    if batch.isEmpty { return BatchResult(claimed: batch.claims.map { _ in [] }) }
    for (i, job) in batch.enqueues.enumerated() {
      try job.validate(index: i, of: batch.enqueues.count, maxPayload: maxPayload)
    }
    try EnqueueParams.validateParents(batch.enqueues)
    try Self.refuseNUL(batch.enqueues)
    try ready()
    // Left over when the give-back right after a reconnect failed.
    if !uncertainClaims.isEmpty { try giveBackUncertainClaims() }
    do {
      return try applyInTransaction(batch)
    } catch {
      db.rollbackIfOpen()
      if !db.isConnected, let owner = batch.owner,
        batch.claims.contains(where: { $0.limit > 0 })
      {
        // The COMMIT may have landed: its claims are given back after the reconnect.
        uncertainClaims.append(batch.now.micros)
        uncertainOwner = owner
      }
      throw error
    }
  }

  private func applyInTransaction(_ batch: StoreBatch) throws(StoreError) -> BatchResult {
    let now = batch.now
    let owner = batch.owner
    var result = BatchResult()

    // The first occurrence of a job settles it; a repeat in the same batch is ignored, as a
    // finish of a job that is no longer running.
    var seen = Set<JobID>()
    var direct: [(index: Int, f: FinishParams, state: JobState)] = []
    var decided: [(index: Int, f: FinishParams)] = []
    for (i, f) in batch.finishes.enumerated() where seen.insert(f.id).inserted {
      switch f.settlement {
      case .outcome(.completed): direct.append((i, f, .completed))
      case .outcome(.cancelled): direct.append((i, f, .cancelled))
      default: decided.append((i, f))
      }
    }
    result.finished = batch.finishes.map { FinishResult(id: $0.id, state: nil, attempt: 0) }

    // Jobs with parents need their ids before their edges: inserted in the first round trip,
    // as keyed ones are.
    let linked = batch.enqueues.contains { !$0.parents.isEmpty }
    let keyed = linked || batch.enqueues.contains { $0.uniqueKey != nil }
    var begun = false
    // Limit work runs after the pipelines, one statement at a time, under the limits lock
    // taken before any row lock (so two supervisors never wait on each other in a cycle).
    let limited =
      !batch.limits.isEmpty || batch.sweepLimits
      || batch.claims.contains { $0.limits != nil && $0.limit > 0 }
    if limited {
      _ = try db.pipeline([
        PGStatement("BEGIN"),
        PGStatement("SELECT pg_advisory_xact_lock($1)", [String(Self.limitsLock)]),
      ])
      begun = true
    }
    var rows: [JobID: LookupRow] = [:]
    if keyed || !decided.isEmpty {
      var first = begun ? [] : [PGStatement("BEGIN")]
      let base = first.count
      if keyed { first.append(insertStatement(batch.enqueues)) }
      let check = linked ? parentCheckStatement(batch.enqueues) : nil
      if let check { first.append(check) }
      if !decided.isEmpty {
        first.append(PGStatement(Self.finishLookupSQL, [PGArray.ints(decided.map(\.f.id))]))
      }
      let r = try db.pipeline(first)
      begun = true
      if keyed { result.enqueued = try enqueueResults(batch.enqueues, r[base]) }
      if check != nil { try requireParents(batch.enqueues, r[base + 1]) }
      if !decided.isEmpty {
        let l = r[r.count - 1]
        for i in 0..<l.count {
          rows[l.int64(i, 0)] = LookupRow(
            state: l.int(i, 1), attempts: l.int(i, 2), maxAttempts: l.int(i, 3),
            backoffBase: l.optionalInt64(i, 4), backoffCap: l.optionalInt64(i, 5),
            cancelRequested: l.bool(i, 6), workerPID: l.optionalInt64(i, 7), type: l.text(i, 8),
            owner: l.optionalInt64(i, 9), runAt: Timestamp(micros: l.int64(i, 10)),
            limitKey: l.optionalText(i, 11), priority: l.int(i, 12),
            startedAt: l.optionalInt64(i, 13).map(Timestamp.init(micros:)))
        }
      }
    }

    var second: [PGStatement] = []
    if !begun { second.append(PGStatement("BEGIN")) }
    var insertAt: Int?
    if !batch.enqueues.isEmpty && !keyed {
      insertAt = second.count
      second.append(insertStatement(batch.enqueues))
    }
    var linkAt: Int?
    if linked {
      let statements = linkStatements(batch.enqueues, result.enqueued)
      if !statements.isEmpty {
        linkAt = second.count + 1
        second += statements
      }
    }
    let ownerText = owner.pgText
    if !batch.progress.isEmpty {
      var last: [JobID: Int] = [:]
      var order: [JobID] = []
      for (id, p) in batch.progress {
        if last.updateValue(min(max(p, 0), 100), forKey: id) == nil { order.append(id) }
      }
      second.append(
        PGStatement(
          Self.progressSQL,
          [PGArray.ints(order), PGArray.ints(order.map { last[$0]! }), ownerText]))
    }
    if !batch.started.isEmpty {
      var last: [JobID: Int64] = [:]
      var order: [JobID] = []
      for (id, at) in batch.started {
        if last.updateValue(at.micros, forKey: id) == nil { order.append(id) }
      }
      second.append(
        PGStatement(
          Self.startedSQL,
          [PGArray.ints(order), PGArray.ints(order.map { last[$0]! }), ownerText]))
    }
    var directAt: Int?
    if !direct.isEmpty {
      directAt = second.count
      second.append(
        PGStatement(
          Self.settleDirectSQL,
          [
            PGArray.ints(direct.map(\.f.id)), String(now.micros),
            PGArray.ints(direct.map(\.state.rawValue)),
            PGArray.ints(direct.map { $0.f.workerPID }), ownerText, String(slot),
            PGArray.ints(direct.map { $0.f.startedAt?.micros }),
            PGArray.texts(direct.map(\.f.result)),
            PGArray.doubles(direct.map { $0.f.usage?.cpuSeconds }),
            PGArray.ints(direct.map { $0.f.usage?.peakRSS }),
          ]))
    }
    var wake: [String] = batch.enqueues.filter { $0.parents.isEmpty && $0.runAt <= $0.now }
      .map(\.type)
    var finals = direct.map(\.f.id)
    var settledKeys: [(type: String, key: String)] = []
    var rateHolds: [(id: JobID, limits: PoolLimits, key: String, until: Timestamp)] = []
    if !decided.isEmpty {
      let (statement, settled, requeued) = decide(
        decided, rows: rows, now: now, owner: owner, limits: batch.limits)
      for (i, r) in settled {
        result.finished[i] = r
        if r.state?.isFinal == true { finals.append(r.id) }
        if let key = rows[r.id]?.limitKey { settledKeys.append((r.type, key)) }
        if case .outcome(.rateLimited) = batch.finishes[i].settlement, r.state == .queued,
          let key = rows[r.id]?.limitKey, let l = Limiter.forType(r.type, in: batch.limits),
          let until = r.retryAt
        {
          rateHolds.append((r.id, l, key, until))
        }
      }
      wake += requeued
      if let statement { second.append(statement) }
    }
    // Children of the jobs settled final here, in the same transaction (the function reads
    // the parents' rows as these updates left them; a fenced-out finish changes nothing).
    var resolveAt: Int?
    if !finals.isEmpty {
      resolveAt = second.count
      second.append(resolveStatement(parents: finals, now: now))
    }
    var promoteAt: Int?
    if batch.promoteDue {
      promoteAt = second.count
      second.append(PGStatement(Self.promoteSQL, [String(now.micros), String(slot), channel]))
    }
    // With limit work, every claim runs after it (a release may feed any of them).
    var claimAt: [Int?] = []
    for c in batch.claims {
      guard !limited else {
        claimAt.append(nil)
        continue
      }
      claimAt.append(second.count)
      second.append(claimStatement(c, now: now, owner: owner))
    }
    if let n = notifyStatement(types: wake) { second.append(n) }
    if !limited { second.append(PGStatement("COMMIT")) }

    let r = try db.pipeline(second)
    if let insertAt { result.enqueued = try enqueueResults(batch.enqueues, r[insertAt]) }
    if let directAt {
      let d = r[directAt]
      var settled: [JobID: (String, Int)] = [:]
      for i in 0..<d.count {
        settled[d.int64(i, 0)] = (d.text(i, 1), d.int(i, 2))
        if let key = d.optionalText(i, 3) { settledKeys.append((d.text(i, 1), key)) }
      }
      for (index, f, state) in direct {
        guard let (type, attempts) = settled[f.id] else { continue }
        result.finished[index] = FinishResult(
          id: f.id, state: state, attempt: attempts, type: type)
      }
    }
    if let promoteAt { result.promoted = r[promoteAt].int(0, 0) }
    for at in [linkAt, resolveAt] {
      guard let at else { continue }
      result.note(Self.released(r[at]))
    }
    result.claimed = batch.claims.indices.map { i in
      claimAt[i].map { Self.claimed(r[$0]) } ?? []
    }
    if limited {
      try applyLimits(
        batch, into: &result, settled: settledKeys, rateHolds: rateHolds, now: now, owner: owner)
      try db.exec("COMMIT")
    }
    return result
  }

  /// The claim statement of one pool without limits.
  func claimStatement(_ c: ClaimParams, now: Timestamp, owner: OwnerID?) -> PGStatement {
    var seenTypes = Set<String>()
    let types = c.types.filter { seenTypes.insert($0).inserted }
    return PGStatement(
      Self.claimSQL,
      [
        PGArray.texts(types), String(max(0, c.limit)), String(now.micros), c.workerPID.pgText,
        owner.pgText, String(slot), PGArray.ints(c.workers),
      ])
  }

  /// The jobs a claim statement returned.
  static func claimed(_ c: PGResult) -> [ClaimedJob] {
    (0..<c.count).map { row in
      ClaimedJob(
        id: c.int64(row, 0), type: c.text(row, 1), payload: payload(c, row, 2),
        attempt: c.int(row, 4) + 1, maxAttempts: c.int(row, 5), priority: c.int(row, 6),
        runAt: Timestamp(micros: c.int64(row, 7)), snoozes: c.int(row, 8),
        traceparent: c.optionalText(row, 9))
    }
  }

  /// What a finish needs from its job's row.
  struct LookupRow {
    var state: Int
    var attempts: Int
    var maxAttempts: Int
    var backoffBase: Int64?
    var backoffCap: Int64?
    var cancelRequested: Bool
    var workerPID: Int64?
    var type: String
    var owner: Int64?
    var runAt: Timestamp
    var limitKey: String?
    var priority: Int
    var startedAt: Timestamp?
  }

  /// Applies `RetryRule` to the finishes whose rows were read; returns one update statement
  /// for all of them (nil when none is settled), their results by batch index, and the types of
  /// jobs that went back to `queued` (peers are woken for them).
  private func decide(
    _ finishes: [(index: Int, f: FinishParams)], rows: [JobID: LookupRow], now: Timestamp,
    owner: OwnerID?, limits: [PoolLimits]
  ) -> (PGStatement?, [(Int, FinishResult)], [String]) {
    var ids: [JobID] = []
    var states: [Int] = []
    var spends: [Int] = []
    var snoozed: [Int] = []
    var started: [Int64?] = []
    var cpus: [Double?] = []
    var rsses: [Int64?] = []
    var finishedAt: [Int64?] = []
    var runAts: [Int64?] = []
    var pids: [Int64?] = []
    var errIDs: [JobID] = []
    var errAttempts: [Int] = []
    var errMessages: [String?] = []
    var errPIDs: [Int64?] = []
    var kinds: [Int] = []
    var runs: [Int64?] = []
    var waits: [Int64?] = []
    var results: [(Int, FinishResult)] = []
    var requeued: [String] = []
    for (index, f) in finishes {
      guard let row = rows[f.id], row.state == JobState.running.rawValue,
        owner == nil || row.owner == owner
      else { continue }
      var backoff = f.backoff
      if let base = row.backoffBase {
        backoff = BackoffPolicy(
          base: .microseconds(base), cap: .microseconds(row.backoffCap ?? base))
      }
      let pid = f.workerPID.map(Int64.init) ?? row.workerPID
      let attempt = row.attempts + 1
      var recorded: String?
      var retryAt: Timestamp?
      let decision = RetryRule.decide(
        f.settlement, attempts: row.attempts, maxAttempts: row.maxAttempts, backoff: backoff,
        jitter: f.jitter)
      func record(_ message: String) {
        recorded = message
        errIDs.append(f.id)
        errAttempts.append(attempt)
        // PostgreSQL's text cannot hold NUL (a worker's stderr might).
        errMessages.append(
          message.utf8.contains(0) ? message.replacingAll("\u{0}", with: "\u{FFFD}") : message)
        errPIDs.append(pid)
      }
      let state: JobState
      var spend = 1
      var done: Int64? = now.micros
      var due: Int64?
      switch decision {
      case .complete: state = .completed
      case .cancel: state = .cancelled
      case .dead(let error):
        state = .dead
        record(error)
      case .requeue(let delay, let spendsAttempt, let error):
        if let error { record(error) }
        spend = spendsAttempt ? 1 : 0
        if row.cancelRequested {
          state = .cancelled
        } else if case .outcome(.rateLimited) = f.settlement, row.limitKey != nil,
          Limiter.forType(row.type, in: limits) != nil
        {
          // Back in the queue keeping its place; held (and its key blocked) by `applyLimits`.
          state = .queued
          retryAt = now.adding(max(.zero, delay))
          due = row.runAt.micros
          done = nil
        } else {
          state = delay > .zero ? .scheduled : .queued
          let keepPlace = delay == .zero && !spendsAttempt
          let at = keepPlace ? row.runAt : now.adding(delay)
          retryAt = at
          due = at.micros
          done = nil
          if state == .queued { requeued.append(row.type) }
        }
      }
      ids.append(f.id)
      states.append(state.rawValue)
      spends.append(spend)
      snoozed.append(f.settlement.isSnooze ? 1 : 0)
      started.append(f.startedAt?.micros)
      cpus.append(f.usage?.cpuSeconds)
      rsses.append(f.usage?.peakRSS)
      finishedAt.append(done)
      runAts.append(due)
      pids.append(pid)
      let sample = StatSample.of(
        decision, cancelRequested: row.cancelRequested, type: row.type, priority: row.priority,
        startedAt: f.startedAt ?? row.startedAt, runAt: row.runAt, now: now)
      kinds.append(sample?.kind ?? 0)
      runs.append(sample?.runMicros)
      waits.append(sample?.waitMicros)
      results.append(
        (
          index,
          FinishResult(
            id: f.id, state: state, attempt: attempt, type: row.type, retryAt: retryAt,
            error: recorded)
        ))
    }
    guard !ids.isEmpty else { return (nil, results, requeued) }
    let statement = PGStatement(
      Self.settleDecidedSQL,
      [
        PGArray.ints(ids), PGArray.ints(states), PGArray.ints(spends), PGArray.ints(finishedAt),
        PGArray.ints(runAts), PGArray.ints(pids), String(slot), String(now.micros),
        PGArray.ints(errIDs), PGArray.ints(errAttempts), PGArray.texts(errMessages),
        PGArray.ints(errPIDs), PGArray.ints(snoozed), PGArray.ints(started),
        PGArray.doubles(cpus), PGArray.ints(rsses), PGArray.ints(kinds), PGArray.ints(runs),
        PGArray.ints(waits),
      ])
    return (statement, results, requeued)
  }

  /// After a reconnect: claims of a commit whose answer was lost go back to `queued` if they
  /// landed (still running under this owner with that batch's start time), without spending
  /// an attempt: the supervisor never handed them to a worker.
  func giveBackUncertainClaims() throws(StoreError) {
    guard let owner = uncertainOwner, !uncertainClaims.isEmpty else { return }
    try db.exec(
      """
      WITH r AS (
        UPDATE drover_jobs SET state = 1, owner = NULL
        WHERE owner = $1 AND state = 2 AND started_at = ANY($2::bigint[])
        RETURNING type),
      \(Self.countMoves(
        "SELECT type, 2::smallint AS st, -1 AS d FROM r UNION ALL SELECT type, 1::smallint, 1 FROM r",
        slot: 3))
      SELECT count(*) FROM r
      """, owner, PGArray.ints(uncertainClaims), Int(slot))
    uncertainClaims.removeAll()
    uncertainOwner = nil
  }
}
