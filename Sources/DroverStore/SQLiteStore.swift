public import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The embedded `JobStore`: one SQLite file in WAL mode.
///
/// The supervisor is the main writer and claims and settles jobs in batches (`apply`); CLI
/// processes may open the same file at once to enqueue, list or retry. Writers take the write
/// lock up front (`BEGIN IMMEDIATE`) and wait up to the busy timeout for each other, so several
/// processes never lose a write; they only take turns.
///
/// Opening refuses a file that is not a Drover database (plain text, another application's
/// SQLite file, or a schema newer than this build) with `StoreError.notADroverDatabase`,
/// without writing a byte to it. A missing file, a 0-byte file or an SQLite file without any
/// table is initialised.
///
/// Not thread-safe: use one object from one thread at a time; open one per thread or process
/// for concurrency.
public final class SQLiteStore: JobStore {
  let db: SQLiteConnection
  /// The file this store was opened on.
  public let path: String
  /// True for a store opened with `StoreFactory.Access.readOnly`: every write method throws.
  public let isReadOnly: Bool
  /// The largest payload (bytes) an enqueue accepts (`[store] max_payload`; the factory sets
  /// it from the config). Larger ones are refused, naming the size and the limit.
  public var maxPayload = Int.max
  /// Counter changes of the write transaction in progress, written just before its commit and
  /// dropped with it on rollback (see `write`).
  var deltas: [CountDelta] = []
  /// The `PATH.lock` descriptor while this object holds a session, else -1.
  var lockFD: Int32 = -1
  /// The owner `openSession` registered through this object, while open.
  var session: OwnerID?
  /// `PRAGMA data_version` at the previous `othersWrote`, nil before the first call.
  var lastDataVersion: Int64?
  /// What `path` named once opened: `checkStorage` notices when it names another file.
  let fileIdentity: StoreFiles.Identity?
  /// The checkpoint thread, once `checkpointInBackground` started it.
  var checkpointer: SQLiteCheckpointer?

  /// Opens (creating when missing) the store at `path`.
  ///
  /// A new store file is created 0600 whatever the umask (its `-wal` and `-shm` follow), with
  /// `PATH.lock` beside it as a marker (see `StoreFiles`).
  ///
  /// - Parameters:
  ///   - synchronous: `.normal` survives process crashes; `.full` also power loss (one fsync
  ///     per commit, several times slower for small transactions).
  ///   - busyTimeout: how long a write waits for another process's write lock before failing.
  ///   - allowSymlink: whether `path` may be a symbolic link (`-wal`, `-shm` and `.lock` never
  ///     may).
  ///   - fileMode: the mode of the store's files (0o600 or 0o640), set on creation and on the
  ///     files that already exist.
  /// - Throws: `.notADroverDatabase` (file untouched), `.cannotOpen` (also for a refused link,
  ///   and for a missing or empty file whose lock file says a store existed: it was deleted or
  ///   replaced, and a new one would reuse its job ids), or what SQLite reported (`.busy`,
  ///   `.readOnly`, `.unavailable`, …).
  public init(
    path: String, synchronous: StoreConfig.Synchronous = .normal,
    busyTimeout: Duration = .seconds(10), allowSymlink: Bool = false, fileMode: UInt32 = 0o600
  ) throws(StoreError) {
    try StoreFiles.refuseSymlinks(storePath: path, allowSymlink: allowSymlink)
    var size = try SQLiteSchema.fileSize(path: path)
    if (size ?? 0) == 0, access(StoreFiles.lockPath(path), F_OK) == 0 {
      // Another process may have created the store in the meantime: look again.
      size = try SQLiteSchema.fileSize(path: path)
      if (size ?? 0) == 0 { try StoreFiles.refuseLostStore(path) }
    }
    if let size, size > 0 { try SQLiteSchema.inspect(path: path, busyTimeout: busyTimeout) }
    if size == nil {
      try StoreFiles.createStoreFile(
        path, mode: mode_t(fileMode), throughLink: allowSymlink && StoreFiles.isSymlink(path))
    }
    let db = try SQLiteConnection(path: path, create: false, noFollow: !allowSymlink)
    db.setBusyTimeout(busyTimeout)
    let identity = StoreFiles.identity(of: path)
    // Processes opening a new file at once race for its schema and its journal mode; SQLite
    // answers some of those races "busy" at once instead of waiting (a lock upgrade that
    // would deadlock). Each step is idempotent: on busy, the whole sequence is tried again.
    var tries = 0
    while true {
      do throws(StoreError) {
        try SQLiteSchema.migrate(db)
        StoreFiles.ensureMarker(
          storePath: path, highestID: try db.int64("SELECT max(id) FROM jobs"))
        // Only now, with the file known to be Drover's, may the journal mode change.
        guard try db.strings("PRAGMA journal_mode = WAL").first?.lowercased() == "wal" else {
          throw .cannotOpen(path: path, reason: "cannot switch to WAL journal mode")
        }
        break
      } catch let e where e.kind == .busy && tries < 50 {
        tries += 1
        usleep(UInt32(min(tries, 10)) * 10_000)
      }
    }
    try db.execute(
      """
      PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL");
      PRAGMA temp_store = MEMORY;
      PRAGMA cache_size = -16384;
      """)
    StoreFiles.applyMode(storePath: path, mode: mode_t(fileMode), allowSymlink: allowSymlink)
    self.db = db
    self.path = path
    self.isReadOnly = false
    self.fileIdentity = identity
    if let identity { StoreFiles.OpenFiles.add(identity) }
  }

  /// Opens the existing store at `path` for reading only, on a connection of its own: no
  /// migration, no journal-mode change; every write method throws `.readOnly`.
  ///
  /// - Throws: `.cannotOpen` when the file is missing or its schema is older than this build's
  ///   (open it read-write once to migrate); `.notADroverDatabase` as for a read-write open.
  public init(
    readOnlyPath path: String, busyTimeout: Duration = .seconds(10), allowSymlink: Bool = false
  ) throws(StoreError) {
    try StoreFiles.refuseSymlinks(storePath: path, allowSymlink: allowSymlink)
    guard let size = try SQLiteSchema.fileSize(path: path) else {
      throw .cannotOpen(path: path, reason: "no such file (a read-only store is never created)")
    }
    guard size > 0 else {
      throw .cannotOpen(path: path, reason: "the file is empty: no store was created in it yet")
    }
    try SQLiteSchema.inspect(path: path, busyTimeout: busyTimeout)
    let db = try SQLiteConnection(
      path: path, create: false, readOnly: true, noFollow: !allowSymlink)
    db.setBusyTimeout(busyTimeout)
    let identity = StoreFiles.identity(of: path)
    let version = try SQLiteSchema.identity(of: db).userVersion
    guard version == SQLiteSchema.currentVersion else {
      throw .cannotOpen(
        path: path,
        reason: "its schema version \(version) is older than this Drover's "
          + "\(SQLiteSchema.currentVersion); open it read-write once to migrate it")
    }
    try db.execute("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;")
    self.db = db
    self.path = path
    self.isReadOnly = true
    self.fileIdentity = identity
    if let identity { StoreFiles.OpenFiles.add(identity) }
  }

  deinit {
    checkpointer?.stop(unhooking: db)
    // The kernel drops the flock with the descriptor; the owner row stays until the next
    // `openSession` (which ends every other owner's lease) or a peer's rescue.
    if lockFD >= 0 { close(lockFD) }
    if let fileIdentity { StoreFiles.OpenFiles.remove(fileIdentity) }
  }

  /// Throws `.readOnly` on a read-only store: the first thing every write method does.
  func requireWritable() throws(StoreError) {
    if isReadOnly { throw .readOnly("\(path) was opened read-only") }
  }

  /// Runs `body` in one `BEGIN IMMEDIATE` transaction, with the counter changes it recorded
  /// (`count`) written just before the commit. On any failure the deltas go with the rollback,
  /// so the counters never drift from the rows.
  func write<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
    try requireWritable()
    deltas.removeAll(keepingCapacity: true)
    defer { deltas.removeAll(keepingCapacity: true) }
    return try db.transaction(write: true) { () throws(StoreError) in
      let result = try body()
      try flushCounts()
      return result
    }
  }

  // MARK: Enqueue

  static let insertSQL: SQLText = """
    INSERT INTO jobs (type, state, priority, max_attempts, budget, payload, created_at, run_at,
      unique_key, backoff_base, backoff_cap, counted, on_parent_failure, limit_key, traceparent)
    VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?13)
    """
  static let liveKeySQL: SQLText =
    "SELECT id FROM jobs WHERE unique_key = ?1 AND state IN (0, 1, 2, 6) AND id <> ?2 LIMIT 1"

  /// Enqueues `jobs` in one `BEGIN IMMEDIATE` transaction, all or none.
  ///
  /// A job whose unique key is held by a live (scheduled, queued or running) job is not
  /// inserted: its result names the holder with `existed: true`, also when the holder is an
  /// earlier job of the same call. Two processes racing one key make one job: the write lock and
  /// the partial unique index see to it.
  ///
  /// - Throws: `.invalidInput` naming the job's position when a type is empty, a payload is not
  ///   a JSON object's text, `maxAttempts` < 1 or a backoff is negative; nothing is enqueued.
  public func enqueue(_ jobs: [EnqueueParams]) throws(StoreError) -> [EnqueueResult] {
    try requireWritable()
    for (i, job) in jobs.enumerated() {
      try job.validate(index: i, of: jobs.count, maxPayload: maxPayload)
    }
    try EnqueueParams.validateParents(jobs)
    if jobs.isEmpty { return [] }
    return try write { () throws(StoreError) in try insert(jobs).results }
  }

  /// Inserts validated jobs inside the caller's write transaction; a job with parents starts
  /// `waiting` and is settled at once against its parents (see `linkInserted`). Returns also
  /// what settling the new waiting jobs did.
  ///
  /// - Throws: `.invalidInput` for an unknown parent id (the transaction rolls back).
  func insert(_ jobs: [EnqueueParams]) throws(StoreError) -> (
    results: [EnqueueResult], settled: ChildSettlement
  ) {
    var results: [EnqueueResult] = []
    results.reserveCapacity(jobs.count)
    var linked = false
    for (i, job) in jobs.enumerated() {
      if let key = job.uniqueKey, let holder = try db.int64(Self.liveKeySQL, key, Int64(0)) {
        results.append(EnqueueResult(id: holder, existed: true))
        continue
      }
      let state: JobState
      if job.parents.isEmpty {
        state = job.runAt > job.now ? .scheduled : .queued
      } else {
        try requireParents(job, index: i, of: jobs.count)
        state = .waiting
        linked = true
      }
      try db.run(
        Self.insertSQL, job.type, state.rawValue, job.priority, job.maxAttempts, job.payload,
        job.now, job.runAt, job.uniqueKey, job.backoff?.base.microseconds,
        job.backoff?.cap.microseconds, job.onParentFailure.rawValue, job.limitKey,
        job.traceparent)
      count(job.type, state, 1)
      results.append(EnqueueResult(id: db.lastInsertID, existed: false))
    }
    guard linked else { return (results, ChildSettlement()) }
    let now = jobs.map(\.now).max() ?? .now()
    return (results, try linkInserted(jobs, results, now: now))
  }

  // MARK: Reads

  // The column list every job query selects, in `decodeJob`'s order. Spelled out in each
  // statement because statement texts are literals (see `SQLText`).
  //   id, type, state, priority, attempts, max_attempts, payload, progress, created_at, run_at,
  //   started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested, worker_pid

  /// One job with its errors (oldest first), or nil when no job has this id.
  public func job(_ id: JobID) throws(StoreError) -> Job? {
    try db.transaction(write: false) { () throws(StoreError) in try loadJob(id) }
  }

  /// `job(_:)` inside a transaction the caller holds.
  func loadJob(_ id: JobID) throws(StoreError) -> Job? {
    let st = try db.prepare(
      """
      SELECT id, type, state, priority, attempts, max_attempts, payload, progress, created_at,
        run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested,
        worker_pid, snoozes
      FROM jobs WHERE id = ?1
      """)
    defer { st.reset() }
    try st.bind(id)
    guard try st.step() else { return nil }
    var job = try Self.decodeJob(st)
    st.reset()
    job.errors = try loadErrors(id)
    let extra = try db.prepare(
      """
      SELECT on_parent_failure, limit_key, held, result, traceparent, cpu_seconds, peak_rss
      FROM jobs WHERE id = ?1
      """)
    defer { extra.reset() }
    try extra.bind(id)
    if try extra.step() {
      job.onParentFailure = ParentFailurePolicy(rawValue: extra.int(0)) ?? .cancel
      job.limitKey = extra.optionalText(1)
      job.held = extra.int(2) != 0 && job.state == .queued
      job.result = extra.optionalText(3)
      job.traceparent = extra.optionalText(4)
      job.cpuSeconds = extra.optionalDouble(5)
      job.peakRSS = extra.optionalInt64(6)
    }
    extra.reset()
    (job.parents, job.children) = try loadLinks(id)
    return job
  }

  func loadErrors(_ id: JobID) throws(StoreError) -> [JobError] {
    let st = try db.prepare(
      "SELECT attempt, message, at, worker_pid FROM job_errors WHERE job_id = ?1 ORDER BY id")
    defer { st.reset() }
    try st.bind(id)
    var errors: [JobError] = []
    while try st.step() {
      errors.append(
        JobError(
          attempt: st.int(0), message: st.text(1), at: Timestamp(micros: st.int64(2)),
          workerPID: st.optionalInt64(3).map { Int32(truncatingIfNeeded: $0) }))
    }
    return errors
  }

  static func decodeJob(_ st: SQLiteStatement) throws(StoreError) -> Job {
    let id = st.int64(0)
    let state = try decodeState(st.int(2), job: id)
    let base = st.optionalInt64(13)
    let cap = st.optionalInt64(14)
    var backoff: BackoffPolicy?
    if base != nil || cap != nil {
      backoff = BackoffPolicy(
        base: .microseconds(base ?? 0), cap: .microseconds(cap ?? base ?? 0))
    }
    return Job(
      id: id, type: st.text(1), state: state, priority: st.int(3), attempts: st.int(4),
      maxAttempts: st.int(5), payload: st.text(6), progress: st.int(7), errors: [],
      createdAt: Timestamp(micros: st.int64(8)), runAt: Timestamp(micros: st.int64(9)),
      startedAt: st.optionalInt64(10).map(Timestamp.init(micros:)),
      finishedAt: st.optionalInt64(11).map(Timestamp.init(micros:)),
      uniqueKey: st.optionalText(12), backoff: backoff, cancelRequested: st.int64(15) != 0,
      workerPID: st.optionalInt64(16).map { Int32(truncatingIfNeeded: $0) },
      snoozes: st.int(17))
  }

  static func decodeState(_ code: Int, job id: JobID) throws(StoreError) -> JobState {
    guard let state = JobState(rawValue: code) else {
      // The file holds what no Drover wrote.
      throw .corrupt("job \(id) has unknown state code \(code)")
    }
    return state
  }

  /// Newest first, all states: a walk down the primary key that stops at the limit.
  static let listAllSQL: SQLText = """
    SELECT id, type, state, priority, attempts, max_attempts, payload, progress, created_at,
      run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested,
      worker_pid, snoozes
    FROM jobs WHERE (?2 IS NULL OR type = ?2)
    AND id < ?4 AND (?5 IS NULL OR priority >= ?5) AND (?6 IS NULL OR priority <= ?6)
    AND (?7 IS NULL OR created_at >= ?7) AND (?8 IS NULL OR created_at < ?8)
    AND (?9 IS NULL OR finished_at >= ?9) AND (?10 IS NULL OR finished_at < ?10)
    AND (?11 IS NULL OR payload -> ?11 = ?12) AND (?13 IS NULL OR instr(payload, ?13) > 0)
    ORDER BY id DESC LIMIT ?3
    """
  /// Scheduled, queued and completed jobs: the same walk, filtered. Queued and scheduled jobs
  /// are mostly recent, and completed ones are most of the table, so the walk finds its rows
  /// early; sorting a whole backlog by id through its index would not stop early.
  static let listScanSQL: SQLText = """
    SELECT id, type, state, priority, attempts, max_attempts, payload, progress, created_at,
      run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested,
      worker_pid, snoozes
    FROM jobs NOT INDEXED WHERE state = ?1 AND (?2 IS NULL OR type = ?2)
    AND id < ?4 AND (?5 IS NULL OR priority >= ?5) AND (?6 IS NULL OR priority <= ?6)
    AND (?7 IS NULL OR created_at >= ?7) AND (?8 IS NULL OR created_at < ?8)
    AND (?9 IS NULL OR finished_at >= ?9) AND (?10 IS NULL OR finished_at < ?10)
    AND (?11 IS NULL OR payload -> ?11 = ?12) AND (?13 IS NULL OR instr(payload, ?13) > 0)
    ORDER BY id DESC LIMIT ?3
    """
  static let listRunningSQL: SQLText = """
    SELECT id, type, state, priority, attempts, max_attempts, payload, progress, created_at,
      run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested,
      worker_pid, snoozes
    FROM jobs INDEXED BY jobs_running WHERE state = 2 AND (?2 IS NULL OR type = ?2)
    AND id < ?4 AND (?5 IS NULL OR priority >= ?5) AND (?6 IS NULL OR priority <= ?6)
    AND (?7 IS NULL OR created_at >= ?7) AND (?8 IS NULL OR created_at < ?8)
    AND (?9 IS NULL OR finished_at >= ?9) AND (?10 IS NULL OR finished_at < ?10)
    AND (?11 IS NULL OR payload -> ?11 = ?12) AND (?13 IS NULL OR instr(payload, ?13) > 0)
    ORDER BY id DESC LIMIT ?3
    """
  /// Cancelled and dead jobs: their range of `jobs_finished`, sorted (dead-letter lists are
  /// bounded by retention, and may be far older than the newest rows).
  static let listFinishedSQL: SQLText = """
    SELECT id, type, state, priority, attempts, max_attempts, payload, progress, created_at,
      run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap, cancel_requested,
      worker_pid, snoozes
    FROM jobs INDEXED BY jobs_finished
    WHERE finished_at IS NOT NULL AND state = ?1 AND (?2 IS NULL OR type = ?2)
    AND id < ?4 AND (?5 IS NULL OR priority >= ?5) AND (?6 IS NULL OR priority <= ?6)
    AND (?7 IS NULL OR created_at >= ?7) AND (?8 IS NULL OR created_at < ?8)
    AND (?9 IS NULL OR finished_at >= ?9) AND (?10 IS NULL OR finished_at < ?10)
    AND (?11 IS NULL OR payload -> ?11 = ?12) AND (?13 IS NULL OR instr(payload, ?13) > 0)
    ORDER BY id DESC LIMIT ?3
    """

  /// Jobs matching `filter`, newest id first, each with its errors.
  ///
  /// - Throws: `.invalidInput` when `filter.limit` < 1.
  public func list(_ filter: ListParams) throws(StoreError) -> [Job] {
    guard filter.limit >= 1 else { throw .invalidInput("the limit must be at least 1") }
    let sql: SQLText =
      switch filter.state {
      case nil: Self.listAllSQL
      case .waiting, .scheduled, .queued, .completed: Self.listScanSQL
      case .running: Self.listRunningSQL
      case .cancelled, .dead: Self.listFinishedSQL
      }
    return try db.transaction(write: false) { () throws(StoreError) in
      var jobs: [Job] = []
      do {
        let st = try db.prepare(sql)
        defer { st.reset() }
        try st.bind(
          filter.state?.rawValue, filter.type, filter.limit, filter.beforeID ?? .max,
          filter.priorityMin, filter.priorityMax, filter.createdFrom, filter.createdTo,
          filter.finishedFrom, filter.finishedTo, filter.payloadMatch?.path,
          filter.payloadMatch?.json, filter.payloadContains)
        while try st.step() { jobs.append(try Self.decodeJob(st)) }
      }
      for i in jobs.indices {
        jobs[i].errors = try loadErrors(jobs[i].id)
        (jobs[i].parents, jobs[i].children) = try loadLinks(jobs[i].id)
        let policy = try db.int64("SELECT on_parent_failure FROM jobs WHERE id = ?1", jobs[i].id)
        jobs[i].onParentFailure = ParentFailurePolicy(rawValue: Int(policy ?? 0)) ?? .cancel
      }
      return jobs
    }
  }

  static let nextScheduledSQL: SQLText =
    "SELECT min(run_at) FROM jobs INDEXED BY jobs_scheduled WHERE state = 0"

  /// The earliest `run_at` of a scheduled job, or nil when none is scheduled.
  public func nextScheduled() throws(StoreError) -> Timestamp? {
    try db.transaction(write: false) { () throws(StoreError) in
      try db.int64(Self.nextScheduledSQL).map(Timestamp.init(micros:))
    }
  }

  static let cancelRequestedSQL: SQLText = """
    SELECT id FROM jobs INDEXED BY jobs_running WHERE state = 2 AND cancel_requested = 1
    ORDER BY id
    """

  /// Ids of running jobs whose cancel was requested, ascending.
  public func cancelRequested() throws(StoreError) -> [JobID] {
    try db.transaction(write: false) { () throws(StoreError) in
      let st = try db.prepare(Self.cancelRequestedSQL)
      defer { st.reset() }
      var ids: [JobID] = []
      while try st.step() { ids.append(st.int64(0)) }
      return ids
    }
  }

  // MARK: Diagnostics

  /// `EXPLAIN QUERY PLAN` detail lines of the driver's indexed queries, by name (`claim`,
  /// `promote`, `prune`, `stats`, `rescue`, `finishLookup`, …), for tests that keep them on
  /// their indexes.
  package func queryPlans() throws(StoreError) -> [String: [String]] {
    let queries: [(String, SQLText)] = [
      ("claim", Self.claimSQL), ("promote", Self.promoteSQL), ("prune", Self.pruneJobsSQL),
      ("pruneErrors", Self.pruneErrorsSQL), ("backlog", Self.backlogSQL),
      ("scheduled", Self.nextScheduledSQL), ("liveKey", Self.liveKeySQL),
      ("stats", Self.statsSQL), ("counts", Self.countsSQL),
      ("cancelRequested", Self.cancelRequestedSQL), ("listAll", Self.listAllSQL),
      ("listScan", Self.listScanSQL), ("listRunning", Self.listRunningSQL),
      ("listFinished", Self.listFinishedSQL), ("rescue", Self.expiredSQL),
      ("finishLookup", Self.finishLookupSQL), ("progress", Self.progressSQL),
      ("oldestQueued", Self.oldestQueuedSQL), ("oldestDue", Self.oldestDueSQL),
      ("started", Self.startedSQL), ("start", Self.startSQL),
    ]
    var plans: [String: [String]] = [:]
    for (name, sql) in queries { plans[name] = try db.queryPlan(sql.string) }
    return plans
  }
}
