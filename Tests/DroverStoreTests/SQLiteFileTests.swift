import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// What only the SQLite driver has: the file, its identity, several connections, query plans.
@Suite struct SQLiteFileTests {
  static let droverApplicationID = "1146246738"  // 0x44525652, "DRVR"

  @Test func newFileGetsTheSchemaIdentityAndWAL() throws {
    let dir = try TempDirectory()
    let path = dir.file("new.db")
    let store = try SQLiteStore(path: path)
    let db = try SQLiteConnection(path: path, create: false)
    #expect(try db.strings("PRAGMA application_id") == [Self.droverApplicationID])
    #expect(try db.strings("PRAGMA user_version") == ["\(SQLiteSchema.currentVersion)"])
    #expect(try db.strings("PRAGMA journal_mode") == ["wal"])
    withExtendedLifetime(store) {}
  }

  @Test func reopeningKeepsEverything() throws {
    let dir = try TempDirectory()
    let path = dir.file("keep.db")
    var ids: [JobID] = []
    var before: [Job] = []
    do {
      let store = try SQLiteStore(path: path, synchronous: .full)
      ids = try store.enqueue([
        EnqueueParams(
          type: "a", payload: #"{"x":1}"#, priority: 3, maxAttempts: 4, uniqueKey: "u",
          backoff: BackoffPolicy(base: .seconds(2), cap: .seconds(8))),
        EnqueueParams(type: "b", runAt: Timestamp.now().adding(.seconds(3600))),
        EnqueueParams(type: "a"),
      ]).map(\.id)
      let claimed = try store.apply(StoreBatch(claims: [ClaimParams(types: ["a"], limit: 2)]))
      _ = try store.apply(
        StoreBatch(
          finishes: [
            FinishParams(id: claimed.claimed[0][0].id, settlement: .outcome(.retryable("e1"))),
            FinishParams(id: claimed.claimed[0][1].id, settlement: .outcome(.completed)),
          ]))
      before = try ids.map { id throws(StoreError) in try store.job(id)! }
    }
    let store = try SQLiteStore(path: path)
    #expect(try ids.map { id throws(StoreError) in try store.job(id) } == before)
    #expect(try store.add(uniqueKey: "u") == ids[0])
  }

  @Test func severalConnectionsOnOneFileLoseNothing() throws {
    let dir = try TempDirectory()
    let path = dir.file("shared.db")
    let failures = Mutex<[String]>([])
    let perThread = 300
    let threads = 3
    // No file yet: the threads also race to create it and its schema.
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
      do {
        // A generous wait for the write lock: on a loaded disk three writers that fsync every
        // job can starve one of them past the default 10 s (a "busy" that is not a loss).
        let store = try SQLiteStore(path: path, busyTimeout: .seconds(120))
        for i in 0..<perThread {
          // Each job is its own transaction, so the writers interleave; every fifth one
          // races the other threads for the same unique key.
          let key = i % 5 == 0 ? "race-\(i)" : nil
          _ = try store.enqueue([EnqueueParams(type: "t\(thread)", uniqueKey: key)])
        }
      } catch {
        failures.withLock { $0.append("\(error)") }
      }
    }
    #expect(failures.withLock { $0 } == [])
    let store = try SQLiteStore(path: path)
    let keyed = perThread / 5
    let total = try store.stats()[.queued]
    #expect(total == threads * perThread - (threads - 1) * keyed)
    let all = try store.list(ListParams(limit: 10_000))
    #expect(Set(all.map(\.id)).count == all.count)
    #expect(Set(all.compactMap(\.uniqueKey)).count == keyed)
  }

  @Test func aHeldWriteLockSurfacesAsBusyAfterTheTimeout() throws {
    let dir = try TempDirectory()
    let path = dir.file("busy.db")
    let store = try SQLiteStore(path: path, busyTimeout: .milliseconds(50))
    let other = try SQLiteConnection(path: path, create: false)
    try other.execute("BEGIN IMMEDIATE")
    let error = #expect(throws: StoreError.self) { try store.add() }
    guard case .busy(let detail) = error else {
      Issue.record("expected a busy error, got \(String(describing: error))")
      return
    }
    #expect(error?.kind == .busy)
    #expect(detail.hasPrefix("sqlite error 5: "))  // SQLITE_BUSY
    #expect(detail.contains("locked"))
    try other.execute("COMMIT")
    #expect(try store.add() > 0)
  }

  @Test func aTextFileIsRefusedAndLeftUntouched() throws {
    let dir = try TempDirectory()
    let path = dir.file("notes.txt")
    try Data("these are my notes\nnot a database\n".utf8).write(to: URL(fileURLWithPath: path))
    try expectRefused(path, reason: "not an SQLite database")
  }

  @Test func anotherApplicationsDatabaseIsRefusedAndLeftUntouched() throws {
    let dir = try TempDirectory()
    let path = dir.file("app.db")
    do {
      let db = try SQLiteConnection(path: path)
      try db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ann');"
      )
    }
    try expectRefused(path, reason: "another application")
  }

  @Test func anotherApplicationsWALDatabaseIsRefusedAndLeftUntouched() throws {
    let dir = try TempDirectory()
    let path = dir.file("wal.db")
    do {
      let db = try SQLiteConnection(path: path)
      try db.execute("PRAGMA journal_mode = WAL; PRAGMA application_id = 7; CREATE TABLE t (x);")
    }
    try expectRefused(path, reason: "application_id 0x7")
    // Not even empty -wal and -shm files are left beside someone else's database.
    #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
  }

  @Test func aNewerDroverSchemaIsRefusedAndLeftUntouched() throws {
    let dir = try TempDirectory()
    let path = dir.file("newer.db")
    do {
      let store = try SQLiteStore(path: path)
      try store.add()
    }
    do {
      let db = try SQLiteConnection(path: path, create: false)
      try db.execute("PRAGMA user_version = 99")
    }
    try expectRefused(path, reason: "schema version 99 is newer")
  }

  @Test func anEmptyFileOrDatabaseIsInitialised() throws {
    let dir = try TempDirectory()
    let empty = dir.file("empty.db")
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    let a = try SQLiteStore(path: empty)
    #expect(try a.add() > 0)
    let bare = dir.file("bare.db")
    do {
      let db = try SQLiteConnection(path: bare)
      try db.execute("CREATE TABLE scratch (x); DROP TABLE scratch;")
    }
    #expect(try fileBytes(bare).count > 0)
    let b = try SQLiteStore(path: bare)
    #expect(try b.add() > 0)
  }

  @Test func aMissingFolderCannotBeOpened() throws {
    let dir = try TempDirectory()
    #expect {
      try SQLiteStore(path: dir.file("no/such/folder/x.db"))
    } throws: { error in
      if case .cannotOpen = error as? StoreError { true } else { false }
    }
  }

  @Test func hotQueriesUseTheirIndexes() throws {
    let dir = try TempDirectory()
    let store = try SQLiteStore(path: dir.file("plans.db"))
    let plans = try store.queryPlans()
    func expectPlan(_ name: String, uses index: String, sorts: Bool = false) {
      let plan = plans[name] ?? []
      #expect(plan.contains { $0.contains(index) }, "\(name): \(plan)")
      #expect(sorts || !plan.contains { $0.contains("TEMP B-TREE") }, "\(name): \(plan)")
      #expect(
        !plan.contains { $0.hasPrefix("SCAN jobs") && !$0.contains("INDEX") }, "\(name): \(plan)")
    }
    expectPlan("claim", uses: "jobs_ready")
    expectPlan("promote", uses: "jobs_scheduled")
    expectPlan("scheduled", uses: "COVERING INDEX jobs_scheduled")
    expectPlan("prune", uses: "jobs_finished")
    expectPlan("pruneErrors", uses: "job_errors_job")
    expectPlan("liveKey", uses: "jobs_unique_live")
    expectPlan("cancelRequested", uses: "jobs_running")
    expectPlan("rescue", uses: "jobs_running")
    expectPlan("listRunning", uses: "jobs_running")
    expectPlan("listFinished", uses: "jobs_finished", sorts: true)
    // Counts read the counters alone (one row per type and state), never the jobs table.
    #expect(plans["stats"] == ["SCAN job_counts", "USE TEMP B-TREE FOR GROUP BY"], "\(plans)")
    #expect(plans["counts"] == ["SCAN job_counts"])
    // Queued counts come from the counters; the due-scheduled half groups its few rows from
    // its index range in a temporary b-tree.
    expectPlan("backlog", uses: "SCAN job_counts", sorts: true)
    #expect(plans["backlog"]?.contains { $0.contains("jobs_scheduled (run_at<?)") } == true)
    #expect(plans["backlog"]?.contains { $0.contains("jobs_ready") } == false)
    // Settling and fenced updates find their job by primary key.
    for name in ["finishLookup", "progress", "started", "start"] {
      expectPlan(name, uses: "USING INTEGER PRIMARY KEY (rowid=?)")
    }
    // Rescue walks the running set and looks each owner up by its key.
    #expect(plans["rescue"]?.contains { $0.contains("owners USING INTEGER PRIMARY KEY") } == true)

    // Lists without a state index walk the primary key newest first from the keyset cursor
    // (`id < after`), without sorting: a deep page costs what the first one does.
    #expect(plans["listAll"] == ["SEARCH jobs USING INTEGER PRIMARY KEY (rowid<?)"])
    #expect(plans["listScan"] == ["SEARCH jobs USING INTEGER PRIMARY KEY (rowid<?)"])
  }

  @Test func pruneDeletesTheErrorRowsToo() throws {
    let f = try StoreFixture(.sqlite)
    let id = try f.dead()
    _ = try f.add()  // a newer job: prune always keeps the newest one
    let db = try SQLiteConnection(path: f.path, create: false)
    #expect(try db.strings("SELECT count(*) FROM job_errors") == ["1"])
    #expect(try f.store.prune(PruneParams(completedBefore: f.at(1), deadBefore: f.at(1))) == 1)
    #expect(try f.store.job(id) == nil)
    #expect(try db.strings("SELECT count(*) FROM job_errors") == ["0"])
  }

  private func expectRefused(
    _ path: String, reason: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let before = try fileBytes(path)
    let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) {
      try SQLiteStore(path: path)
    }
    guard case .notADroverDatabase(let p, let why) = error else {
      Issue.record(
        "expected notADroverDatabase, got \(String(describing: error))",
        sourceLocation: sourceLocation)
      return
    }
    #expect(p == path, sourceLocation: sourceLocation)
    #expect(why.contains(reason), "\(why)", sourceLocation: sourceLocation)
    #expect(error?.description.contains("left untouched") == true, sourceLocation: sourceLocation)
    #expect(try fileBytes(path) == before, sourceLocation: sourceLocation)
  }

  private func fileBytes(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
  }
}

extension JobStore {
  /// Enqueues one default job now.
  @discardableResult
  fileprivate func add(uniqueKey: String? = nil) throws -> JobID {
    try enqueue([EnqueueParams(type: "email", uniqueKey: uniqueKey)])[0].id
  }
}
