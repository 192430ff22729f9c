import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// What only the PostgreSQL driver has: a schema in a shared database, many connections and
/// supervisors at once, applications' own SQL, a network connection that can break.
@Suite struct PostgresStoreTests {
  let cluster: PostgresCluster
  init() throws { cluster = try PostgresCluster.shared() }

  @Test func theFactoryOpensAURLReadWriteAndReadOnly() throws {
    let url = try cluster.database()
    let config = StoreConfig(path: "/nonexistent/unused.db", url: url)
    // Read-only first: there is no schema yet, and a reader never creates one.
    #expect {
      try StoreFactory.open(config, access: .readOnly)
    } throws: { error in
      if case .cannotOpen = error as? StoreError { true } else { false }
    }
    let writer = try StoreFactory.open(config)
    let id = try writer.enqueue([EnqueueParams(type: "email")])[0].id
    let reader = try StoreFactory.open(config, access: .readOnly)
    #expect(try reader.job(id)?.state == .queued)
    #expect {
      try reader.enqueue([EnqueueParams(type: "email")])
    } throws: { error in
      (error as? StoreError)?.kind == .readOnly
    }
    #expect(try reader.stats()[.queued] == 1)
  }

  @Test func aNewerSchemaOrAForeignTableIsRefusedUntouched() throws {
    let url = try cluster.database()
    _ = try PostgresStore(url: url)
    try cluster.psql(url, "UPDATE drover_meta SET value = '99' WHERE key = 'schema_version'")
    #expect {
      try PostgresStore(url: url)
    } throws: { error in
      if case .notADroverDatabase(_, let why) = error as? StoreError {
        why.contains("99") && why.contains("newer")
      } else {
        false
      }
    }
    #expect(
      try cluster.psql(url, "SELECT value FROM drover_meta WHERE key = 'schema_version'") == "99")

    let other = try cluster.database()
    try cluster.psql(other, "CREATE TABLE drover_jobs (id int)")
    #expect(throws: StoreError.self) { try PostgresStore(url: other) }
    #expect(try cluster.psql(other, "SELECT count(*) FROM drover_jobs") == "0")
  }

  /// Several stores opening one empty database at once: one migrates under the advisory
  /// lock, the others wait and find it done (no "already exists").
  @Test func supervisorsStartingTogetherMigrateOnce() throws {
    for _ in 0..<3 {
      let url = try cluster.database()
      let errors = Mutex<[String]>([])
      DispatchQueue.concurrentPerform(iterations: 8) { _ in
        do { _ = try PostgresStore(url: url) } catch {
          errors.withLock { $0.append("\(error)") }
        }
      }
      #expect(errors.withLock { $0 } == [])
      #expect(
        try cluster.psql(url, "SELECT value FROM drover_meta WHERE key = 'schema_version'")
          == "\(PostgresSchema.migrations.count)")
    }
  }

  /// Two connections claiming the same backlog at once (SKIP LOCKED) never share a job.
  @Test func concurrentClaimersNeverShareAJob() throws {
    let url = try cluster.database()
    let seed = try PostgresStore(url: url)
    let total = 2000
    _ = try seed.enqueue((0..<total).map { _ in EnqueueParams(type: "t") })
    let claimed = Mutex<[[JobID]]>([[], []])
    DispatchQueue.concurrentPerform(iterations: 2) { i in
      guard let store = try? PostgresStore(url: url) else { return }
      let owner = try? store.openSession(SessionParams(name: "c\(i)", pid: 1, lease: .seconds(60)))
      while true {
        guard
          let got = try? store.apply(
            StoreBatch(claims: [ClaimParams(types: ["t"], limit: 25)], owner: owner)
          ).claimed[0], !got.isEmpty
        else { break }
        claimed.withLock { $0[i] += got.map(\.id) }
      }
    }
    let (a, b) = claimed.withLock { ($0[0], $0[1]) }
    #expect(Set(a).isDisjoint(with: Set(b)))
    #expect(a.count + b.count == total)
    #expect(try seed.stats()[.running] == total)
    #expect(try seed.counts() == seed.countByScan())
  }

  /// An application's own transaction: the job exists exactly when it commits, is counted,
  /// and wakes supervisors; `drover_enqueue` folds a live unique key.
  @Test func transactionalEnqueueFromPsql() throws {
    let url = try cluster.database()
    let store = try PostgresStore(url: url)
    _ = try store.othersWrote()
    // Rolled back: no job, no counter, no notification.
    try cluster.psql(
      url,
      """
      BEGIN;
      INSERT INTO drover_jobs (type, payload) VALUES ('email', '{"to":"a@example.com"}');
      ROLLBACK;
      """)
    #expect(try store.list(ListParams()).isEmpty)
    #expect(try !store.othersWrote())
    // Committed later: invisible (and silent) until then. The application's transaction
    // waits on an advisory lock this test holds, after its inserts.
    let gate = try PostgresStore(url: url)
    try gate.execForTests("SELECT pg_advisory_lock(42)")
    let slow = try ChildProcess.start(
      "/usr/bin/env",
      [
        "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
        """
        BEGIN;
        INSERT INTO drover_jobs (type, payload, priority) VALUES ('email', '{"n":1}', 3);
        SELECT drover_enqueue('email', '{"n":2}', job_unique_key => 'k1');
        SELECT pg_advisory_lock(42);
        COMMIT;
        """,
      ])
    let deadline = ContinuousClock.now + .seconds(60)
    while try cluster.psql(
      url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") != "1"
    {
      #expect(slow.poll() == nil)
      guard ContinuousClock.now < deadline else { throw ChildProcessError("psql never waited") }
      Thread.sleep(forTimeInterval: 0.02)
    }
    #expect(try store.stats()[.queued] == 0)
    #expect(try store.list(ListParams()).isEmpty)
    #expect(try !store.othersWrote())
    try gate.execForTests("SELECT pg_advisory_unlock(42)")
    #expect(try slow.waitForExit(timeout: .seconds(60)).exitCode == 0)
    #expect(try store.othersWrote())
    let jobs = try store.list(ListParams())
    #expect(jobs.count == 2)
    #expect(try store.stats()[.queued] == 2)
    #expect(try store.counts() == store.countByScan())
    // The key is live: the function returns the holder instead of a second job.
    let again = try cluster.psql(
      url, "SELECT drover_enqueue('email', '{}', job_unique_key => 'k1')")
    #expect(jobs.contains { String($0.id) == again && $0.uniqueKey == "k1" })
    // A delay makes it scheduled; a plain INSERT without one is due now.
    try cluster.psql(
      url, "SELECT drover_enqueue('email', '{}', job_run_at => now() + interval '1 hour')")
    #expect(try store.stats()[.scheduled] == 1)
    // A plain INSERT gets the job's budget from max_attempts, and claims like any job.
    let claimed = try store.apply(StoreBatch(claims: [ClaimParams(types: ["email"], limit: 5)]))
    #expect(claimed.claimed[0].map(\.priority) == [3, 0])
    #expect(claimed.claimed[0].allSatisfy { $0.maxAttempts == 20 })
    // Not a JSON object: refused by the function.
    #expect(throws: ChildProcessError.self) {
      try cluster.psql(url, "SELECT drover_enqueue('email', '[1]')")
    }
  }

  /// A connection killed under the store: calls fail with `.unavailable`, then the store
  /// reconnects by itself, listens again and loses nothing committed.
  @Test func aLostConnectionIsUnavailableThenReconnects() throws {
    let url = try cluster.database()
    let store = try PostgresStore(url: url)
    let id = try store.enqueue([EnqueueParams(type: "email")])[0].id
    _ = try store.othersWrote()
    try cluster.psql(
      url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        + "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    #expect {
      _ = try store.job(id)
    } throws: { error in
      (error as? StoreError)?.kind == .unavailable
    }
    // checkStorage never fails for a lost connection: it only starts the reconnect.
    try store.checkStorage()
    let deadline = ContinuousClock.now + .seconds(30)
    var back: Job?
    while back == nil, ContinuousClock.now < deadline {
      back = try? store.job(id)
      if back == nil { Thread.sleep(forTimeInterval: 0.05) }
    }
    #expect(back?.state == .queued)
    // Notifications may have been missed while away: the first answer after is true.
    #expect(try store.othersWrote())
    let other = try PostgresStore(url: url)
    _ = try other.enqueue([EnqueueParams(type: "email")])
    #expect(try store.othersWrote())
  }

  /// A database dropped and created again under the same URL is another store: noticed.
  @Test func aReplacedDatabaseIsNoticed() throws {
    let url = try cluster.database()
    let name = String(url.split(separator: "/").last!)
    let store = try PostgresStore(url: url)
    let admin = cluster.url(database: "postgres")
    try cluster.psql(admin, "DROP DATABASE \"\(name)\" WITH (FORCE)")
    try cluster.psql(admin, "CREATE DATABASE \"\(name)\"")
    _ = try PostgresStore(url: url)  // a fresh schema, another instance id
    let deadline = ContinuousClock.now + .seconds(30)
    var noticed: StoreError?
    while noticed == nil, ContinuousClock.now < deadline {
      do { try store.checkStorage() } catch { noticed = error }
      Thread.sleep(forTimeInterval: 0.05)
    }
    #expect(noticed.map { "\($0)".contains("another database") } == true)
  }
}
