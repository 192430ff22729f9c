import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// Is the file still there, and is it sound.
extension SQLiteStore {
  /// A file up to this size gets a complete `PRAGMA quick_check` at start-up; a larger one a
  /// sampled check (see `checkIntegrity`).
  package static let fullCheckBytes: Int64 = 256 << 20

  /// Throws `.unavailable` when `path` (or `PATH.lock`, while this object holds the session)
  /// no longer names the file this object opened: deleted, renamed away or replaced. One or
  /// two `stat` calls, no I/O on the database.
  public func checkStorage() throws(StoreError) {
    if let opened = fileIdentity {
      guard let now = StoreFiles.identity(of: path) else {
        let why =
          errno == ENOENT ? "was deleted" : "cannot be read (\(String(cString: strerror(errno))))"
        throw .unavailable(
          "\(path) \(why) while open: it was deleted or replaced, and what is written now "
            + "goes to a file nobody will read again")
      }
      guard now == opened else {
        throw .unavailable(
          "\(path) was deleted or replaced while open: the path now names another file, and "
            + "what is written now goes to a file nobody will read again")
      }
    }
    if lockFD >= 0 {
      let lock = StoreFiles.lockPath(path)
      guard let held = StoreFiles.identity(of: lockFD), StoreFiles.identity(of: lock) == held
      else {
        throw .unavailable(
          "the lock file \(lock) was deleted or replaced while held: another supervisor "
            + "could open the same store")
      }
    }
  }

  /// Checks the stored data within a bounded cost and throws `.corrupt` naming the file when
  /// it is damaged.
  ///
  /// Up to `fullCheckBytes` of pages: `PRAGMA quick_check`, every page (measured about
  /// 0.5 s per 100 MB). Above: `quick_check` of the small tables (owners, leaders, counters),
  /// every entry of the partial indexes the hot path reads (ready, scheduled, running, unique
  /// keys), the newest 10,000 jobs, and 1,000 probes spread over the id ranges of `jobs` and
  /// `job_errors` (each reads one root-to-leaf path). Damage elsewhere in old history is
  /// found when it is read (a list, a prune); a damaged commit then stops the supervisor.
  public func checkIntegrity() throws(StoreError) {
    do {
      try runIntegrityCheck()
    } catch .corrupt(let detail) {
      throw .corrupt("\(path) is damaged (\(detail)); restore it from a backup")
    }
  }

  private func runIntegrityCheck() throws(StoreError) {
    let pages = try db.int64("PRAGMA page_count") ?? 0
    let pageSize = try db.int64("PRAGMA page_size") ?? 4096
    if pages * pageSize <= Self.fullCheckBytes {
      try quickCheck("PRAGMA quick_check(5)")
      return
    }
    try db.transaction(write: false) { () throws(StoreError) in
      for table in ["owners", "leaders", "job_counts", "sqlite_sequence"] {
        try quickCheck("PRAGMA quick_check(\"\(table)\")")
      }
      _ = try db.int64(
        "SELECT count(*) FROM jobs INDEXED BY jobs_ready WHERE state = 1 AND held = 0 AND type <> ''"
      )
      _ = try db.int64(
        "SELECT count(*) FROM jobs INDEXED BY jobs_scheduled WHERE state = 0 AND run_at > -1")
      _ = try db.int64(
        "SELECT count(*), sum(length(payload)) FROM jobs INDEXED BY jobs_running WHERE state = 2")
      _ = try db.int64(
        """
        SELECT count(*) FROM jobs INDEXED BY jobs_unique_live
        WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 6) AND unique_key > ''
        """)
      let maxID = try db.int64("SELECT max(id) FROM jobs") ?? 0
      _ = try db.int64(
        "SELECT sum(length(payload) + length(type)) FROM jobs WHERE id > ?1", maxID - 10_000)
      try probe(table: "jobs", maxSQL: "SELECT max(id) FROM jobs", probeSQL: Self.jobProbeSQL)
      try probe(
        table: "job_errors", maxSQL: "SELECT max(id) FROM job_errors",
        probeSQL: Self.errorProbeSQL)
    }
  }

  static let jobProbeSQL: SQLText =
    "SELECT length(payload) + length(type) FROM jobs WHERE id >= ?1 ORDER BY id LIMIT 1"
  static let errorProbeSQL: SQLText =
    "SELECT length(message) FROM job_errors WHERE id >= ?1 ORDER BY id LIMIT 1"

  private func probe(table: String, maxSQL: SQLText, probeSQL: SQLText) throws(StoreError) {
    guard let maxID = try db.int64(maxSQL), maxID > 0 else { return }
    let probes: Int64 = 1000
    for i in 0..<probes { _ = try db.int64(probeSQL, 1 + maxID * i / probes) }
  }

  private func quickCheck(_ sql: String) throws(StoreError) {
    let rows = try db.strings(sql)
    guard rows == ["ok"] else { throw .corrupt(rows.prefix(3).joined(separator: "; ")) }
  }
}
