import DroverCore
import DroverStore
import Testing

/// Dependencies: waiting jobs, released or cancelled in the transaction that settles their
/// parents, decided by rows (never counters), on every driver.
@Suite struct StoreDependencyTests {
  static func job(
    _ type: String = "email", after parents: [JobParentRef] = [],
    onParentFailure: ParentFailurePolicy = .cancel
  ) -> EnqueueParams {
    EnqueueParams(
      type: type, now: StoreFixture.t0, parents: parents, onParentFailure: onParentFailure)
  }

  func expectCounts(_ f: StoreFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try f.store.counts() == f.scanCounts(), sourceLocation: sourceLocation)
  }

  /// Claims, then completes, every queued job; returns the ids that ran.
  @discardableResult
  func runQueued(_ f: StoreFixture, now: Timestamp? = nil) throws -> [JobID] {
    let claimed = try f.claim(limit: 100, now: now)
    for c in claimed { try f.finish(c.id, .outcome(.completed), now: now) }
    return claimed.map(\.id).sorted()
  }

  /// A parent that jobs wait on cannot be deleted (they would wait for ever); a waiting job
  /// can, with its edges, and its parent can then go too.
  @Test(arguments: StoreKind.allCases)
  func deleteRefusesAParentThatJobsWaitOn(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let parent = try f.add()
    let child = try f.store.enqueue([Self.job(after: [.job(parent)])])[0].id
    try f.add("newest")
    #expect(try f.job(child).state == .waiting)
    let error = #expect(throws: StoreError.self) { try f.store.delete(DeleteParams(id: parent)) }
    #expect(error?.kind == .conflict)
    #expect("\(error.map { "\($0)" } ?? "")".contains("#\(child)"))
    #expect(try f.job(parent).state == .queued)
    try f.store.delete(DeleteParams(id: child))
    try f.store.delete(DeleteParams(id: parent))
    #expect(try f.store.job(parent) == nil && f.store.job(child) == nil)
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func unknownParentsAreRefusedAndNothingIsEnqueued(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.add()
    let error = #expect(throws: StoreError.self) {
      try f.store.enqueue([Self.job(), Self.job(after: [.job(a), .job(a + 99)])])
    }
    #expect(error?.description.contains("job 2 of 2") == true)
    #expect(error?.description.contains("unknown parent #\(a + 99)") == true)
    #expect(try f.store.stats()[.queued] == 1)
    #expect(try f.store.stats()[.waiting] == 0)
    // Through the group commit too: the whole batch fails.
    #expect(throws: StoreError.self) {
      try f.store.apply(StoreBatch(enqueues: [Self.job(after: [.job(a + 50)])]))
    }
    #expect(try f.store.list(ListParams()).count == 1)
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func cyclesAndBadPositionsAreRefused(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let cycle = [Self.job(), Self.job(after: [.batch(2)]), Self.job(after: [.batch(1)])]
    let e1 = #expect(throws: StoreError.self) { try f.store.enqueue(cycle) }
    #expect(e1?.description.contains("cycle") == true)
    #expect(e1?.description.contains("job 2 → job 3 → job 2") == true)
    let e2 = #expect(throws: StoreError.self) {
      try f.store.enqueue([Self.job(after: [.batch(0)])])
    }
    #expect(e2?.description.contains("waits on itself") == true)
    let e3 = #expect(throws: StoreError.self) {
      try f.store.enqueue([Self.job(), Self.job(after: [.batch(5)])])
    }
    #expect(e3?.description.contains("position 6") == true)
    #expect(try f.store.list(ListParams()).isEmpty)
  }

  /// A → B → C in one call: each is released only when its parent completes, never claimed
  /// before.
  @Test(arguments: StoreKind.allCases)
  func aChainRunsInOrder(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([
      Self.job(after: [.batch(1)]), Self.job(), Self.job(after: [.batch(0)]),
    ]).map(\.id)
    let (b, a, c) = (ids[0], ids[1], ids[2])
    #expect(try f.job(a).state == .queued)
    #expect(try f.job(b).state == .waiting)
    #expect(try f.job(c).state == .waiting)
    #expect(try f.store.stats()[.waiting] == 2)
    try expectCounts(f)
    let first = try f.claim(limit: 10)
    #expect(first.map(\.id) == [a])
    let done = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: a, settlement: .outcome(.completed))], promoteDue: false,
        now: f.at(1)))
    #expect(done.released == ["email"])
    #expect(try f.job(b).state == .queued)
    #expect(try f.job(b).runAt == f.at(1))
    #expect(try f.job(c).state == .waiting)
    try expectCounts(f)
    #expect(try runQueued(f, now: f.at(2)) == [b])
    #expect(try f.job(c).state == .queued)
    #expect(try runQueued(f, now: f.at(3)) == [c])
    #expect(try f.store.stats()[.completed] == 3)
    try expectCounts(f)
    // The links, as `jobs show` lists them.
    let shown = try f.job(b)
    #expect(shown.parents == [JobLink(id: a, state: .completed)])
    #expect(shown.children == [JobLink(id: c, state: .completed)])
  }

  /// Fan-in of three parents: released once, when the last completes, even though one parent
  /// failed an attempt first and completed on its retry; a parent that completes again later
  /// (requeued after being dead) never releases its child a second time.
  @Test(arguments: StoreKind.allCases)
  func fanInReleasesOnceWhateverTheAttempts(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([
      Self.job(), Self.job(), Self.job(), Self.job(after: [.batch(0), .batch(1), .batch(2)]),
    ]).map(\.id)
    let child = ids[3]
    let claimed = try f.claim(limit: 10).map(\.id).sorted()
    #expect(claimed == Array(ids[0..<3]))
    try f.finish(ids[0], .outcome(.completed))
    try f.finish(
      ids[1], .outcome(.retryable("flaky")), backoff: .init(base: .seconds(1), cap: .seconds(1)))
    try f.finish(ids[2], .outcome(.completed))
    #expect(try f.job(child).state == .waiting)
    let hold = try f.job(child)
    #expect(
      DependencyHold.text(state: hold.state, parents: hold.parents)
        == "waiting on parent #\(ids[1]) (2 of 3 done)")
    try expectCounts(f)
    // The retry: promoted, claimed and completed; the child goes to the queue exactly once.
    let again = try f.claim(limit: 10, now: f.at(60))
    #expect(again.map(\.id) == [ids[1]])
    let r = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: ids[1], settlement: .outcome(.completed))],
        promoteDue: false, now: f.at(61)))
    #expect(r.released == ["email"])
    #expect(try f.job(child).state == .queued)
    #expect(try runQueued(f, now: f.at(62)) == [child])
    try expectCounts(f)

    // "run" after a parent that dies, then is requeued and completes: one run of the child.
    let more = try f.store.enqueue([
      Self.job("thumb"), Self.job(after: [.batch(0)], onParentFailure: .run),
    ])
    let parent = more[0].id
    let runner = more[1].id
    let p = try f.claim(["thumb"])
    #expect(p.map(\.id) == [parent])
    try f.finish(parent, .outcome(.permanent("bad")))
    #expect(try f.job(runner).state == .queued)
    #expect(try runQueued(f, now: f.at(70)) == [runner])
    #expect(try f.store.requeueDead(RequeueDeadParams(ids: [parent], now: f.at(71))) == 1)
    let p2 = try f.claim(["thumb"], now: f.at(72))
    #expect(p2.map(\.id) == [parent])
    let r2 = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: parent, settlement: .outcome(.completed))],
        promoteDue: false, now: f.at(73)))
    #expect(r2.released.isEmpty)
    let finished = try f.job(runner)
    #expect(finished.state == .completed)
    #expect(finished.attempts == 1)
    try expectCounts(f)
  }

  /// A dead parent cancels its `cancel` children (and theirs, recursively) and releases its
  /// `run` children.
  @Test(arguments: StoreKind.allCases)
  func aDeadParentCancelsOrReleases(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([
      Self.job(), Self.job(after: [.batch(0)]), Self.job(after: [.batch(0)], onParentFailure: .run),
      Self.job(after: [.batch(1)], onParentFailure: .run),
    ]).map(\.id)
    let (parent, cancelChild, runChild, grandchild) = (ids[0], ids[1], ids[2], ids[3])
    _ = try f.claim()
    let r = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: parent, settlement: .outcome(.permanent("no")))],
        promoteDue: false, now: f.at(5)))
    #expect(r.finished[0].state == .dead)
    let c = try f.job(cancelChild)
    #expect(c.state == .cancelled)
    #expect(c.finishedAt == f.at(5))
    #expect(c.errors.map(\.message) == ["parent #\(parent) dead"])
    #expect(try f.job(runChild).state == .queued)
    // A "run" job under a cancelled parent runs too.
    #expect(try f.job(grandchild).state == .queued)
    #expect(r.released.count == 2)
    #expect(r.cancelledWaiting == [SettledChild(id: cancelChild, type: "email")])
    try expectCounts(f)

    // At insert: a parent already dead applies the policy at once; a completed one counts done.
    let late = try f.store.enqueue([
      Self.job(after: [.job(parent)]), Self.job(after: [.job(parent)], onParentFailure: .run),
      Self.job(after: [.job(runChild)]), Self.job(after: [.batch(0)]),
    ]).map(\.id)
    #expect(try f.job(late[0]).state == .cancelled)
    #expect(try f.job(late[0]).errors.map(\.message) == ["parent #\(parent) dead"])
    #expect(try f.job(late[1]).state == .queued)
    #expect(try f.job(late[2]).state == .waiting)
    #expect(try f.job(late[3]).state == .cancelled)
    #expect(try f.job(late[3]).errors.map(\.message) == ["parent #\(late[0]) cancelled"])
    try expectCounts(f)
  }

  /// `cancel --cascade` takes the whole waiting subtree; a plain cancel applies each child's
  /// policy.
  @Test(arguments: StoreKind.allCases)
  func cancelCascadesOrAppliesPolicies(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([
      Self.job(), Self.job(after: [.batch(0)], onParentFailure: .run),
      Self.job(after: [.batch(1)], onParentFailure: .run),
      Self.job(after: [.batch(1), .batch(2)], onParentFailure: .run),
    ]).map(\.id)
    #expect(try f.store.cancel(CancelParams(id: ids[0], now: f.at(1), cascade: true)) == .cancelled)
    for id in ids { #expect(try f.job(id).state == .cancelled) }
    #expect(try f.job(ids[2]).errors.map(\.message) == ["parent #\(ids[1]) cancelled"])
    try expectCounts(f)

    let more = try f.store.enqueue([
      Self.job(), Self.job(after: [.batch(0)]), Self.job(after: [.batch(0)], onParentFailure: .run),
    ]).map(\.id)
    // A waiting job can be cancelled itself.
    let lone = try f.store.enqueue([Self.job(after: [.job(more[0])])])[0].id
    #expect(try f.store.cancel(CancelParams(id: lone)) == .cancelled)
    #expect(try f.store.cancel(CancelParams(id: more[0], now: f.at(2))) == .cancelled)
    #expect(try f.job(more[1]).state == .cancelled)
    #expect(try f.job(more[1]).errors.map(\.message) == ["parent #\(more[0]) cancelled"])
    #expect(try f.job(more[2]).state == .queued)
    try expectCounts(f)

    // Under a running parent, the cascade cancels the waiting subtree now.
    let top = try f.store.enqueue([Self.job("thumb"), Self.job(after: [.batch(0)])]).map(\.id)
    _ = try f.claim(["thumb"])
    #expect(try f.store.cancel(CancelParams(id: top[0], cascade: true)) == .requested)
    #expect(try f.job(top[1]).state == .cancelled)
    try expectCounts(f)
  }

  /// A waiting job is live: it holds its unique key until it finishes.
  @Test(arguments: StoreKind.allCases)
  func aWaitingJobHoldsItsUniqueKey(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let parent = try f.add()
    var keyed = Self.job(after: [.job(parent)])
    keyed.uniqueKey = "k"
    let first = try f.store.enqueue([keyed])[0]
    #expect(first.existed == false)
    #expect(try f.job(first.id).state == .waiting)
    #expect(try f.store.enqueue([keyed])[0] == EnqueueResult(id: first.id, existed: true))
    var plain = Self.job()
    plain.uniqueKey = "k"
    #expect(try f.store.enqueue([plain])[0] == EnqueueResult(id: first.id, existed: true))
    #expect(try f.store.cancel(CancelParams(id: first.id)) == .cancelled)
    #expect(try f.store.enqueue([plain])[0].existed == false)
    try expectCounts(f)
  }

  /// A retried child goes back to waiting on its parents: released at once when they all
  /// completed, cancelled again under a dead parent (policy `cancel`), waiting otherwise.
  @Test(arguments: StoreKind.allCases)
  func aRetriedChildWaitsOnItsParentsAgain(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([Self.job("thumb"), Self.job(after: [.batch(0)])]).map(\.id)
    #expect(try f.store.cancel(CancelParams(id: ids[1])) == .cancelled)
    #expect(try f.store.retry(RetryParams(id: ids[1], now: f.at(1))).state == .waiting)
    try expectCounts(f)
    _ = try f.claim(["thumb"])
    try f.finish(ids[0], .outcome(.permanent("no")))
    #expect(try f.job(ids[1]).state == .cancelled)
    let again = try f.store.retry(RetryParams(id: ids[1], now: f.at(2)))
    #expect(again.state == .cancelled)
    #expect(again.errors.map(\.message) == ["parent #\(ids[0]) dead", "parent #\(ids[0]) dead"])
    try expectCounts(f)
    // The parent requeued and completed: the child's retry releases it.
    #expect(try f.store.requeueDead(RequeueDeadParams(ids: [ids[0]], now: f.at(3))) == 1)
    _ = try f.claim(["thumb"], now: f.at(4))
    try f.finish(ids[0], .outcome(.completed), now: f.at(5))
    #expect(try f.job(ids[1]).state == .cancelled)
    #expect(try f.store.retry(RetryParams(id: ids[1], now: f.at(6))).state == .queued)
    try expectCounts(f)
  }

  /// A running parent whose cancel was requested and whose owner died: the rescue cancels it,
  /// and its children follow in the same transaction.
  @Test(arguments: StoreKind.allCases)
  func aRescuedCancelSettlesChildren(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue([Self.job(), Self.job(after: [.batch(0)])]).map(\.id)
    _ = try f.claim()
    #expect(try f.store.cancel(CancelParams(id: ids[0])) == .requested)
    let rescued = try f.store.rescueExpired(RescueParams(message: "lost", now: f.at(10)))
    #expect(rescued.map(\.state) == [.cancelled])
    #expect(try f.job(ids[1]).state == .cancelled)
    try expectCounts(f)
  }
}
