import DroverCore

/// A turn's completions settled as a set: one look-up and one update per 64 of them (see
/// ``apply(_:)``).
extension SQLiteStore {
  /// Every finish in `finishes` that completes a job and is the batch's only finish for that
  /// job, a statement per 64 of them (`SELECT`, then `UPDATE … FROM (VALUES …)`),
  /// fenced like ``finish(_:now:owner:limits:on:)``. The i-th result is set for each such
  /// finish (nil for the others): the settled job's result, or an ignored one (nil state) when
  /// the job was not running or not this owner's.
  func completeAll(_ finishes: [FinishParams], now: Timestamp, owner: OwnerID?)
    throws(StoreError) -> [(FinishResult, String?, StatSample?)?]
  {
    var index: [JobID: Int] = [:]
    var repeated = Set<JobID>()
    for (i, f) in finishes.enumerated() {
      guard case .outcome(.completed) = f.settlement else {
        repeated.insert(f.id)
        continue
      }
      if index.updateValue(i, forKey: f.id) != nil { repeated.insert(f.id) }
    }
    for id in repeated { index[id] = nil }
    var done = [(FinishResult, String?, StatSample?)?](repeating: nil, count: finishes.count)
    guard !index.isEmpty else { return done }
    let order = index.values.sorted()
    // First what the results need, from the rows as they are (a SELECT and an UPDATE cost less
    // than one UPDATE … RETURNING, which stores its rows aside first); then the update of the
    // rows still running under this owner.
    var settle: [Int] = []
    settle.reserveCapacity(order.count)
    let lookup = Self.completeLookupSQL
    for chunk in SQLRowsText.chunks(order.count) {
      let st = try db.prepare(lookup, rows: chunk.count)
      defer { st.reset() }
      for (r, i) in order[chunk].enumerated() { try st.bind(row: r, of: lookup, finishes[i].id, i) }
      while try st.step() {
        guard st.int(7) == JobState.running.rawValue, owner == nil || st.optionalInt64(8) == owner
        else { continue }
        let i = st.int(9)
        let f = finishes[i]
        let type = st.text(1)
        let startedAt = f.startedAt ?? st.optionalInt64(5).map(Timestamp.init(micros:))
        move(type, from: .running, to: .completed)
        let sample = StatSample.of(
          .complete, cancelRequested: false, type: type, priority: st.int(4),
          startedAt: startedAt, runAt: Timestamp(micros: st.int64(2)), now: now)
        done[i] = (
          FinishResult(id: f.id, state: .completed, attempt: st.int(6) + 1, type: type),
          st.optionalText(3), sample
        )
        settle.append(i)
      }
    }
    for (id, i) in index where done[i] == nil {
      done[i] = (FinishResult(id: id, state: nil, attempt: 0), nil, nil)
    }
    if settle.count < Self.setRows {
      for i in settle {
        let f = finishes[i]
        let usage = f.storedUsage
        try db.run(
          Self.completeOneSQL, f.id, now, f.workerPID, f.startedAt, f.result, usage?.cpuSeconds,
          usage?.peakRSS)
      }
      return done
    }
    let update = Self.completeAllSQL
    for chunk in SQLRowsText.chunks(settle.count) {
      let st = try db.prepare(update, rows: chunk.count)
      defer { st.reset() }
      try st.bind(now)
      // Per row: id, worker pid, handler start, result, cpu seconds, peak rss (NULL keeps the
      // value already there).
      for (r, i) in settle[chunk].enumerated() {
        let f = finishes[i]
        let usage = f.storedUsage
        try st.bind(
          row: r, of: update, f.id, f.workerPID, f.startedAt, f.result, usage?.cpuSeconds,
          usage?.peakRSS)
      }
      while try st.step() {}
    }
    return done
  }

  /// ``completeAll(_:now:owner:)``'s look-up: (id, its position in the batch) per row; the
  /// finish's position comes back as column 9.
  static let completeLookupSQL = SQLRowsText(
    head: """
      SELECT id, type, run_at, limit_key, priority, started_at, attempts, state, owner, v.column2
      FROM
      """,
    tail: "CROSS JOIN jobs ON jobs.id = v.column1", width: 2, shared: 0)

  /// Below this many rows an update by primary key per row costs less than one for the set
  /// (whose plan stores the rows aside first).
  static let setRows = 12

  /// ``completeAllSQL`` for one row, the same columns bound as `?1 …`  after `?2` now.
  static let completeOneSQL: SQLText = """
    UPDATE jobs SET state = 3, attempts = attempts + 1, progress = 100, finished_at = ?2,
      worker_pid = coalesce(?3, worker_pid), owner = NULL, started_at = coalesce(?4, started_at),
      result = ?5, cpu_seconds = coalesce(?6, cpu_seconds), peak_rss = coalesce(?7, peak_rss)
    WHERE id = ?1 AND state = 2
    """

  /// ``completeAll(_:now:owner:)``'s update of the rows it found running: `?1` now, then the
  /// rows (the same columns as the `.complete` case of ``finish(_:now:owner:limits:on:)``, plus
  /// the attempt's usage).
  static let completeAllSQL = SQLRowsText(
    head: """
      UPDATE jobs SET state = 3, attempts = attempts + 1, progress = 100, finished_at = ?1,
        worker_pid = coalesce(v.column2, worker_pid), owner = NULL,
        started_at = coalesce(v.column3, started_at), result = v.column4,
        cpu_seconds = coalesce(v.column5, cpu_seconds), peak_rss = coalesce(v.column6, peak_rss)
      FROM
      """,
    tail: "WHERE jobs.id = v.column1 AND jobs.state = 2", width: 6, shared: 1)
}

extension FinishParams {
  /// The usage `completeAll` stores: none when the CPU figure is not a finite number.
  fileprivate var storedUsage: JobUsage? {
    usage.flatMap { $0.cpuSeconds.isFinite ? $0 : nil }
  }
}
