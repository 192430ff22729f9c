import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What only the SQLite driver does with schema v2: one owner per file through `PATH.lock`,
/// migration of v1 files, the counters' trigger, read-only stores, its error mapping.
@Suite struct SQLiteSessionTests {
  static let t0 = StoreFixture.t0

  private func at(_ seconds: Int64) -> Timestamp { Self.t0.adding(.seconds(seconds)) }

  private func session(_ store: SQLiteStore, at s: Int64 = 0, lease: Int64 = 3600) throws
    -> OwnerID
  {
    try store.openSession(
      SessionParams(name: "host:\(getpid())", pid: getpid(), lease: .seconds(lease), now: at(s)))
  }

  private func claimOne(_ store: SQLiteStore, owner: OwnerID) throws -> JobID {
    let id = try store.enqueue([EnqueueParams(type: "email", now: Self.t0)])[0].id
    let claimed = try store.apply(
      StoreBatch(claims: [ClaimParams(types: ["email"], limit: 1)], now: Self.t0, owner: owner))
    #expect(claimed.claimed[0].map(\.id) == [id])
    return id
  }

  @Test func aSecondSupervisorIsRefusedNamingTheHoldersPid() throws {
    let dir = try TempDirectory()
    let path = dir.file("one.db")
    let a = try SQLiteStore(path: path)
    let owner = try session(a)
    let id = try claimOne(a, owner: owner)
    let lock = try String(contentsOfFile: path + ".lock", encoding: .utf8)
    #expect(lock.hasPrefix("\(getpid())\n"))
    let b = try SQLiteStore(path: path)
    #expect {
      try session(b)
    } throws: { error in
      guard case .conflict(let m) = error as? StoreError else { return false }
      return m
        == "another supervisor (pid \(getpid())) is running on \(path); only one may own a store"
    }
    // A second session through the same object is refused too.
    #expect(throws: StoreError.self) { try session(a) }
    try a.closeSession(owner)
    let next = try session(b, at: 1)
    #expect(next > owner)
    // The closed owner is gone: its job is rescuable at once, long before its lease would end.
    #expect(try b.rescueExpired(RescueParams(message: "m", now: at(2))).map(\.id) == [id])
    withExtendedLifetime(a) {}
  }

  @Test func aCrashedOwnersLeaseEndsWhenTheNextOneOpens() throws {
    let dir = try TempDirectory()
    let path = dir.file("crash.db")
    var id: JobID = 0
    do {
      // Dropped without closeSession, as a SIGKILL would: the kernel frees the lock, the owner
      // row stays with an hour of lease left.
      let a = try SQLiteStore(path: path)
      id = try claimOne(a, owner: try session(a))
    }
    let b = try SQLiteStore(path: path)
    _ = try session(b, at: 1)
    let rescued = try b.rescueExpired(RescueParams(message: "owner died", now: at(2)))
    #expect(rescued == [RescuedJob(id: id, type: "email", state: .queued, attempt: 1)])
    let db = try SQLiteConnection(path: path, create: false)
    #expect(try db.strings("SELECT count(*) FROM owners") == ["1"])
  }

  @Test func aV1FileIsMigratedAndItsJobsCounted() throws {
    let dir = try TempDirectory()
    let path = dir.file("v1.db")
    do {
      let db = try SQLiteConnection(path: path)
      try db.execute("PRAGMA journal_mode = WAL")
      try db.execute(SQLiteSchema.migrations[0])
      try db.execute(
        "PRAGMA application_id = \(SQLiteSchema.applicationID); PRAGMA user_version = 1")
      let t = Self.t0.micros
      try db.execute(
        """
        INSERT INTO jobs (type, state, max_attempts, budget, payload, created_at, run_at,
          started_at, finished_at)
        VALUES ('email', 1, 5, 5, '{}', \(t), \(t), NULL, NULL),
          ('email', 1, 5, 5, '{}', \(t), \(t), NULL, NULL),
          ('email', 2, 5, 5, '{}', \(t), \(t), \(t), NULL),
          ('thumb', 0, 5, 5, '{}', \(t), \(t + 60_000_000), NULL, NULL),
          ('thumb', 3, 5, 5, '{}', \(t), \(t), \(t), \(t)),
          ('report', 5, 5, 5, '{}', \(t), \(t), \(t), \(t));
        """)
    }
    let store = try SQLiteStore(path: path)
    let db = try SQLiteConnection(path: path, create: false)
    #expect(try db.strings("PRAGMA user_version") == ["\(SQLiteSchema.currentVersion)"])
    // v4: existing jobs start with no snoozes.
    #expect(Set(try db.strings("SELECT snoozes FROM jobs")) == ["0"])
    let counts = try store.counts()
    #expect(counts == (try store.countByScan()))
    #expect(counts["email"]?[.queued] == 2)
    #expect(counts["email"]?[.running] == 1)
    #expect(counts["thumb"]?[.scheduled] == 1)
    #expect(counts["report"]?[.dead] == 1)
    #expect(try store.stats()[.completed] == 1)
    // A v1 running job has no owner: rescuable at once.
    #expect(try store.rescueExpired(RescueParams(message: "m", now: at(1))).map(\.id) == [3])
    // After the migration, an outsider's INSERT is counted by the trigger, Drover's own by
    // the driver; neither twice.
    try db.execute(
      """
      INSERT INTO jobs (type, state, max_attempts, budget, payload, created_at, run_at)
      VALUES ('script', 1, 5, 5, '{}', 0, 0)
      """)
    _ = try store.enqueue([EnqueueParams(type: "script")])
    #expect(try store.counts()["script"]?[.queued] == 2)
    #expect(try store.counts() == (try store.countByScan()))
  }

  @Test func anInsertFailingMidBatchLeavesNoCounts() throws {
    let dir = try TempDirectory()
    let path = dir.file("abort.db")
    let store = try SQLiteStore(path: path)
    _ = try store.enqueue([EnqueueParams(type: "email")])
    let db = try SQLiteConnection(path: path, create: false)
    try db.execute(
      """
      CREATE TRIGGER poison BEFORE INSERT ON jobs WHEN NEW.type = 'poison'
      BEGIN SELECT RAISE(ABORT, 'poisoned'); END;
      """)
    let before = try store.counts()
    let error = #expect(throws: StoreError.self) {
      _ = try store.enqueue([
        EnqueueParams(type: "email"), EnqueueParams(type: "other"), EnqueueParams(type: "poison"),
      ])
    }
    // SQLITE_CONSTRAINT_TRIGGER: a constraint the database enforced.
    #expect(error == .conflict("sqlite error 1811: poisoned"))
    #expect(try store.counts() == before)
    _ = try store.enqueue([EnqueueParams(type: "other")])
    #expect(try store.counts()["email"]?[.queued] == 1)
    #expect(try store.counts()["other"]?[.queued] == 1)
    #expect(try store.counts() == (try store.countByScan()))
  }

  @Test func aReadOnlyStoreReadsAndRefusesEveryWrite() throws {
    let dir = try TempDirectory()
    let path = dir.file("ro.db")
    let config = StoreConfig(path: path)
    #expect {
      try StoreFactory.open(config, access: .readOnly)
    } throws: { error in
      if case .cannotOpen(let p, _) = error as? StoreError { p == path } else { false }
    }
    #expect(!FileManager.default.fileExists(atPath: path))
    let writer = try StoreFactory.open(config)
    let id = try writer.enqueue([EnqueueParams(type: "email", now: Self.t0)])[0].id
    let reader = try StoreFactory.open(config, access: .readOnly)
    #expect(try reader.job(id)?.type == "email")
    #expect(try reader.list(ListParams()).map(\.id) == [id])
    #expect(try reader.stats()[.queued] == 1)
    #expect(try reader.counts()["email"]?[.queued] == 1)
    #expect(try reader.backlog(now: Self.t0) == ["email": 1])
    #expect(try reader.nextScheduled() == nil)
    #expect(try reader.cancelRequested() == [])
    #expect(try reader.othersWrote())
    _ = try writer.enqueue([EnqueueParams(type: "email", now: Self.t0)])
    #expect(try reader.othersWrote())
    #expect(try reader.stats()[.queued] == 2)

    func refused(_ body: () throws -> Void, _ line: Int = #line) {
      do {
        try body()
        Issue.record("line \(line): a write succeeded on a read-only store")
      } catch {
        #expect((error as? StoreError)?.kind == .readOnly, "line \(line): \(error)")
      }
    }
    refused { _ = try reader.enqueue([EnqueueParams(type: "email")]) }
    refused { _ = try reader.enqueue([]) }
    refused { _ = try reader.apply(StoreBatch(claims: [ClaimParams(types: ["email"], limit: 1)])) }
    refused { _ = try reader.cancel(CancelParams(id: id)) }
    refused { _ = try reader.retry(RetryParams(id: id)) }
    refused { _ = try reader.requeueDead(RequeueDeadParams()) }
    refused { _ = try reader.prune(PruneParams(completedBefore: .now(), deadBefore: .now())) }
    refused {
      _ = try reader.openSession(SessionParams(name: "x", pid: 1, lease: .seconds(1)))
    }
    refused { try reader.renewLease(LeaseParams(owner: 1, lease: .seconds(1))) }
    refused { try reader.closeSession(1) }
    refused { _ = try reader.rescueExpired(RescueParams(message: "m")) }
    refused {
      _ = try reader.acquireLeadership(
        LeadershipParams(name: "cron", owner: 1, lease: .seconds(1)))
    }
    #expect(try writer.job(id)?.state == .queued)
  }

  @Test func aV1FileIsNotOpenedReadOnly() throws {
    let dir = try TempDirectory()
    let path = dir.file("old.db")
    do {
      let db = try SQLiteConnection(path: path)
      try db.execute(SQLiteSchema.migrations[0])
      try db.execute(
        "PRAGMA application_id = \(SQLiteSchema.applicationID); PRAGMA user_version = 1")
    }
    #expect {
      try SQLiteStore(readOnlyPath: path)
    } throws: { error in
      if case .cannotOpen(_, let why) = error as? StoreError {
        why.contains("migrate")
      } else {
        false
      }
    }
  }

  @Test func sqliteResultCodesMapToDriverNeutralKinds() {
    let cases: [(Int32, StoreError.Kind)] = [
      (5, .busy), (261, .busy), (6, .busy), (13, .full), (11, .corrupt), (26, .corrupt),
      (8, .readOnly), (1032, .readOnly), (19, .conflict), (2067, .conflict), (10, .unavailable),
      (266, .unavailable), (14, .unavailable), (1, .unavailable),
    ]
    for (code, kind) in cases {
      let error = SQLiteConnection.storeError(code, message: "m")
      #expect(error.kind == kind, "code \(code)")
      #expect(error.description.hasSuffix("sqlite error \(code): m"), "code \(code)")
    }
  }

  @Test func boundedPruneTakesTheErrorsOfItsJobsOnly() throws {
    let f = try StoreFixture(.sqlite)
    var dead: [JobID] = []
    for i in 0..<3 {
      let id = try f.running()
      try f.finish(id, .outcome(.permanent("bad \(i)")), now: f.at(Double(i)))
      dead.append(id)
    }
    try f.add()  // the newest job stays
    let db = try SQLiteConnection(path: f.path, create: false)
    let params = PruneParams(completedBefore: f.at(60), deadBefore: f.at(60), limit: 2)
    #expect(try f.store.prune(params) == 2)
    #expect(try db.strings("SELECT job_id FROM job_errors") == ["\(dead[2])"])
    #expect(try f.job(dead[2]).errors.map(\.message) == ["bad 2"])
    #expect(try f.store.prune(params) == 1)
    #expect(try db.strings("SELECT count(*) FROM job_errors") == ["0"])
  }

  @Test func seededHistoryIsCounted() throws {
    let dir = try TempDirectory()
    let store = try SQLiteStore(path: dir.file("seed.db"))
    try store.seedFinished(count: 250_001, type: "bench", finishedAt: Self.t0)
    #expect(try store.stats()[.completed] == 250_001)
    #expect(try store.counts() == (try store.countByScan()))
    let job = try store.job(1)
    #expect(job?.finishedAt == Self.t0)
    #expect(job?.startedAt.map { $0 < Self.t0 } == true)
    let params = PruneParams(completedBefore: at(1), deadBefore: at(1), limit: 100_000)
    #expect(try store.prune(params) == 100_000)
    #expect(try store.stats()[.completed] == 150_001)
  }
}
