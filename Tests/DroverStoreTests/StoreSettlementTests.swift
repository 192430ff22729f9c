import DroverCore
import DroverStore
import Testing

/// Every way an attempt can settle, through `apply`'s finishes.
@Suite struct StoreSettlementTests {
  @Test(arguments: StoreKind.allCases)
  func completeSpendsTheAttemptAndFillsProgress(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    let result = try f.finish(id, .outcome(.completed), now: f.at(3))
    #expect(result == FinishResult(id: id, state: .completed, attempt: 1, type: "email"))
    let job = try f.job(id)
    #expect(job.state == .completed)
    #expect(job.attempts == 1)
    #expect(job.progress == 100)
    #expect(job.startedAt == StoreFixture.t0)
    #expect(job.finishedAt == f.at(3))
    #expect(job.errors.isEmpty)
    #expect(job.workerPID == 4121)
  }

  @Test(arguments: StoreKind.allCases)
  func handlerCancelledEndsCancelled(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    #expect(try f.finish(id, .outcome(.cancelled), now: f.at(1)).state == .cancelled)
    let job = try f.job(id)
    #expect(job.state == .cancelled)
    #expect(job.attempts == 1)
    #expect(job.finishedAt == f.at(1))
  }

  @Test(arguments: StoreKind.allCases)
  func retryableFailureIsScheduledWithinTheBackoff(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let pool = BackoffPolicy(base: .seconds(10), cap: .seconds(25))
    let id = try f.running(maxAttempts: 5)
    let now = f.at(1)
    let result = try f.finish(
      id, .outcome(.retryable("smtp 421")), now: now, backoff: pool, jitter: 0.5, pid: 900)
    #expect(
      result
        == FinishResult(
          id: id, state: .scheduled, attempt: 1, type: "email", retryAt: now.adding(.seconds(5)),
          error: "smtp 421"))
    var job = try f.job(id)
    #expect(job.state == .scheduled)
    #expect(job.attempts == 1)
    #expect(job.runAt == now.adding(.seconds(5)))
    #expect(job.finishedAt == nil)
    #expect(job.errors == [JobError(attempt: 1, message: "smtp 421", at: now, workerPID: 900)])

    // Attempt 3's ceiling is min(25 s, 10 s · 4): the wait stays within [now, now + 25 s].
    for (attempt, jitter) in [(2, 0.999_999), (3, 0.999_999)] {
      let claimAt = job.runAt
      #expect(try f.claim(now: claimAt).map(\.attempt) == [attempt])
      try f.finish(
        id, .failed("worker exited on signal 9"), now: claimAt, backoff: pool, jitter: jitter)
      job = try f.job(id)
      let wait = job.runAt.micros - claimAt.micros
      #expect(wait >= 0)
      #expect(wait <= pool.ceiling(afterAttempt: attempt).microseconds)
      #expect(job.runAt == claimAt.adding(pool.delay(afterAttempt: attempt, jitter: jitter)))
      #expect(job.attempts == attempt)
    }
    #expect(pool.ceiling(afterAttempt: 3) == .seconds(25))
    #expect(job.errors.map(\.attempt) == [1, 2, 3])
  }

  @Test(arguments: StoreKind.allCases)
  func zeroBackoffRequeuesAtOnce(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 3)
    try f.finish(id, .outcome(.retryable("x")), now: f.at(2), jitter: 0)
    let job = try f.job(id)
    #expect(job.state == .queued)
    #expect(job.runAt == f.at(2))
    #expect(job.attempts == 1)
  }

  @Test(arguments: StoreKind.allCases)
  func theJobsOwnBackoffWinsOverThePools(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let own = BackoffPolicy(base: .seconds(100), cap: .seconds(100))
    let id = try f.running(backoff: own)
    try f.finish(
      id, .outcome(.retryable("x")), now: f.at(0),
      backoff: BackoffPolicy(base: .seconds(1), cap: .seconds(1)),
      jitter: 0.5)
    #expect(try f.job(id).runAt == f.at(50))
  }

  @Test(arguments: StoreKind.allCases)
  func permanentFailureIsDeadAtOnce(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 10)
    #expect(try f.finish(id, .outcome(.permanent("bad address")), now: f.at(4)).state == .dead)
    let job = try f.job(id)
    #expect(job.state == .dead)
    #expect(job.attempts == 1)
    #expect(job.finishedAt == f.at(4))
    #expect(job.errors.map(\.message) == ["bad address"])
  }

  @Test(arguments: StoreKind.allCases)
  func deadAfterMaxAttemptsKeepsEveryError(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.add(maxAttempts: 3)
    var now = StoreFixture.t0
    for attempt in 1...3 {
      let claimed = try f.claim(now: now)
      #expect(claimed.map(\.id) == [id])
      #expect(claimed.first?.attempt == attempt)
      let result = try f.finish(id, .outcome(.retryable("boom \(attempt)")), now: now)
      #expect(result.attempt == attempt)
      #expect(result.state == (attempt < 3 ? .scheduled : .dead))
      now = try f.job(id).runAt.adding(.seconds(1))
    }
    let job = try f.job(id)
    #expect(job.state == .dead)
    #expect(job.attempts == 3)
    #expect(job.errors.map(\.attempt) == [1, 2, 3])
    #expect(job.errors.map(\.message) == ["boom 1", "boom 2", "boom 3"])
    #expect(job.errors.allSatisfy { $0.workerPID == 4121 })
    #expect(job.finishedAt != nil)
  }

  @Test(arguments: StoreKind.allCases)
  func snoozeDoesNotSpendAnAttempt(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 1)
    #expect(try f.finish(id, .outcome(.snooze(.seconds(30))), now: f.at(1)).state == .scheduled)
    var job = try f.job(id)
    #expect(job.attempts == 0)
    #expect(job.runAt == f.at(31))
    #expect(job.errors.isEmpty)
    #expect(try f.claim(now: f.at(31)).map(\.attempt) == [1])
    #expect(try f.finish(id, .outcome(.snooze(.zero)), now: f.at(32)).state == .queued)
    job = try f.job(id)
    #expect(job.state == .queued)
    #expect(job.attempts == 0)
  }

  /// Each snooze is counted on the job (and handed out with its claim, for the handler and the
  /// supervisor's `max_snoozes`); other settlements leave the count alone.
  @Test(arguments: StoreKind.allCases)
  func snoozesAreCounted(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 3)
    #expect(try f.job(id).snoozes == 0)
    _ = try f.finish(id, .outcome(.snooze(.zero)), now: f.at(1))
    #expect(try f.claim(now: f.at(2)).map(\.snoozes) == [1])
    _ = try f.finish(id, .outcome(.snooze(.zero)), now: f.at(3))
    #expect(try f.claim(now: f.at(4)).map(\.snoozes) == [2])
    _ = try f.finish(id, .outcome(.retryable("x")), now: f.at(5))
    _ = try f.finish(id, .released, now: f.at(6))
    let job = try f.job(id)
    #expect(job.snoozes == 2)
    #expect(job.attempts == 1)
  }

  @Test(arguments: StoreKind.allCases)
  func interruptedKeepsTheErrorButNotTheAttempt(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 1)
    let place = try f.job(id).runAt
    let result = try f.finish(id, .interrupted("drain timeout"), now: f.at(7))
    #expect(
      result
        == FinishResult(
          id: id, state: .queued, attempt: 1, type: "email", retryAt: place, error: "drain timeout"
        ))
    let job = try f.job(id)
    #expect(job.state == .queued)
    #expect(job.attempts == 0)
    // It keeps its place in the claim order: the interruption was not the job's doing.
    #expect(job.runAt == place)
    #expect(
      job.errors == [JobError(attempt: 1, message: "drain timeout", at: f.at(7), workerPID: 4121)])
    // The budget is intact: the next attempt's failure is the first that counts.
    _ = try f.claim(now: f.at(8))
    #expect(try f.finish(id, .outcome(.retryable("x")), now: f.at(9)).state == .dead)
  }

  @Test(arguments: StoreKind.allCases)
  func releasedJobGoesBackUnchangedToItsPlace(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 3)
    let before = try f.job(id)
    #expect(try f.finish(id, .released, now: f.at(9)).state == .queued)
    let job = try f.job(id)
    #expect(job.state == .queued)
    #expect(job.attempts == before.attempts)
    #expect(job.runAt == before.runAt)
    #expect(job.errors.isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func finishOfAJobNotRunningIsIgnored(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let queued = try f.add("q")
    let before = try f.job(queued)
    #expect(
      try f.finish(queued, .outcome(.completed)) == FinishResult(id: queued, state: nil, attempt: 0)
    )
    #expect(try f.job(queued) == before)
    #expect(try f.finish(9999, .outcome(.completed)).state == nil)
    let id = try f.running()
    #expect(try f.finish(id, .outcome(.completed)).state == .completed)
    let done = try f.job(id)
    #expect(try f.finish(id, .outcome(.retryable("late"))).state == nil)
    #expect(try f.job(id) == done)
  }

  @Test(arguments: StoreKind.allCases)
  func aBatchEnqueuesFirstAndCanClaimWhatItEnqueued(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let result = try f.store.apply(
      StoreBatch(
        enqueues: [
          EnqueueParams(type: "email", priority: 1, now: f.at(1)),
          EnqueueParams(type: "email", now: f.at(1)),
          EnqueueParams(type: "email", runAt: f.at(60), now: f.at(1)),
        ],
        promoteDue: false, claims: [ClaimParams(types: ["email"], limit: 5)], now: f.at(1)))
    #expect(result.enqueued.count == 3)
    #expect(result.enqueued.allSatisfy { !$0.existed })
    // The due ones are claimed in the same transaction, by priority; the delayed one waits.
    #expect(result.claimed[0].map(\.id) == [result.enqueued[0].id, result.enqueued[1].id])
    #expect(try f.job(result.enqueued[2].id).state == .scheduled)
  }

  @Test(arguments: StoreKind.allCases)
  func anInvalidEnqueueFailsTheWholeBatch(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    #expect(throws: StoreError.self) {
      try f.store.apply(
        StoreBatch(
          enqueues: [EnqueueParams(type: "email", payload: "[1]", now: f.at(1))],
          finishes: [FinishParams(id: id, settlement: .outcome(.completed))], now: f.at(1)))
    }
    // Nothing of the batch happened: the finish did not land either.
    #expect(try f.job(id).state == .running)
    #expect(try f.store.stats()[.queued] == 0)
  }

  @Test(arguments: StoreKind.allCases)
  func oneBatchSettlesSeveralJobsAndClaimsTheFreedOnes(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue(
      (0..<4).map { _ in EnqueueParams(type: "email", now: StoreFixture.t0) }
    )
    .map(\.id)
    let first = try f.claim(limit: 2)
    #expect(first.map(\.id) == Array(ids.prefix(2)))
    let result = try f.store.apply(
      StoreBatch(
        finishes: [
          FinishParams(id: ids[0], settlement: .outcome(.completed)),
          FinishParams(id: ids[1], settlement: .interrupted("drain"), jitter: 0),
          FinishParams(id: ids[3], settlement: .outcome(.completed)),
        ], progress: [(ids[0], 10)], claims: [ClaimParams(types: ["email"], limit: 10)],
        now: f.at(1)))
    #expect(result.finished.map(\.state) == [.completed, .queued, nil])
    // The interrupted job kept its run_at, so it is claimed first again.
    #expect(result.claimed[0].map(\.id) == [ids[1], ids[2], ids[3]])
    #expect(try f.job(ids[0]).progress == 100)
  }

  @Test(arguments: StoreKind.allCases)
  func aFailureAfterACancelRequestCancels(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running(maxAttempts: 5)
    #expect(try f.store.cancel(CancelParams(id: id)) == .requested)
    #expect(
      try f.finish(id, .failed("worker killed after cancel"), now: f.at(2)).state == .cancelled)
    let job = try f.job(id)
    #expect(job.state == .cancelled)
    #expect(job.attempts == 1)
    #expect(job.finishedAt == f.at(2))
    #expect(job.errors.map(\.message) == ["worker killed after cancel"])
    // A job that completes despite the request stays completed.
    let other = try f.running("other")
    #expect(try f.store.cancel(CancelParams(id: other)) == .requested)
    #expect(try f.finish(other, .outcome(.completed)).state == .completed)
  }
}
