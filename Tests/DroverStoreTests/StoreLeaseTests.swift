import DroverCore
import DroverStore
import Testing

/// Owners, leases, fencing, rescue, leadership and change notification: what every driver must
/// share. One session per store object (the SQLite driver allows no more per file), so a
/// second owner's death is played by time: a lease simply runs out.
@Suite struct StoreLeaseTests {
  /// Opens a session at `t0 + at` seconds with a lease of `lease` seconds.
  private func session(_ f: StoreFixture, at: Double = 0, lease: Int64 = 10) throws -> OwnerID {
    try f.store.openSession(
      SessionParams(name: "host:311", pid: 311, lease: .seconds(lease), now: f.at(at)))
  }

  /// Claims up to `limit` email jobs for `owner` at `t0 + at`.
  private func claim(_ f: StoreFixture, owner: OwnerID?, at: Double, limit: Int = 1) throws
    -> [ClaimedJob]
  {
    try f.store.apply(
      StoreBatch(
        claims: [ClaimParams(types: ["email"], limit: limit, workerPID: 4121)], now: f.at(at),
        owner: owner)
    ).claimed[0]
  }

  private func rescue(_ f: StoreFixture, at: Double) throws -> [RescuedJob] {
    try f.store.rescueExpired(RescueParams(message: "lease ran out", now: f.at(at)))
  }

  @Test(arguments: StoreKind.allCases)
  func anExpiredLeaseIsRescuedAndItsOwnerFenced(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let owner = try session(f)
    let id = try f.add()
    #expect(try claim(f, owner: owner, at: 1).map(\.id) == [id])
    // Live: nothing to rescue, and the owner's progress lands.
    #expect(try rescue(f, at: 5).isEmpty)
    _ = try f.store.apply(
      StoreBatch(progress: [(id, 40)], promoteDue: false, now: f.at(5), owner: owner))
    #expect(try f.job(id).progress == 40)

    let rescued = try rescue(f, at: 11)
    #expect(rescued == [RescuedJob(id: id, type: "email", state: .queued, attempt: 1)])
    var job = try f.job(id)
    #expect(job.state == .queued)
    #expect(job.attempts == 0)
    #expect(
      job.errors == [JobError(attempt: 1, message: "lease ran out", at: f.at(11), workerPID: 4121)])

    // The rescue forgot the expired owner: its renewal says so.
    #expect {
      try f.store.renewLease(LeaseParams(owner: owner, lease: .seconds(10), now: f.at(12)))
    } throws: { error in
      if case .conflict(let m) = error as? StoreError { m.contains("\(owner)") } else { false }
    }
    // A successor claims the job again; the old owner's late reports are ignored.
    try f.store.closeSession(owner)
    let successor = try session(f, at: 12)
    #expect(try claim(f, owner: successor, at: 12).map(\.attempt) == [1])
    let late = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: id, settlement: .outcome(.completed))],
        progress: [(id, 90)], started: [(id, f.at(13))], promoteDue: false, now: f.at(13),
        owner: owner))
    #expect(late.finished == [FinishResult(id: id, state: nil, attempt: 0)])
    job = try f.job(id)
    #expect(job.state == .running)
    #expect(job.progress == 40)
    #expect(job.startedAt == f.at(12))
    let settled = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: id, settlement: .outcome(.completed))], promoteDue: false,
        now: f.at(14), owner: successor))
    #expect(
      settled.finished == [FinishResult(id: id, state: .completed, attempt: 1, type: "email")])
  }

  @Test(arguments: StoreKind.allCases)
  func aRenewedLeaseKeepsItsJobs(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let owner = try session(f)
    let leased = try f.add()
    _ = try claim(f, owner: owner, at: 1)
    let unleased = try f.add()
    _ = try claim(f, owner: nil, at: 2)
    try f.store.renewLease(LeaseParams(owner: owner, lease: .seconds(10), now: f.at(8)))
    // At 15 the first lease (until 10) would have ended; the renewed one runs until 18. A job
    // claimed without an owner has no lease at all.
    #expect(try rescue(f, at: 15).map(\.id) == [unleased])
    #expect(try f.job(leased).state == .running)
    // Only the holder may settle, and a settled job holds no lease any more.
    let stranger = owner + 1000
    let refused = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: leased, settlement: .outcome(.completed))],
        promoteDue: false, now: f.at(16), owner: stranger))
    #expect(refused.finished[0].state == nil)
    let done = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: leased, settlement: .outcome(.retryable("smtp 421")))],
        promoteDue: false, now: f.at(16), owner: owner))
    #expect(done.finished[0].state == .scheduled)
    #expect(done.finished[0].type == "email")
    #expect(done.finished[0].error == "smtp 421")
    #expect(done.finished[0].retryAt.map { $0 > f.at(16) } == true)
    #expect(try rescue(f, at: 60).isEmpty)
    // A batch without an owner is not fenced (single-process tools).
    let again = try claim(f, owner: nil, at: 61, limit: 5)
    #expect(Set(again.map(\.id)) == [leased, unleased])
    let unfenced = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: leased, settlement: .outcome(.completed))],
        promoteDue: false, now: f.at(62)))
    #expect(unfenced.finished[0].state == .completed)
  }

  @Test(arguments: StoreKind.allCases)
  func aClosedSessionsJobsAreRescuableAtOnce(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let owner = try session(f, lease: 3600)
    let id = try f.add()
    _ = try claim(f, owner: owner, at: 1)
    try f.store.cancel(CancelParams(id: id, now: f.at(2))).expectRequested()
    try f.store.closeSession(owner)
    try f.store.closeSession(owner)  // harmless twice
    #expect(
      try rescue(f, at: 3) == [RescuedJob(id: id, type: "email", state: .cancelled, attempt: 1)])
    #expect(try f.job(id).state == .cancelled)
    // The store object may hold a new session now.
    let next = try session(f, at: 4)
    #expect(next != owner)
    try f.store.closeSession(next)
  }

  @Test(arguments: StoreKind.allCases)
  func leadershipHasOneHolderUntilItsLeaseEnds(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try session(f, lease: 3600)
    let b = a + 1
    func take(_ owner: OwnerID, at: Double, name: String = "cron") throws -> Bool {
      try f.store.acquireLeadership(
        LeadershipParams(name: name, owner: owner, lease: .seconds(10), now: f.at(at)))
    }
    #expect(try take(a, at: 0))
    #expect(try take(a, at: 5))  // re-acquired: now until 15
    #expect(try !take(b, at: 12))
    #expect(try take(b, at: 12, name: "maintenance"))  // another leadership is another lock
    #expect(try !take(a, at: 13, name: "maintenance"))
    #expect(try take(b, at: 16))  // a's lease ended at 15
    #expect(try !take(a, at: 17))
  }

  /// A leadership whose holder is a dead owner (its session lease ended) is free at once,
  /// however long the leadership's own lease: a restarted supervisor need not wait for it.
  @Test(arguments: StoreKind.allCases)
  func aDeadOwnersLeadershipIsFree(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try session(f, lease: 10)
    let other = a + 1000
    func take(_ owner: OwnerID, at: Double) throws -> Bool {
      try f.store.acquireLeadership(
        LeadershipParams(name: "schedules", owner: owner, lease: .seconds(3600), now: f.at(at)))
    }
    #expect(try take(a, at: 0))
    #expect(try !take(other, at: 5))  // a is alive until 10
    #expect(try take(other, at: 11))  // a's session lease ended; the leadership's had not
    // A closed session's leaderships are released at once.
    let f2 = try StoreFixture(kind)
    let b = try session(f2, lease: 3600)
    #expect(
      try f2.store.acquireLeadership(
        LeadershipParams(name: "schedules", owner: b, lease: .seconds(3600), now: f2.at(0))))
    try f2.store.closeSession(b)
    #expect(
      try f2.store.acquireLeadership(
        LeadershipParams(name: "schedules", owner: b + 1, lease: .seconds(60), now: f2.at(1))))
  }

  @Test(arguments: StoreKind.allCases)
  func othersWroteSeesOnlyOtherWriters(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let other = try f.reopen()
    #expect(try f.store.othersWrote())  // the first call answers true
    #expect(try !f.store.othersWrote())
    _ = try f.store.stats()
    #expect(try !f.store.othersWrote())
    try f.add()
    _ = try f.claim()
    #expect(try !f.store.othersWrote())  // its own commits
    _ = try other.enqueue([EnqueueParams(type: "email", now: StoreFixture.t0)])
    #expect(try f.store.othersWrote())
    #expect(try !f.store.othersWrote())
  }

  @Test(arguments: StoreKind.allCases)
  func pruneIsBoundedOldestFirstAndKeepsTheNewestJob(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    var completed: [JobID] = []
    for i in 0..<5 { completed.append(try f.completed(now: f.at(Double(10 - i)))) }
    var dead: [JobID] = []
    for _ in 0..<3 {
      let id = try f.running()
      try f.finish(id, .outcome(.permanent("bad input")), now: f.at(1))
      dead.append(id)
    }
    let newest = try f.completed(now: f.at(2))
    let params = PruneParams(completedBefore: f.at(60), deadBefore: f.at(60), limit: 2)
    #expect(try f.store.prune(params) == 2)
    // The two oldest completed jobs went first (finished at 6 and 7).
    #expect(
      try completed.map { id throws(StoreError) in try f.store.job(id) == nil } == [
        false, false, false, true, true,
      ])
    #expect(try f.store.prune(params) == 2)
    #expect(try f.store.prune(params) == 2)
    #expect(try f.store.prune(params) == 2)
    #expect(try f.store.prune(params) == 0)
    for id in completed + dead { #expect(try f.store.job(id) == nil) }
    #expect(try f.job(newest).state == .completed)
    #expect(try f.store.stats()[.completed] == 1)
    #expect(try f.store.stats()[.dead] == 0)
    #expect(throws: StoreError.self) {
      try f.store.prune(PruneParams(completedBefore: f.at(60), deadBefore: f.at(60), limit: 0))
    }
  }
}

extension CancelResult {
  fileprivate func expectRequested(sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(self == .requested, sourceLocation: sourceLocation)
  }
}
