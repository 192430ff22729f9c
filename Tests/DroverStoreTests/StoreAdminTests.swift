import DroverCore
import DroverStore
import Testing

/// Cancel, retry, requeue, rescue and prune.
@Suite struct StoreAdminTests {
  @Test(arguments: StoreKind.allCases)
  func cancelOfScheduledAndQueuedIsImmediate(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let scheduled = try f.add(runAt: f.at(60))
    let queued = try f.add()
    #expect(try f.store.cancel(CancelParams(id: scheduled, now: f.at(1))) == .cancelled)
    #expect(try f.store.cancel(CancelParams(id: queued, now: f.at(2))) == .cancelled)
    for (id, at) in [(scheduled, f.at(1)), (queued, f.at(2))] {
      let job = try f.job(id)
      #expect(job.state == .cancelled)
      #expect(job.finishedAt == at)
      #expect(job.attempts == 0)
    }
    #expect(try f.claim(now: f.at(100)).isEmpty)
    #expect(try f.store.nextScheduled() == nil)
  }

  @Test(arguments: StoreKind.allCases)
  func cancelOfRunningIsARequest(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    let other = try f.running("other")
    #expect(try f.store.cancelRequested().isEmpty)
    #expect(try f.store.cancel(CancelParams(id: id)) == .requested)
    #expect(try f.store.cancel(CancelParams(id: id)) == .requested)
    let job = try f.job(id)
    #expect(job.state == .running)
    #expect(job.cancelRequested)
    #expect(try f.store.cancelRequested() == [id])
    #expect(try f.job(other).cancelRequested == false)
    try f.finish(id, .outcome(.cancelled))
    #expect(try f.job(id).state == .cancelled)
    #expect(try f.store.cancelRequested().isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func cancelOfAFinalJobIsRefused(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let allowed: [JobState] = [.waiting, .scheduled, .queued, .running]
    let done = try f.completed()
    let dead = try f.dead("d")
    let cancelled = try f.add("c")
    _ = try f.store.cancel(CancelParams(id: cancelled))
    for (id, state) in [(done, JobState.completed), (dead, .dead), (cancelled, .cancelled)] {
      #expect(
        throws: StoreError.invalidState(id: id, state: state, operation: "cancel", allowed: allowed)
      ) {
        _ = try f.store.cancel(CancelParams(id: id))
      }
    }
    #expect(throws: StoreError.noSuchJob(424242)) { try f.store.cancel(CancelParams(id: 424242)) }
  }

  @Test(arguments: StoreKind.allCases)
  func deleteRemovesAJobWithItsErrorsAndKeepsTheCountersExact(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let dead = try f.dead("d", uniqueKey: "k1")
    let scheduled = try f.add("s", runAt: f.at(60))
    let done = try f.completed("c")
    let running = try f.running("r")
    let newest = try f.add("q")
    for id in [dead, scheduled, done] { try f.store.delete(DeleteParams(id: id)) }
    for id in [dead, scheduled, done] { #expect(try f.store.job(id) == nil, "job \(id) is gone") }
    #expect(try f.store.counts() == f.scanCounts(), "counters match a full count after deletes")
    #expect(try f.store.stats()[.dead] == 0)
    #expect(try f.store.nextScheduled() == nil)
    // The unique key of a deleted job is free again.
    let again = try f.add("d", uniqueKey: "k1")
    #expect(again != dead)
    #expect(try f.job(again).state == .queued)

    #expect(
      throws: StoreError.invalidState(
        id: running, state: .running, operation: "delete", allowed: deletableStates)
    ) { try f.store.delete(DeleteParams(id: running)) }
    #expect(throws: StoreError.noSuchJob(dead)) { try f.store.delete(DeleteParams(id: dead)) }
    // The newest job's row keeps its id from being reused: refused, and the job stays.
    try f.store.delete(DeleteParams(id: newest))
    let error = #expect(throws: StoreError.self) { try f.store.delete(DeleteParams(id: again)) }
    #expect(error?.kind == .conflict)
    #expect("\(error.map { "\($0)" } ?? "")".contains("newest job"))
    #expect(try f.job(again).state == .queued)
    #expect(try f.store.job(newest) == nil)
    #expect(try f.store.counts() == f.scanCounts())
  }

  @Test(arguments: StoreKind.allCases)
  func aClaimRecordsEachJobsWorkerInClaimOrder(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let low = try f.add(priority: 0)
    let high = try f.add(priority: 5)
    let mid = try f.add(priority: 2)
    let claimed = try f.store.apply(
      StoreBatch(
        claims: [ClaimParams(types: ["email"], workers: [10, 11, 10, 11])], now: f.at(1))
    ).claimed[0]
    #expect(claimed.map(\.id) == [high, mid, low], "claim order")
    #expect(try f.job(high).workerPID == 10)
    #expect(try f.job(mid).workerPID == 11)
    #expect(try f.job(low).workerPID == 10)
  }

  @Test(arguments: StoreKind.allCases)
  func aFinishCarriesTheHandlersStartTime(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    #expect(try f.job(id).startedAt == StoreFixture.t0, "claimed: the claim's time for now")
    let handlerStart = f.at(0.000_137)
    _ = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: id, settlement: .outcome(.completed), startedAt: handlerStart)],
        promoteDue: false, now: f.at(1)))
    #expect(try f.job(id).startedAt == handlerStart)
    // A failure that retries records its attempt's start too; a finish without one keeps it.
    let other = try f.running("other")
    _ = try f.store.apply(
      StoreBatch(
        finishes: [
          FinishParams(id: other, settlement: .outcome(.retryable("x")), startedAt: f.at(0.5))
        ], promoteDue: false, now: f.at(1)))
    #expect(try f.job(other).startedAt == f.at(0.5))
    let third = try f.running("third")
    try f.finish(third, .failed("worker 1 exited on signal 9"), now: f.at(2))
    #expect(try f.job(third).startedAt == StoreFixture.t0)
  }

  @Test(arguments: StoreKind.allCases)
  func retryRefusesLiveAndCompletedJobsClearly(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let done = try f.completed()
    let error = #expect(throws: StoreError.self) { try f.store.retry(RetryParams(id: done)) }
    #expect(
      error
        == .invalidState(
          id: done, state: .completed, operation: "retry", allowed: [.dead, .cancelled]))
    #expect(
      error?.description
        == "cannot retry job \(done): it is completed (only dead or cancelled jobs can be)")
    let queued = try f.add("q")
    let running = try f.running("r")
    let scheduled = try f.add("s", runAt: f.at(60))
    for (id, state) in [(queued, JobState.queued), (running, .running), (scheduled, .scheduled)] {
      #expect(
        throws: StoreError.invalidState(
          id: id, state: state, operation: "retry", allowed: [.dead, .cancelled])
      ) {
        try f.store.retry(RetryParams(id: id))
      }
    }
    #expect(throws: StoreError.noSuchJob(777)) { try f.store.retry(RetryParams(id: 777)) }
  }

  @Test(arguments: StoreKind.allCases)
  func retryGrantsTheBudgetAgainAndKeepsTheHistory(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.add(maxAttempts: 2)
    var now = StoreFixture.t0
    for n in 1...2 {
      _ = try f.claim(now: now)
      try f.finish(id, .outcome(.retryable("fail \(n)")), now: now)
      now = try f.job(id).runAt.adding(.seconds(1))
    }
    #expect(try f.job(id).state == .dead)
    let retried = try f.store.retry(RetryParams(id: id, now: f.at(500)))
    #expect(retried.state == .queued)
    #expect(retried.attempts == 2)
    #expect(retried.maxAttempts == 4)
    #expect(retried.runAt == f.at(500))
    #expect(retried.finishedAt == nil)
    #expect(retried.errors.map(\.message) == ["fail 1", "fail 2"])
    #expect(try f.job(id) == retried)
    now = f.at(500)
    for n in 3...4 {
      #expect(try f.claim(now: now).map(\.attempt) == [n])
      try f.finish(id, .outcome(.retryable("fail \(n)")), now: now)
      now = try f.job(id).runAt.adding(.seconds(1))
    }
    let job = try f.job(id)
    #expect(job.state == .dead)
    #expect(job.attempts == 4)
    #expect(job.errors.map(\.attempt) == [1, 2, 3, 4])
  }

  @Test(arguments: StoreKind.allCases)
  func retryOfACancelledJobClearsTheRequest(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let never = try f.add(maxAttempts: 3)
    _ = try f.store.cancel(CancelParams(id: never))
    let again = try f.store.retry(RetryParams(id: never))
    #expect(again.state == .queued)
    #expect(again.maxAttempts == 3)
    let ran = try f.running("r", maxAttempts: 3)
    _ = try f.store.cancel(CancelParams(id: ran))
    try f.finish(ran, .outcome(.cancelled))
    let back = try f.store.retry(RetryParams(id: ran))
    #expect(back.state == .queued)
    #expect(back.cancelRequested == false)
    #expect(back.attempts == 1)
    #expect(back.maxAttempts == 4)
    #expect(back.progress == 0)
  }

  @Test(arguments: StoreKind.allCases)
  func retryRefusesAKeyHeldByAnotherLiveJob(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let old = try f.dead(uniqueKey: "k")
    let holder = try f.add(uniqueKey: "k")
    #expect(holder != old)
    #expect(throws: StoreError.uniqueKeyTaken(id: old, key: "k", holder: holder)) {
      try f.store.retry(RetryParams(id: old))
    }
    #expect(try f.store.requeueDead(RequeueDeadParams()) == 0)
    #expect(throws: StoreError.uniqueKeyTaken(id: old, key: "k", holder: holder)) {
      try f.store.requeueDead(RequeueDeadParams(ids: [old]))
    }
    #expect(try f.job(old).state == .dead)
    _ = try f.store.cancel(CancelParams(id: holder))
    #expect(try f.store.retry(RetryParams(id: old)).state == .queued)
    #expect(try f.add(uniqueKey: "k") == old)
  }

  @Test(arguments: StoreKind.allCases)
  func requeueDeadAllOrSomeIDs(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let d1 = try f.dead("a")
    let d2 = try f.dead("b")
    let d3 = try f.dead("c")
    let done = try f.completed("x")
    #expect(try f.store.requeueDead(RequeueDeadParams(ids: [d2, d2], now: f.at(5))) == 1)
    #expect(try f.job(d2).state == .queued)
    #expect(try f.job(d2).runAt == f.at(5))
    // Strict with ids: one bad id and nothing moves.
    #expect(
      throws: StoreError.invalidState(
        id: done, state: .completed, operation: "requeue", allowed: [.dead])
    ) {
      try f.store.requeueDead(RequeueDeadParams(ids: [d1, done]))
    }
    #expect(throws: StoreError.noSuchJob(5555)) {
      try f.store.requeueDead(RequeueDeadParams(ids: [d1, 5555]))
    }
    #expect(try f.job(d1).state == .dead)
    #expect(try f.store.requeueDead(RequeueDeadParams()) == 2)
    for id in [d1, d3] {
      let job = try f.job(id)
      #expect(job.state == .queued)
      #expect(job.maxAttempts == 21)
    }
    #expect(try f.store.requeueDead(RequeueDeadParams()) == 0)
    #expect(try f.job(done).state == .completed)
  }

  @Test(arguments: StoreKind.allCases)
  func rescueOfUnleasedJobsRequeuesWithoutSpendingAnAttempt(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.running("a", maxAttempts: 1)
    let place = try f.job(a).runAt
    let b = try f.running("b")
    let queued = try f.add("q")
    let scheduled = try f.add("s", runAt: f.at(60))
    _ = try f.store.cancel(CancelParams(id: b))
    let message = "supervisor 311 exited; job rescued"
    // Claimed without an owner: no lease protects them.
    let rescued = try f.store.rescueExpired(RescueParams(message: message, now: f.at(9)))
    #expect(
      rescued == [
        RescuedJob(id: a, type: "a", state: .queued, attempt: 1),
        RescuedJob(id: b, type: "b", state: .cancelled, attempt: 1),
      ])
    let ja = try f.job(a)
    #expect(ja.state == .queued)
    #expect(ja.attempts == 0)
    #expect(ja.runAt == place)
    #expect(ja.errors == [JobError(attempt: 1, message: message, at: f.at(9), workerPID: 4121)])
    let jb = try f.job(b)
    #expect(jb.state == .cancelled)
    #expect(jb.finishedAt == f.at(9))
    #expect(try f.job(queued).state == .queued)
    #expect(try f.job(scheduled).state == .scheduled)
    #expect(try f.store.rescueExpired(RescueParams(message: message)).isEmpty)
    #expect(try f.claim(["a"], now: f.at(10)).map(\.attempt) == [1])
  }

  @Test(arguments: StoreKind.allCases)
  func pruneHonoursBothRetentions(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let oldDone = try f.completed("a", now: f.at(10))
    let newDone = try f.completed("b", now: f.at(100))
    let oldCancelled = try f.add("c")
    _ = try f.store.cancel(CancelParams(id: oldCancelled, now: f.at(10)))
    let deadRecent = try f.running("d")
    try f.finish(deadRecent, .outcome(.permanent("x")), now: f.at(50))
    let deadAncient = try f.running("e")
    try f.finish(deadAncient, .outcome(.permanent("y")), now: f.at(1))
    let queued = try f.add("q")
    let failing = try f.running("r", maxAttempts: 5)
    try f.finish(failing, .outcome(.retryable("z")), now: f.at(2))
    let deleted = try f.store.prune(PruneParams(completedBefore: f.at(60), deadBefore: f.at(20)))
    #expect(deleted == 3)
    for id in [oldDone, oldCancelled, deadAncient] { #expect(try f.store.job(id) == nil) }
    for id in [newDone, deadRecent, queued, failing] { #expect(try f.store.job(id) != nil) }
    #expect(try f.job(failing).errors.count == 1)
    #expect(try f.store.prune(PruneParams(completedBefore: f.at(60), deadBefore: f.at(20))) == 0)
  }
}
