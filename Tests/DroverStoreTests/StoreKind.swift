import DroverCore
import DroverStore
import DroverTestSupport

/// The drivers the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
  case sqlite
  /// A fresh database per test on the test process's throwaway cluster (`PostgresCluster`).
  case postgres

  var description: String { rawValue }
}

/// A fresh store of one kind on real storage, with the helpers the suite shares.
///
/// Holds the temporary directory so it outlives the store.
final class StoreFixture {
  let kind: StoreKind
  let dir: TempDirectory
  /// The SQLite file, or the PostgreSQL database's URL.
  let path: String
  let store: any JobStore

  /// A fixed time with a non-zero microsecond part, so rounding shows up.
  static let t0 = Timestamp(micros: 1_800_000_000_123_457)

  init(_ kind: StoreKind) throws {
    self.kind = kind
    dir = try TempDirectory(prefix: "drover-store")
    switch kind {
    case .sqlite: path = dir.file("drover.db")
    case .postgres: path = try PostgresCluster.shared().database()
    }
    store = try Self.open(kind, path: path)
  }

  static func open(_ kind: StoreKind, path: String) throws -> any JobStore {
    switch kind {
    case .sqlite: try SQLiteStore(path: path)
    case .postgres: try PostgresStore(url: path)
    }
  }

  /// Another store object on the same storage (a second connection, or a reopen).
  func reopen() throws -> any JobStore { try Self.open(kind, path: path) }

  /// Counts per type and state by a full scan of the jobs: what the counters must equal.
  func scanCounts() throws -> [String: [JobState: Int]] {
    switch kind {
    case .sqlite: try (store as! SQLiteStore).countByScan()
    case .postgres: try (store as! PostgresStore).countByScan()
    }
  }

  /// Inserts a job behind the store's back, as an application's own SQL would (a script, or an
  /// INSERT inside the application's transaction): `state` must be queued or scheduled.
  func foreignInsert(type: String, state: JobState, runAt: Timestamp) throws {
    precondition(state == .queued || state == .scheduled)
    precondition(type.allSatisfy { $0.isLetter || $0.isNumber })
    switch kind {
    case .sqlite:
      let db = try SQLiteConnection(path: path, create: false)
      try db.execute(
        """
        INSERT INTO jobs (type, state, max_attempts, budget, payload, created_at, run_at)
        VALUES ('\(type)', \(state.rawValue), 5, 5, '{}', \(Self.t0.micros), \(runAt.micros))
        """)
    case .postgres:
      // An application's own connection and plain INSERT (no budget, no counters: the
      // schema's triggers complete it).
      try PostgresCluster.shared().psql(
        path,
        """
        INSERT INTO drover_jobs (type, state, max_attempts, payload, created_at, run_at)
        VALUES ('\(type)', \(state.rawValue), 5, '{}', \(Self.t0.micros), \(runAt.micros))
        """)
    }
  }

  /// `t0` moved by `seconds`.
  func at(_ seconds: Double) -> Timestamp {
    Self.t0.adding(.microseconds(Int64(seconds * 1_000_000)))
  }

  /// Enqueues one job and returns its id.
  @discardableResult
  func add(
    _ type: String = "email", payload: String = "{}", priority: Int = 0,
    runAt: Timestamp? = nil, maxAttempts: Int = 20, uniqueKey: String? = nil,
    backoff: BackoffPolicy? = nil, now: Timestamp? = nil
  ) throws -> JobID {
    let results = try store.enqueue([
      EnqueueParams(
        type: type, payload: payload, priority: priority, runAt: runAt, maxAttempts: maxAttempts,
        uniqueKey: uniqueKey, backoff: backoff, now: now ?? Self.t0)
    ])
    return results[0].id
  }

  /// Claims up to `limit` jobs of `types` at `now` (promoting due jobs first).
  func claim(
    _ types: [String] = ["email"], limit: Int = 1, now: Timestamp? = nil, pid: Int32? = 4121
  ) throws -> [ClaimedJob] {
    try store.apply(
      StoreBatch(
        claims: [ClaimParams(types: types, limit: limit, workerPID: pid)], now: now ?? Self.t0)
    ).claimed[0]
  }

  /// Settles one attempt at `now`.
  @discardableResult
  func finish(
    _ id: JobID, _ settlement: Settlement, now: Timestamp? = nil,
    backoff: BackoffPolicy = .standard, jitter: Double = 0.5, pid: Int32? = 4121
  ) throws -> FinishResult {
    try store.apply(
      StoreBatch(
        finishes: [
          FinishParams(
            id: id, settlement: settlement, backoff: backoff, jitter: jitter, workerPID: pid)
        ], promoteDue: false, now: now ?? Self.t0)
    ).finished[0]
  }

  /// Enqueues one job, claims it and returns its id: a job in `running`. Claims every other
  /// queued job of `type` too.
  func running(
    _ type: String = "email", maxAttempts: Int = 20, uniqueKey: String? = nil,
    backoff: BackoffPolicy? = nil
  ) throws -> JobID {
    let id = try add(type, maxAttempts: maxAttempts, uniqueKey: uniqueKey, backoff: backoff)
    let claimed = try claim([type], limit: 100)
    precondition(claimed.contains { $0.id == id })
    return id
  }

  /// The job, which must exist.
  func job(_ id: JobID) throws -> Job {
    guard let job = try store.job(id) else { throw StoreError.noSuchJob(id) }
    return job
  }

  /// A job driven into `dead` by one permanent failure.
  func dead(_ type: String = "email", maxAttempts: Int = 20, uniqueKey: String? = nil) throws
    -> JobID
  {
    let id = try running(type, maxAttempts: maxAttempts, uniqueKey: uniqueKey)
    try finish(id, .outcome(.permanent("bad input")))
    return id
  }

  /// A job driven into `completed`.
  func completed(_ type: String = "email", uniqueKey: String? = nil, now: Timestamp? = nil) throws
    -> JobID
  {
    let id = try running(type, uniqueKey: uniqueKey)
    try finish(id, .outcome(.completed), now: now)
    return id
  }
}
