public import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The multi-host `JobStore`: one PostgreSQL database shared by supervisors on many hosts
/// (`[store] url = "postgres://…"`).
///
/// Claims take ready jobs with `FOR UPDATE SKIP LOCKED`, so supervisors never wait on each
/// other's claims; a group commit is one or two round trips (libpq pipeline mode) whatever its
/// size, through array parameters; counters by type and state live in the same transactions;
/// every running job carries its owner, and a finish only lands while that owner holds it.
/// Supervisors and applications' own inserts wake each other through LISTEN/NOTIFY, one
/// notification per job type per transaction.
///
/// A lost connection makes calls throw `.unavailable`; each later call reconnects (at most once
/// per backoff step, 100 ms doubling to 5 s) and starts listening again, and the first
/// `othersWrote` after a reconnect answers true (notifications may have been missed).
///
/// Not thread-safe: one object per thread.
public final class PostgresStore: JobStore {
  let db: PGConnection
  /// The URL without its password, for messages.
  public let label: String
  /// True for a store opened with `StoreFactory.Access.readOnly`: every write method throws.
  public let isReadOnly: Bool
  /// The largest payload (bytes) an enqueue accepts (`[store] max_payload`).
  public var maxPayload = Int.max
  /// This connection's counter slot: its server process id (see `PostgresSchema`).
  var slot: Int32 = 0
  /// The NOTIFY channel of this schema: `drover_` + the schema's name.
  var channel = ""
  /// `drover_meta.instance` at open: a database replaced under the same URL is refused.
  var instance = ""
  /// The owner `openSession` registered through this object, while open.
  var session: OwnerID?
  /// `othersWrote` answers true at its next call (first call, reconnect, a notification seen
  /// while reading).
  var wakePending = true
  /// Reconnect backoff: no attempt before this instant.
  var reconnectAt: MonotonicInstant?
  var reconnectDelay: Duration = .milliseconds(100)
  /// Whether enqueues and requeues send NOTIFY (benchmarks switch it off to measure its
  /// cost; supervisors then only find work at their fallback re-check).
  package var notifies = true
  /// Jobs a commit claimed when the connection broke before its COMMIT's answer: whether it
  /// landed is unknown, so after reconnecting they are given back (if they are still ours and
  /// running) instead of staying leased to a supervisor that never got them.
  var uncertainClaims: [JobID] = []
  var uncertainOwner: OwnerID?

  /// Connects to `url`, creates or migrates the schema (read-write), and starts listening.
  ///
  /// - Throws: `.unavailable` when the server cannot be reached; `.notADroverDatabase` for a
  ///   newer schema or a foreign `drover_jobs` table; `.cannotOpen` read-only on a database
  ///   without (or with an older) Drover schema.
  public init(url: String, readOnly: Bool = false) throws(StoreError) {
    db = try PGConnection(url: url, applicationName: readOnly ? "drover-reader" : "drover")
    label = db.label
    isReadOnly = readOnly
    if readOnly {
      let exists = try db.exec("SELECT to_regclass('drover_meta') IS NOT NULL").bool(0, 0)
      let v =
        exists
        ? r0(try db.exec("SELECT value FROM drover_meta WHERE key = 'schema_version'")) : nil
      guard let found = v.flatMap({ Int($0) }), found == PostgresSchema.currentVersion
      else {
        throw .cannotOpen(
          path: label,
          reason: "no current Drover schema there (open it read-write once to create it)")
      }
    } else {
      try PostgresSchema.migrate(db)
    }
    try afterConnect()
    instance = try db.exec("SELECT value FROM drover_meta WHERE key = 'instance'").text(0, 0)
  }

  private func r0(_ r: PGResult) -> String? { r.count == 0 ? nil : r.optionalText(0, 0) }

  /// What every (re)connection does: learn its slot and channel, and LISTEN.
  func afterConnect() throws(StoreError) {
    // A session setting, not a URL option: the URL may carry options of its own.
    if isReadOnly { try db.exec("SET default_transaction_read_only = on") }
    slot = db.backendPID
    channel = try db.exec("SELECT 'drover_' || current_schema()").text(0, 0)
    try db.exec("LISTEN " + Self.quotedIdentifier(channel))
    wakePending = true
  }

  static func quotedIdentifier(_ s: String) -> String {
    "\"" + s.replacingAll("\"", with: "\"\"") + "\""
  }

  func requireWritable() throws(StoreError) {
    if isReadOnly { throw .readOnly("\(label) was opened read-only") }
  }

  /// Makes sure the connection is up before a call: reconnects when it was lost, without
  /// blocking for more than a few milliseconds per call (the attempt goes on at the next
  /// call), a failed attempt waiting out a backoff step (100 ms doubling to 5 s).
  ///
  /// - Throws: `.unavailable` while the server cannot be reached (or the backoff runs, or the
  ///   reconnection is still under way).
  func ready() throws(StoreError) {
    if db.isConnected { return }
    let now = PGConnection.monotonicNow()
    if let at = reconnectAt, now < at {
      throw .unavailable("the connection to \(label) is lost; reconnecting")
    }
    let connected: Bool
    do throws(StoreError) { connected = try db.reconnectStep() } catch {
      backOff(now)
      throw error
    }
    guard connected else {
      throw .unavailable("the connection to \(label) is lost; reconnecting")
    }
    do throws(StoreError) {
      try afterConnect()
      let found = try db.exec("SELECT value FROM drover_meta WHERE key = 'instance'")
      guard found.count == 1, found.text(0, 0) == instance else {
        db.disconnect()
        throw StoreError.unavailable(
          "\(label) is another database now (its Drover instance id changed): what was "
            + "stored before is not there")
      }
      reconnectAt = nil
      reconnectDelay = .milliseconds(100)
      try giveBackUncertainClaims()
    } catch {
      backOff(now)
      throw error
    }
  }

  private func backOff(_ now: MonotonicInstant) {
    reconnectAt = now + reconnectDelay
    reconnectDelay = min(reconnectDelay * 2, .seconds(5))
  }

  /// Runs `body` in one transaction (BEGIN … COMMIT), rolled back on any failure.
  func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
    try ready()
    try db.exec("BEGIN")
    do {
      let result = try body()
      try db.exec("COMMIT")
      return result
    } catch {
      db.rollbackIfOpen()
      throw error
    }
  }

  /// A read in a transaction of its own, so multi-statement reads see one snapshot.
  func read<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
    try ready()
    try db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    do {
      let result = try body()
      try db.exec("COMMIT")
      return result
    } catch {
      db.rollbackIfOpen()
      throw error
    }
  }

  // MARK: Enqueue

  /// Inserts a batch in claim-order ids, unique keys enforced by the partial unique index
  /// (`ON CONFLICT DO NOTHING`, which also folds duplicates within the batch), counting the
  /// inserted jobs in the same statement.
  static let insertSQL = """
    WITH ins AS (
      INSERT INTO drover_jobs (type, state, priority, max_attempts, budget, payload, payload_raw,
        created_at, run_at, unique_key, backoff_base, backoff_cap, counted, on_parent_failure,
        limit_key, traceparent)
      SELECT type, state, priority, max_attempts, max_attempts, payload, payload_raw,
        created_at, run_at, unique_key, backoff_base, backoff_cap, true, on_parent_failure,
        limit_key, traceparent
      FROM unnest($1::text[], $2::smallint[], $3::int[], $4::int[], $5::text[], $6::bytea[],
        $7::bigint[], $8::bigint[], $9::text[], $10::bigint[], $11::bigint[], $13::smallint[],
        $14::text[], $15::text[])
        WITH ORDINALITY AS u(type, state, priority, max_attempts, payload, payload_raw,
          created_at, run_at, unique_key, backoff_base, backoff_cap, on_parent_failure,
          limit_key, traceparent, ord)
      ORDER BY ord
      ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 6)
      DO NOTHING
      RETURNING id, unique_key, type, state),
    counted AS (
      INSERT INTO drover_job_counts AS c (type, state, slot, n)
      SELECT type, state, $12, count(*) FROM ins GROUP BY type, state
      ON CONFLICT (type, state, slot) DO UPDATE SET n = c.n + excluded.n)
    SELECT id, unique_key FROM ins ORDER BY id
    """

  static let holdersSQL = """
    SELECT unique_key, id FROM drover_jobs
    WHERE unique_key = ANY($1::text[]) AND state IN (0, 1, 2, 6)
    """

  /// The insert statement for validated jobs.
  func insertStatement(_ jobs: [EnqueueParams]) -> PGStatement {
    var types: [String?] = []
    var states: [Int?] = []
    var priorities: [Int?] = []
    var attempts: [Int?] = []
    var payloads: [String?] = []
    var raws: [String?] = []
    var created: [Int64?] = []
    var runAts: [Int64?] = []
    var keys: [String?] = []
    var bases: [Int64?] = []
    var caps: [Int64?] = []
    var policies: [Int?] = []
    var limitKeys: [String?] = []
    var traces: [String?] = []
    for j in jobs {
      limitKeys.append(j.limitKey)
      traces.append(j.traceparent)
      types.append(j.type)
      let state: JobState =
        !j.parents.isEmpty ? .waiting : j.runAt > j.now ? .scheduled : .queued
      states.append(state.rawValue)
      policies.append(j.onParentFailure.rawValue)
      priorities.append(j.priority)
      attempts.append(j.maxAttempts)
      if j.payload.utf8.contains(0) {
        payloads.append(nil)
        raws.append(Self.hexBytea(j.payload))
      } else {
        payloads.append(j.payload)
        raws.append(nil)
      }
      created.append(j.now.micros)
      runAts.append(j.runAt.micros)
      keys.append(j.uniqueKey)
      bases.append(j.backoff?.base.microseconds)
      caps.append(j.backoff?.cap.microseconds)
    }
    return PGStatement(
      Self.insertSQL,
      [
        PGArray.texts(types), PGArray.ints(states), PGArray.ints(priorities),
        PGArray.ints(attempts), PGArray.texts(payloads), PGArray.texts(raws),
        PGArray.ints(created), PGArray.ints(runAts), PGArray.texts(keys), PGArray.ints(bases),
        PGArray.ints(caps), String(slot), PGArray.ints(policies), PGArray.texts(limitKeys),
        PGArray.texts(traces),
      ])
  }

  /// `\x…`: a `bytea` value in text form.
  static func hexBytea(_ s: String) -> String {
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
    for b in s.utf8 { out += [hex[Int(b >> 4)], hex[Int(b & 15)]] }
    return String(decoding: out, as: UTF8.self)
  }

  /// Matches an insert's returned rows to the batch: inserted jobs get their new ids in batch
  /// order (ids come from the sequence in insertion order); a job whose key was taken gets the
  /// holder's id, read with a second statement when needed (still in the caller's
  /// transaction).
  func enqueueResults(_ jobs: [EnqueueParams], _ r: PGResult) throws(StoreError)
    -> [EnqueueResult]
  {
    var keyless: [JobID] = []
    var byKey: [String: JobID] = [:]
    for i in 0..<r.count {
      if let key = r.optionalText(i, 1) {
        byKey[key] = r.int64(i, 0)
      } else {
        keyless.append(r.int64(i, 0))
      }
    }
    var results: [EnqueueResult] = []
    results.reserveCapacity(jobs.count)
    var next = 0
    var claimedKeys = Set<String>()
    var missing: [String] = []
    for j in jobs {
      guard let key = j.uniqueKey else {
        results.append(EnqueueResult(id: keyless[next], existed: false))
        next += 1
        continue
      }
      if let id = byKey[key], claimedKeys.insert(key).inserted {
        results.append(EnqueueResult(id: id, existed: false))
      } else if let id = byKey[key] {
        results.append(EnqueueResult(id: id, existed: true))
      } else {
        missing.append(key)
        results.append(EnqueueResult(id: 0, existed: true))
      }
    }
    if missing.isEmpty { return results }
    let holders = try db.exec(Self.holdersSQL, PGArray.texts(missing))
    var held: [String: JobID] = [:]
    for i in 0..<holders.count { held[holders.text(i, 0)] = holders.int64(i, 1) }
    for (i, j) in jobs.enumerated() where results[i].id == 0 {
      guard let key = j.uniqueKey, let id = held[key] else {
        // The holder finished between the insert and the look-up: the caller may retry.
        throw .busy("unique key \"\(j.uniqueKey ?? "")\" changed hands during the enqueue")
      }
      results[i] = EnqueueResult(id: id, existed: true)
    }
    return results
  }

  /// Checks the text values libpq would cut at a NUL (types, keys).
  static func refuseNUL(_ jobs: [EnqueueParams]) throws(StoreError) {
    for (i, j) in jobs.enumerated()
    where j.type.utf8.contains(0) || (j.uniqueKey?.utf8.contains(0) ?? false) {
      throw .invalidInput("job \(i + 1) of \(jobs.count): a NUL character in its type or key")
    }
  }

  /// Enqueues `jobs` in one transaction, all or none; a live unique key returns its holder
  /// (`existed: true`), also an earlier job of the same call. Supervisors are woken with one
  /// notification per type of ready job.
  ///
  /// - Throws: `.invalidInput` naming the job for what `EnqueueParams.validate` refuses.
  public func enqueue(_ jobs: [EnqueueParams]) throws(StoreError) -> [EnqueueResult] {
    try requireWritable()
    for (i, job) in jobs.enumerated() {
      try job.validate(index: i, of: jobs.count, maxPayload: maxPayload)
    }
    try Self.refuseNUL(jobs)
    if jobs.isEmpty { return [] }
    try EnqueueParams.validateParents(jobs)
    let linked = jobs.contains { !$0.parents.isEmpty }
    if !linked && !jobs.contains(where: { $0.uniqueKey != nil }) {
      // Nothing to look up afterwards: the whole transaction is one round trip.
      try ready()
      var statements = [PGStatement("BEGIN"), insertStatement(jobs)]
      if let n = notifyStatement(types: jobs.filter { $0.runAt <= $0.now }.map(\.type)) {
        statements.append(n)
      }
      statements.append(PGStatement("COMMIT"))
      let r = try db.pipeline(statements)
      return try enqueueResults(jobs, r[1])
    }
    return try transaction { () throws(StoreError) in
      let r = try db.exec(insertStatement(jobs))
      let results = try enqueueResults(jobs, r)
      if linked {
        if let check = parentCheckStatement(jobs) { try requireParents(jobs, db.exec(check)) }
        for s in linkStatements(jobs, results) { try db.exec(s) }
      }
      try notify(
        types: jobs.filter { $0.parents.isEmpty && $0.runAt <= $0.now }.map(\.type))
      return results
    }
  }

  static let notifySQL = "SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t"

  /// The notify statement for `types` (deduplicated), or nil when there is none.
  func notifyStatement(types: [String]) -> PGStatement? {
    guard notifies, !types.isEmpty else { return nil }
    var seen = Set<String>()
    let unique = types.filter { seen.insert($0).inserted }
    return PGStatement(Self.notifySQL, [channel, PGArray.texts(unique)])
  }

  func notify(types: [String]) throws(StoreError) {
    if let s = notifyStatement(types: types) { try db.exec(s) }
  }

  // MARK: Reads

  static let jobColumns = """
    id, type, state, priority, attempts, max_attempts, payload, payload_raw, progress,
    created_at, run_at, started_at, finished_at, unique_key, backoff_base, backoff_cap,
    cancel_requested, worker_pid, snoozes
    """

  static func decodeJob(_ r: PGResult, _ i: Int) throws(StoreError) -> Job {
    let id = r.int64(i, 0)
    let code = r.int(i, 2)
    guard let state = JobState(rawValue: code) else {
      throw .corrupt("job \(id) has unknown state code \(code)")
    }
    let base = r.optionalInt64(i, 14)
    let cap = r.optionalInt64(i, 15)
    var backoff: BackoffPolicy?
    if base != nil || cap != nil {
      backoff = BackoffPolicy(base: .microseconds(base ?? 0), cap: .microseconds(cap ?? base ?? 0))
    }
    return Job(
      id: id, type: r.text(i, 1), state: state, priority: r.int(i, 3), attempts: r.int(i, 4),
      maxAttempts: r.int(i, 5), payload: payload(r, i, 6), progress: r.int(i, 8), errors: [],
      createdAt: Timestamp(micros: r.int64(i, 9)), runAt: Timestamp(micros: r.int64(i, 10)),
      startedAt: r.optionalInt64(i, 11).map(Timestamp.init(micros:)),
      finishedAt: r.optionalInt64(i, 12).map(Timestamp.init(micros:)),
      uniqueKey: r.optionalText(i, 13), backoff: backoff, cancelRequested: r.bool(i, 16),
      workerPID: r.optionalInt64(i, 17).map { Int32(truncatingIfNeeded: $0) },
      snoozes: r.int(i, 18))
  }

  /// The payload at column `col` (text), or from the `bytea` column after it.
  static func payload(_ r: PGResult, _ i: Int, _ col: Int) -> String {
    if let text = r.optionalText(i, col) { return text }
    return r.bytes(i, col + 1).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// One job with its errors (oldest first), or nil.
  public func job(_ id: JobID) throws(StoreError) -> Job? {
    try read { () throws(StoreError) in
      let r = try db.exec("SELECT \(Self.jobColumns) FROM drover_jobs WHERE id = $1", id)
      guard r.count == 1 else { return nil }
      var job = try Self.decodeJob(r, 0)
      job.errors = try loadErrors([id])[id] ?? []
      let extra = try db.exec(
        """
        SELECT on_parent_failure, limit_key, held, result, traceparent, cpu_seconds, peak_rss
        FROM drover_jobs WHERE id = $1
        """, id)
      job.onParentFailure = ParentFailurePolicy(rawValue: extra.int(0, 0)) ?? .cancel
      job.limitKey = extra.optionalText(0, 1)
      job.held = extra.bool(0, 2) && job.state == .queued
      job.result = extra.optionalText(0, 3)
      job.traceparent = extra.optionalText(0, 4)
      job.cpuSeconds = extra.optionalDouble(0, 5)
      job.peakRSS = extra.optionalInt64(0, 6)
      (job.parents, job.children) = try loadLinks(id)
      return job
    }
  }

  /// Errors of `ids`, oldest first per job.
  func loadErrors(_ ids: [JobID]) throws(StoreError) -> [JobID: [JobError]] {
    guard !ids.isEmpty else { return [:] }
    let r = try db.exec(
      """
      SELECT job_id, attempt, message, at, worker_pid FROM drover_job_errors
      WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, id
      """, PGArray.ints(ids))
    var out: [JobID: [JobError]] = [:]
    for i in 0..<r.count {
      out[r.int64(i, 0), default: []].append(
        JobError(
          attempt: r.int(i, 1), message: r.text(i, 2), at: Timestamp(micros: r.int64(i, 3)),
          workerPID: r.optionalInt64(i, 4).map { Int32(truncatingIfNeeded: $0) }))
    }
    return out
  }

  /// Jobs matching `filter`, newest id first, each with its errors.
  ///
  /// - Throws: `.invalidInput` when `filter.limit` < 1.
  public func list(_ filter: ListParams) throws(StoreError) -> [Job] {
    guard filter.limit >= 1 else { throw .invalidInput("the limit must be at least 1") }
    return try read { () throws(StoreError) in
      let r = try db.exec(
        """
        SELECT \(Self.jobColumns) FROM drover_jobs
        WHERE ($1::smallint IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2)
        AND ($4::bigint IS NULL OR id < $4)
        AND ($5::integer IS NULL OR priority >= $5) AND ($6::integer IS NULL OR priority <= $6)
        AND ($7::bigint IS NULL OR created_at >= $7) AND ($8::bigint IS NULL OR created_at < $8)
        AND ($9::bigint IS NULL OR finished_at >= $9)
        AND ($10::bigint IS NULL OR finished_at < $10)
        AND ($11::text[] IS NULL OR payload::jsonb #> $11::text[] = $12::jsonb)
        AND ($13::text IS NULL OR strpos(payload, $13) > 0)
        ORDER BY id DESC LIMIT $3
        """, filter.state?.rawValue, filter.type, filter.limit, filter.beforeID,
        filter.priorityMin, filter.priorityMax, filter.createdFrom, filter.createdTo,
        filter.finishedFrom, filter.finishedTo, filter.payloadMatch.map { Self.jsonPath($0.path) },
        filter.payloadMatch?.json, filter.payloadContains)
      var jobs: [Job] = []
      jobs.reserveCapacity(r.count)
      for i in 0..<r.count { jobs.append(try Self.decodeJob(r, i)) }
      let errors = try loadErrors(jobs.map(\.id))
      let links = try loadLinks(jobs.map(\.id))
      let runs = try db.exec(
        "SELECT id FROM drover_jobs WHERE id = ANY($1::bigint[]) AND on_parent_failure = 1",
        PGArray.ints(jobs.map(\.id)))
      let runIDs = Set((0..<runs.count).map { runs.int64($0, 0) })
      for i in jobs.indices {
        if runIDs.contains(jobs[i].id) { jobs[i].onParentFailure = .run }
        jobs[i].errors = errors[jobs[i].id] ?? []
        if let l = links[jobs[i].id] { (jobs[i].parents, jobs[i].children) = l }
      }
      return jobs
    }
  }

  /// `$.a.b` (the list filter's path: names of letters, digits and `_`) as the `text[]` path
  /// of `#>`: `{a,b}`.
  static func jsonPath(_ path: String) -> String {
    let names = path.hasPrefix("$.") ? path.dropFirst(2) : Substring(path)
    return "{" + names.split(separator: ".").map { "\"\($0)\"" }.joined(separator: ",") + "}"
  }

  /// The earliest `run_at` of a scheduled job, or nil.
  public func nextScheduled() throws(StoreError) -> Timestamp? {
    try ready()
    let r = try db.exec("SELECT min(run_at) FROM drover_jobs WHERE state = 0")
    return r.optionalInt64(0, 0).map(Timestamp.init(micros:))
  }

  /// Ids of running jobs whose cancel was requested, ascending.
  public func cancelRequested() throws(StoreError) -> [JobID] {
    try ready()
    let r = try db.exec(
      "SELECT id FROM drover_jobs WHERE state = 2 AND cancel_requested ORDER BY id")
    return (0..<r.count).map { r.int64($0, 0) }
  }

  // MARK: Change notification and health

  /// True when another connection committed a change that concerns supervisors (an enqueue,
  /// a job back in the queue, a rescue) since the previous call; the first call, and the
  /// first after a reconnect, answer true.
  ///
  /// One round trip when nothing is waiting: a notification is sent to this connection before
  /// the answer to any later statement, so "nothing" is certain once that statement returns
  /// (no race with a peer that has just committed). Notifications this connection sent
  /// itself are ignored.
  public func othersWrote() throws(StoreError) -> Bool {
    try ready()
    var seen = try drainNotifications()
    if !seen && !wakePending {
      try db.exec("")
      seen = try drainNotifications()
    }
    defer { wakePending = false }
    return seen || wakePending
  }

  /// Reads notifications that have arrived; true when one came from another connection.
  func drainNotifications() throws(StoreError) -> Bool {
    try db.notifications().contains { $0.2 != db.backendPID }
  }

  /// The connection's socket, for a caller's epoll set: readable when a notification (or a
  /// server-side disconnect) arrived. A new value after each reconnect; nil while
  /// disconnected.
  public var wakeSource: StoreWakeSource? {
    let fd = db.socket
    return fd >= 0 && db.isConnected ? StoreWakeSource(fd: fd, generation: db.generation) : nil
  }

  /// Cheap, no round trip (one non-blocking read of what the server sent: notifications, or
  /// the end of a connection it closed). A lost connection is not a lost store (it comes
  /// back, and nothing acknowledged is lost), so this throws only when a reconnect found
  /// another database under the URL. It also reconnects once the backoff allows it.
  public func checkStorage() throws(StoreError) {
    if db.isConnected, let seen = try? drainNotifications(), seen { wakePending = true }
    guard !db.isConnected else { return }
    do { try ready() } catch .unavailable(let m) where m.contains("another database") {
      throw .unavailable(m)
    } catch {
      // Still down: the next commit says so, and retries.
    }
  }

  /// PostgreSQL keeps its own pages checked (and WAL-protected): this verifies the schema is
  /// Drover's current one.
  public func checkIntegrity() throws(StoreError) {
    try ready()
    let r = try db.exec("SELECT value FROM drover_meta WHERE key = 'schema_version'")
    guard r.count == 1, Int(r.text(0, 0)) == PostgresSchema.currentVersion else {
      throw .corrupt(
        "\(label): drover_meta does not name schema version "
          + "\(PostgresSchema.currentVersion)")
    }
  }
}
