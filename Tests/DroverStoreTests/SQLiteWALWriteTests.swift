import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// The "drover-wal" VFS: a commit's WAL frames reach the file in one write, and what the file
/// holds after every commit is what SQLite wrote without it. Checked the way a crash checks
/// it: the database and its `-wal` are copied while the writer is open (what a kill -9 leaves
/// behind) and the copy, recovered from those bytes alone, must hold every commit.
@Suite struct SQLiteWALWriteTests {
  /// A WAL database with a table of blobs and an index, checkpoints off (every frame stays in
  /// the WAL), and a cache of `cachePages` pages (small: transactions spill frames early).
  static func open(_ path: String, cachePages: Int = 2000) throws -> SQLiteConnection {
    let db = try SQLiteConnection(path: path)
    _ = try db.strings("PRAGMA journal_mode = WAL")
    try db.execute(
      """
      PRAGMA synchronous = NORMAL;
      PRAGMA wal_autocheckpoint = 0;
      PRAGMA cache_size = \(cachePages);
      CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT, v BLOB);
      CREATE INDEX IF NOT EXISTS t_k ON t (k);
      """)
    return db
  }

  /// Row count, total blob length and the sum of ids: what a copy must agree on.
  static func summary(_ db: SQLiteConnection) throws -> [String] {
    try db.strings("SELECT count(*) || ' ' || total(length(v)) || ' ' || total(id) FROM t")
  }

  /// Copies the database and its WAL (not the `-shm`, which a reboot would not keep either)
  /// into a new directory and opens the copy.
  static func recoveredCopy(of path: String, in dir: TempDirectory, _ n: Int) throws
    -> SQLiteConnection
  {
    let copy = dir.file("copy\(n).db")
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
    return try SQLiteConnection(path: copy, create: false)
  }

  @Test func aCommitsFramesReachTheFileInOneWrite() throws {
    let dir = try TempDirectory()
    let path = dir.file("one.db")
    var db = try Self.open(path)
    try db.execute("INSERT INTO t (k, v) VALUES ('a', zeroblob(100))")
    // Reopened while a reader keeps the WAL (closing the last connection would checkpoint and
    // delete it): the WAL the writer finds already holds frames.
    let reader = try SQLiteConnection(path: path, create: false)
    #expect(try reader.strings("SELECT count(*) FROM t") == ["1"])
    db = try Self.open(path)
    // The first frame after opening goes straight through (where the WAL ends is not yet
    // known to the layer); from the next one on, frames are gathered.
    try db.execute("INSERT INTO t (k, v) VALUES ('b', zeroblob(100))")
    let before = try #require(db.walWrites)
    for i in 0..<50 {
      // A row in the table and in its index: two pages, four writes without the layer.
      try db.execute("INSERT INTO t (k, v) VALUES ('k\(i)', zeroblob(100))")
    }
    let after = try #require(db.walWrites)
    #expect(after.flushes - before.flushes == 50)
    #expect(after.gathered - before.gathered >= 50 * 4)
    #expect(try reader.strings("SELECT count(*) FROM t") == ["52"])
  }

  @Test func aCopyTakenAfterAnyCommitHoldsEveryCommit() throws {
    let dir = try TempDirectory()
    let path = dir.file("crash.db")
    // Eight pages of cache: the large transactions below spill frames before they commit,
    // read spilled pages back, and overwrite frames they already wrote (after which SQLite
    // rewrites the frames' checksums at commit).
    let db = try Self.open(path, cachePages: 8)
    var copies = 0
    func check(_ what: Comment) throws {
      copies += 1
      let copy = try Self.recoveredCopy(of: path, in: dir, copies)
      #expect(try copy.strings("PRAGMA integrity_check") == ["ok"], what)
      #expect(try Self.summary(copy) == Self.summary(db), what)
    }
    for i in 0..<200 {
      try db.execute("INSERT INTO t (k, v) VALUES ('s\(i % 17)', randomblob(\(50 + i % 300)))")
    }
    try check("small commits")
    try db.execute("BEGIN")
    for i in 0..<3000 {
      try db.execute("INSERT INTO t (k, v) VALUES ('b\(i % 101)', randomblob(400))")
    }
    try db.execute("UPDATE t SET v = randomblob(450), k = 'u' || id % 7")
    try db.execute("COMMIT")
    try check("a spilled transaction with overwritten frames")
    try db.execute("BEGIN")
    for i in 0..<2000 { try db.execute("INSERT INTO t (k, v) VALUES ('r\(i)', randomblob(500))") }
    try db.execute("DELETE FROM t WHERE id % 3 = 0")
    try db.execute("ROLLBACK")
    try check("a spilled transaction rolled back")
    for i in 0..<100 { try db.execute("UPDATE t SET v = randomblob(60) WHERE id = \(i * 13 + 1)") }
    try check("small commits after the rollback")
    // Checkpointed and restarted: the next frames start over at the WAL's beginning.
    _ = try db.strings("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in 0..<50 { try db.execute("INSERT INTO t (k, v) VALUES ('w\(i)', randomblob(200))") }
    try check("commits after a restarted WAL")
  }

  /// A real full disk: a 1 MiB tmpfs (needs root, as CI runs). The commit whose frames do not
  /// fit fails with `.full`; every acknowledged job is kept; once space is freed the store
  /// goes on, and the file is whole.
  @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
  func aFullDiskFailsTheCommitAndLosesNothing() throws {
    let dir = try TempDirectory()
    let mountPoint = dir.file("small")
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    try Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint)
    defer { try? Self.run("/bin/umount", "-l", mountPoint) }
    let path = mountPoint + "/full.db"
    let filler = mountPoint + "/filler"
    // Room to free later: 128 KiB held by another file.
    try Data(count: 128 << 10).write(to: URL(fileURLWithPath: filler))
    let store = try SQLiteStore(path: path)
    let payload = #"{"pad":""# + String(repeating: "x", count: 3000) + #""}"#
    var acknowledged = 0
    var failure: StoreError?
    for _ in 0..<2000 {
      do throws(StoreError) {
        _ = try store.enqueue([EnqueueParams(type: "t", payload: payload)])
        acknowledged += 1
      } catch {
        failure = error
        break
      }
    }
    let error = try #require(failure, "1 MiB never filled up")
    #expect(error.kind == .full, "\(error)")
    #expect(acknowledged > 0)
    #expect(try store.counts()["t"]?[.queued] == acknowledged)
    try FileManager.default.removeItem(atPath: filler)
    _ = try store.enqueue([EnqueueParams(type: "t", payload: payload)])
    #expect(try store.counts()["t"]?[.queued] == acknowledged + 1)
    // A copy of what is on the disk recovers to the same jobs.
    let copy = try Self.recoveredCopy(of: path, in: dir, 1)
    #expect(try copy.strings("PRAGMA integrity_check") == ["ok"])
    let reopened = try SQLiteStore(readOnlyPath: dir.file("copy1.db"))
    #expect(try reopened.counts()["t"]?[.queued] == acknowledged + 1)
  }

  static func run(_ tool: String, _ args: String...) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw StoreError.unavailable("\(tool) \(args.joined(separator: " ")) failed")
    }
  }
}
