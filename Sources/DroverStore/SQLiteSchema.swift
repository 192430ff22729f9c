import CSQLite
import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The SQLite file's schema: its identity, its versions and how a file is checked and brought up
/// to date.
///
/// A Drover database carries `PRAGMA application_id = SQLiteSchema.applicationID` and
/// `PRAGMA user_version = ` the number of migrations applied. Migrations only ever append.
package enum SQLiteSchema {
  /// "DRVR" in ASCII: marks the file as Drover's (offset 68 of the SQLite header).
  package static let applicationID: Int64 = 0x4452_5652

  /// Ordered migrations: entry `i` takes the schema from version `i` to `i + 1`. Never edit a
  /// released entry; append a new one.
  ///
  /// Index choices (v1): every index is partial on the states it serves, so a state change
  /// touches only small indexes and a table full of finished history costs the hot path
  /// nothing. A plain `(state, id)` index would serve `list` and `stats` but moves two entries
  /// across a big b-tree on every transition: measured, it cost the group commit more than a
  /// quarter of its throughput. `finished_at` is set exactly when a job is final. SQLite
  /// 3.40 does not treat a partial index's own `WHERE` as covered, so `jobs_ready` and
  /// `jobs_scheduled` carry a trailing `state`: the counts of `backlog` and `stats` then read
  /// the index alone instead of one table row per job.
  ///
  /// - `jobs_ready`: the claim order per type, read in order without sorting.
  /// - `jobs_scheduled`: due-time range for promotion and the next wake-up.
  /// - `jobs_running`: the (small) running set: cancel requests, rescue, `list`, `stats`.
  /// - `jobs_finished`: prune by state and age; counts and lists of final states.
  /// - `jobs_unique_live`: one live job per unique key, enforced by the database.
  ///
  /// v2 adds owners (supervisor instances holding leases on running jobs: `jobs.owner`),
  /// leaderships, and `job_counts`, the number of jobs per (type, state) that `stats`, `counts`
  /// and `backlog` read instead of scanning. The driver keeps the counters itself, in the same
  /// transaction as every state change (deltas summed in memory, one upsert per changed pair at
  /// commit): a trigger per row measured 1-2 µs, too much for batched enqueues. Rows inserted by
  /// someone else's SQL (a script with the sqlite3 CLI) are still counted, by the one trigger:
  /// `counted` defaults to 0, which fires it, and Drover's own inserts set 1. `counted` matters
  /// only at insert time. Raw UPDATE or DELETE of `jobs` by outsiders is not supported: it
  /// would leave the counters wrong (open the store read-write and compare `countByScan`).
  ///
  /// `owners.id` is AUTOINCREMENT (unlike `jobs.id`, where prune keeps the newest row instead):
  /// an owner id must never come back, or a dead owner's late finish would pass the fencing of
  /// the new owner that reused its id. It costs one `sqlite_sequence` write per session only.
  package static let migrations: [String] = [
    // v1
    """
    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      state INTEGER NOT NULL,
      priority INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      budget INTEGER NOT NULL,
      payload TEXT NOT NULL,
      progress INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      run_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      unique_key TEXT,
      backoff_base INTEGER,
      backoff_cap INTEGER,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      worker_pid INTEGER
    );
    CREATE TABLE job_errors (
      id INTEGER PRIMARY KEY,
      job_id INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      message TEXT NOT NULL,
      at INTEGER NOT NULL,
      worker_pid INTEGER
    );
    CREATE INDEX job_errors_job ON job_errors (job_id, id);
    CREATE INDEX jobs_ready ON jobs (type, priority DESC, run_at, id, state) WHERE state = 1;
    CREATE INDEX jobs_scheduled ON jobs (run_at, state) WHERE state = 0;
    CREATE INDEX jobs_running ON jobs (id) WHERE state = 2;
    CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
    CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
      WHERE unique_key IS NOT NULL AND state IN (0, 1, 2);
    """,
    // v2: owners and leases, leadership, per-type counters.
    """
    CREATE TABLE owners (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      pid INTEGER,
      started_at INTEGER NOT NULL,
      heartbeat_at INTEGER NOT NULL,
      lease_until INTEGER NOT NULL
    );
    CREATE TABLE leaders (
      name TEXT PRIMARY KEY,
      owner INTEGER NOT NULL,
      lease_until INTEGER NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN owner INTEGER;
    ALTER TABLE jobs ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE job_counts (
      type TEXT NOT NULL,
      state INTEGER NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (type, state)
    ) WITHOUT ROWID;
    INSERT INTO job_counts (type, state, n)
      SELECT type, state, count(*) FROM jobs GROUP BY type, state;
    CREATE TRIGGER jobs_count_foreign_insert AFTER INSERT ON jobs WHEN NEW.counted = 0
    BEGIN
      INSERT INTO job_counts (type, state, n) VALUES (NEW.type, NEW.state, 1)
      ON CONFLICT (type, state) DO UPDATE SET n = n + 1;
    END;
    """,
    // v3: schedules' slots (each fired at most once ever, kept apart from the jobs, which
    // retention prunes) and paused schedules.
    """
    CREATE TABLE schedule_slots (
      schedule TEXT NOT NULL,
      slot INTEGER NOT NULL,
      job_id INTEGER,
      recorded_at INTEGER NOT NULL,
      PRIMARY KEY (schedule, slot)
    ) WITHOUT ROWID;
    CREATE TABLE schedule_state (
      schedule TEXT PRIMARY KEY,
      paused INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    // v4: how many times a job was snoozed (snoozes spend no attempt; the supervisor ends a
    // job past its pool's max_snoozes).
    """
    ALTER TABLE jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
    """,
    // v5: dependencies. One row per (child, parent) edge: fan-in is decided by reading rows
    // ("no parent that is not finished"), never by a counter, so a parent settled twice cannot
    // release a child twice or leave it stuck. `on_parent_failure`: 0 cancel, 1 run. Waiting
    // jobs (state 6) are found through their parents' edges, so they need no index of their
    // own. A waiting job is live: it holds its unique key like a queued one.
    """
    ALTER TABLE jobs ADD COLUMN on_parent_failure INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE job_parents (
      child INTEGER NOT NULL,
      parent INTEGER NOT NULL,
      PRIMARY KEY (child, parent)
    ) WITHOUT ROWID;
    CREATE INDEX job_parents_parent ON job_parents (parent, child);
    DROP INDEX jobs_unique_live;
    CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
      WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 6);
    """,
    // v6: limits. `limit_key` is the key a pool's limits count a job under (given at enqueue,
    // or read from the payload by the first limited claim that meets the job); `held` marks a
    // queued job a limit holds out of the claim order: `jobs_ready` leaves it out, so claims
    // never walk over held jobs, and `jobs_held` keeps each key's held jobs in claim order for
    // the release. `jobs_limit_running` counts a key's running jobs. `limit_keys` is each
    // (pool, key)'s bucket and block; `holding` marks keys with held jobs, `ready_at` when
    // one of them may start without a finish (a refill, the end of a block).
    """
    ALTER TABLE jobs ADD COLUMN limit_key TEXT;
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    DROP INDEX jobs_ready;
    CREATE INDEX jobs_ready ON jobs (type, priority DESC, run_at, id, state)
      WHERE state = 1 AND held = 0;
    CREATE INDEX jobs_held ON jobs (limit_key, type, priority DESC, run_at, id)
      WHERE state = 1 AND held = 1;
    CREATE INDEX jobs_limit_running ON jobs (limit_key, type)
      WHERE state = 2 AND limit_key IS NOT NULL;
    CREATE TABLE limit_keys (
      pool TEXT NOT NULL,
      key TEXT NOT NULL,
      tokens REAL NOT NULL,
      tokens_at INTEGER NOT NULL,
      blocked_until INTEGER,
      holding INTEGER NOT NULL DEFAULT 0,
      ready_at INTEGER,
      PRIMARY KEY (pool, key)
    ) WITHOUT ROWID;
    CREATE INDEX limit_keys_ready ON limit_keys (ready_at) WHERE ready_at IS NOT NULL;
    CREATE INDEX limit_keys_holding ON limit_keys (pool, key) WHERE holding = 1;
    """,
    // v7: a completed job's result (JSON text), set by the finish that completes it.
    """
    ALTER TABLE jobs ADD COLUMN result TEXT;
    """,
    // v8: the W3C trace context a job was enqueued with.
    """
    ALTER TABLE jobs ADD COLUMN traceparent TEXT;
    """,
    // v9: the alert history. `resolves_by_ack`: an alert that does not clear by itself (a
    // dead job) is resolved by its acknowledgement. `alerts_open` keeps the firing ones at
    // hand for the engine's every tick.
    """
    CREATE TABLE alerts (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      kind TEXT NOT NULL,
      severity TEXT NOT NULL,
      pool TEXT,
      job_id INTEGER,
      subject TEXT,
      message TEXT NOT NULL,
      details TEXT NOT NULL,
      fired_at INTEGER NOT NULL,
      resolved_at INTEGER,
      acked_at INTEGER,
      acked_by TEXT,
      notified_at INTEGER NOT NULL,
      notifications INTEGER NOT NULL DEFAULT 1,
      resolves_by_ack INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX alerts_open ON alerts (id) WHERE resolved_at IS NULL;
    """,
    // v10: what the job's last reporting attempt used: CPU seconds (user + system) and peak
    // resident set size in bytes, from its worker's outcome frame; NULL when never reported.
    """
    ALTER TABLE jobs ADD COLUMN cpu_seconds REAL;
    ALTER TABLE jobs ADD COLUMN peak_rss INTEGER;
    """,
    // v11: per-minute aggregates of finished attempts (`windowStats`), written by the group
    // commit in the transaction of the finishes: `minute` is minutes since the epoch of the
    // finish; `job_minute_hist` holds the run-time (kind 0) and queue-wait (kind 1) histograms
    // per type (`DurationHistogram` buckets, only the non-zero ones).
    """
    CREATE TABLE job_minutes (
      minute INTEGER NOT NULL,
      type TEXT NOT NULL,
      priority INTEGER NOT NULL,
      completed INTEGER NOT NULL DEFAULT 0,
      failed INTEGER NOT NULL DEFAULT 0,
      dead INTEGER NOT NULL DEFAULT 0,
      run_count INTEGER NOT NULL DEFAULT 0,
      run_sum_us INTEGER NOT NULL DEFAULT 0,
      wait_count INTEGER NOT NULL DEFAULT 0,
      wait_sum_us INTEGER NOT NULL DEFAULT 0,
      last_at INTEGER NOT NULL,
      PRIMARY KEY (minute, type, priority)
    ) WITHOUT ROWID;
    CREATE TABLE job_minute_hist (
      minute INTEGER NOT NULL,
      type TEXT NOT NULL,
      kind INTEGER NOT NULL,
      bucket INTEGER NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (minute, type, kind, bucket)
    ) WITHOUT ROWID;
    """,
    // v12: the dashboard's audit log: who (which credential) did what to which jobs, when.
    """
    CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      who TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      count INTEGER NOT NULL
    );
    """,
  ]

  /// The schema version this build writes.
  package static var currentVersion: Int64 { Int64(migrations.count) }

  /// What a database file holds, read without writing.
  struct Identity {
    var applicationID: Int64
    var userVersion: Int64
    /// Tables, indexes, views and triggers in `sqlite_master`.
    var objects: Int64
  }

  /// What to do with a file, given its identity.
  enum Verdict: Equatable {
    /// Already at the current version.
    case ready
    /// Drover's (or empty): apply migrations from this version.
    case migrate(from: Int64)
    /// Someone else's, or newer: refuse without writing.
    case refuse(String)
  }

  static func identity(of db: SQLiteConnection) throws(StoreError) -> Identity {
    Identity(
      applicationID: try db.int64("PRAGMA application_id") ?? 0,
      userVersion: try db.int64("PRAGMA user_version") ?? 0,
      objects: try db.int64("SELECT count(*) FROM sqlite_master") ?? 0)
  }

  static func verdict(_ id: Identity) -> Verdict {
    if id.applicationID == applicationID {
      if id.userVersion > currentVersion {
        return .refuse(
          "its schema version \(id.userVersion) is newer than this Drover's \(currentVersion)")
      }
      return id.userVersion == currentVersion ? .ready : .migrate(from: max(0, id.userVersion))
    }
    if id.applicationID != 0 {
      return .refuse("application_id \(hex(id.applicationID)) belongs to another application")
    }
    if id.objects > 0 { return .refuse("it holds another application's tables") }
    if id.userVersion != 0 { return .refuse("it has user_version \(id.userVersion) but no tables") }
    return .migrate(from: 0)
  }

  private static func hex(_ v: Int64) -> String {
    "0x" + String(UInt32(truncatingIfNeeded: v), radix: 16)
  }

  /// Checks an existing, non-empty file without writing to it: its first bytes must be SQLite's
  /// magic, and a read-only connection must find a Drover (or empty) database.
  ///
  /// Read-only matters: a read-write connection would roll back a foreign hot journal or
  /// checkpoint a foreign WAL on close, changing the file. And a WAL-mode file without a `-wal`
  /// beside it (closed cleanly: everything is in the main file) is read immutable, because even
  /// a read-only connection would leave empty `-wal` and `-shm` files next to someone else's
  /// database.
  static func inspect(path: String, busyTimeout: Duration) throws(StoreError) {
    // A file this process already has open through SQLite was inspected then; and reading it
    // with a descriptor of our own would be harmful: closing that descriptor would drop every
    // POSIX lock the process holds on the file, the shared lock of its WAL connections
    // among them (another process could then take the file exclusively and delete the WAL).
    if let id = StoreFiles.identity(of: path), StoreFiles.OpenFiles.contains(id) { return }
    guard let header = readPrefix(path: path, count: 20) else {
      throw .cannotOpen(path: path, reason: "cannot read the file")
    }
    let magic = Array("SQLite format 3".utf8) + [0]
    guard header.count == 20, Array(header[..<16]) == magic else {
      throw .notADroverDatabase(path: path, reason: "it is not an SQLite database")
    }
    // Bytes 18 and 19: the write and read format versions, 2 in WAL mode.
    let walMode = header[18] == 2 || header[19] == 2
    let walExists = (try? fileSize(path: path + "-wal")) != nil
    let db = try SQLiteConnection(
      path: path, create: false, readOnly: true, immutable: walMode && !walExists)
    // Another process may be recovering or checkpointing the WAL right now: wait for it.
    db.setBusyTimeout(busyTimeout)
    let found: Identity
    do throws(StoreError) {
      found = try identity(of: db)
    } catch .corrupt(let detail) {
      // SQLITE_NOTADB or SQLITE_CORRUPT: whatever the header said, this is no database of ours.
      throw .notADroverDatabase(path: path, reason: detail)
    }
    if case .refuse(let reason) = verdict(found) {
      throw .notADroverDatabase(path: path, reason: reason)
    }
  }

  /// Brings an open read-write connection's database to the current version, in one
  /// `BEGIN IMMEDIATE` transaction that checks the identity again under the write lock (another
  /// process may have initialised the file meanwhile).
  static func migrate(_ db: SQLiteConnection) throws(StoreError) {
    if case .ready = verdict(try identity(of: db)) { return }
    try db.transaction(write: true) { () throws(StoreError) in
      switch verdict(try identity(of: db)) {
      case .ready: return
      case .refuse(let reason): throw .notADroverDatabase(path: db.path, reason: reason)
      case .migrate(let from):
        for version in Int(from)..<migrations.count { try db.execute(migrations[version]) }
        try db.execute(
          "PRAGMA application_id = \(applicationID); PRAGMA user_version = \(currentVersion)")
      }
    }
  }

  /// The file's first `count` bytes (fewer when it is shorter), or nil when it cannot be read.
  private static func readPrefix(path: String, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    var got = 0
    while got < count {
      let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
      if n < 0, errno == EINTR { continue }
      guard n >= 0 else { return nil }
      if n == 0 { break }
      got += n
    }
    return Array(bytes[..<got])
  }

  /// The file's size, or nil when it does not exist; throws when it is not a regular file.
  static func fileSize(path: String) throws(StoreError) -> Int? {
    var st = stat()
    guard stat(path, &st) == 0 else {
      if errno == ENOENT { return nil }
      throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      throw .cannotOpen(path: path, reason: "not a regular file")
    }
    return Int(st.st_size)
  }
}
