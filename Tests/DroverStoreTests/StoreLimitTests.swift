import DroverCore
import DroverStore
import Testing

/// Limits: jobs a key cannot start stay `queued`, held out of the claim order (never claimed
/// and put back, no attempt spent), and are released by the commit that frees a slot or when
/// the key's bucket refills, on every driver.
@Suite struct StoreLimitTests {
  static let concurrency = PoolLimits(
    pool: "email", types: ["email"], keyField: "account", concurrency: 2)
  static let rate = PoolLimits(
    pool: "email", types: ["email"], rate: RateLimit(limit: 2, per: .seconds(1)))

  /// One group commit with the pool's limits (nil: a pool without limits): finishes, then a
  /// claim of `limit` jobs.
  @discardableResult
  func commit(
    _ f: StoreFixture, _ limits: PoolLimits?, claim limit: Int = 10,
    finishes: [FinishParams] = [], at now: Timestamp = StoreFixture.t0, sweep: Bool = false
  ) throws -> BatchResult {
    let workers = [Int32](repeating: 4121, count: limit)
    var batch = StoreBatch(
      finishes: finishes, claims: [ClaimParams(types: ["email"], workers: workers, limits: limits)],
      now: now)
    batch.limits = limits.map { [$0] } ?? []
    batch.sweepLimits = sweep
    return try f.store.apply(batch)
  }

  func add(_ f: StoreFixture, _ account: String, key: String? = nil) throws -> JobID {
    try f.store.enqueue([
      EnqueueParams(
        type: "email", payload: "{\"account\": \"\(account)\"}", now: StoreFixture.t0,
        limitKey: key)
    ])[0].id
  }

  func expectCounts(_ f: StoreFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try f.store.counts() == f.scanCounts(), sourceLocation: sourceLocation)
  }

  @Test(arguments: StoreKind.allCases)
  func aFullKeyHoldsItsJobsAndAFinishReleasesExactlyOne(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a1 = try add(f, "a")
    let a2 = try add(f, "a")
    let a3 = try add(f, "a")
    let b1 = try add(f, "b")
    let a4 = try add(f, "a")
    let b2 = try add(f, "b")
    let first = try commit(f, Self.concurrency).claimed[0].map(\.id)
    #expect(first == [a1, a2, b1, b2])
    for id in [a3, a4] {
      let j = try f.job(id)
      #expect(j.state == .queued && j.held && j.attempts == 0 && j.limitKey == "a")
    }
    #expect(try f.job(a1).limitKey == "a" && f.job(b1).limitKey == "b")
    // Held jobs are not in the claim order: nothing to claim, nothing walked.
    #expect(try commit(f, Self.concurrency).claimed[0].isEmpty)
    let state = try f.store.limitState(
      Self.concurrency, key: "a", now: StoreFixture.t0, cap: 100)
    #expect(state.running == 2 && state.held == 2)
    // A's first job ends (its worker died: a failed attempt): one slot, one job released and
    // claimed in the same commit, in claim order.
    let r = try commit(
      f, Self.concurrency,
      finishes: [FinishParams(id: a1, settlement: .failed("worker died"), workerPID: 4121)])
    #expect(r.claimed[0].map(\.id) == [a3])
    #expect(r.limitWork == ["email"])
    #expect(try f.job(a4).held)
    // A completion frees the other slot.
    let r2 = try commit(
      f, Self.concurrency, finishes: [FinishParams(id: a2, settlement: .outcome(.completed))])
    #expect(r2.claimed[0].map(\.id) == [a4])
    #expect(try f.job(a4).state == .running && !f.job(a4).held)
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func anEmptyBucketHoldsUntilItsNextTokenWithoutPolling(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try (0..<3).map { _ in try add(f, "x") }
    let r = try commit(f, Self.rate)
    #expect(r.claimed[0].map(\.id) == [ids[0]])
    // 2 per second: the next token is due half a second later, and the commit says so.
    #expect(r.nextLimitAt == f.at(0.5))
    #expect(try f.job(ids[1]).held && f.job(ids[2]).held)
    #expect(try commit(f, Self.rate, at: f.at(0.4)).claimed[0].isEmpty)
    let r2 = try commit(f, Self.rate, at: f.at(0.5))
    #expect(r2.claimed[0].map(\.id) == [ids[1]])
    #expect(r2.nextLimitAt == f.at(1.0))
    #expect(try commit(f, Self.rate, at: f.at(1.0)).claimed[0].map(\.id) == [ids[2]])
    #expect(try commit(f, Self.rate, at: f.at(1.0)).nextLimitAt == nil)
    // Attempts are spent only by attempts that ran: none of the holds counted.
    for id in ids { #expect(try f.job(id).attempts == 0) }
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func aRateLimitedOutcomePushesTheKeysBucketBackAndKeepsTheJobsPlace(_ kind: StoreKind)
    throws
  {
    let f = try StoreFixture(kind)
    let a1 = try add(f, "a")
    #expect(try commit(f, Self.concurrency).claimed[0].map(\.id) == [a1])
    let a2 = try add(f, "a")
    let b1 = try add(f, "b")
    let r = try commit(
      f, Self.concurrency,
      finishes: [FinishParams(id: a1, settlement: .outcome(.rateLimited(.seconds(10))))],
      at: f.at(1))
    #expect(r.finished[0].state == .queued)
    #expect(r.claimed[0].map(\.id) == [b1])
    #expect(r.nextLimitAt == f.at(11))
    let j = try f.job(a1)
    #expect(j.state == .queued && j.held && j.attempts == 0 && j.snoozes == 0)
    #expect(j.runAt == StoreFixture.t0)
    #expect(try f.job(a2).held)
    #expect(try commit(f, Self.concurrency, at: f.at(10.9)).claimed[0].isEmpty)
    // Block over: a1 first (it kept its place), then a2.
    #expect(try commit(f, Self.concurrency, at: f.at(11)).claimed[0].map(\.id) == [a1, a2])
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func anEnqueuedKeyWinsOverThePayloadAndAMissingFieldIsThePoolsKey(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let one = PoolLimits(pool: "email", types: ["email"], keyField: "account", concurrency: 1)
    let a = try add(f, "a")
    let forced = try add(f, "b", key: "a")
    let none = try f.store.enqueue([EnqueueParams(type: "email", now: StoreFixture.t0)])[0].id
    let none2 = try f.store.enqueue([EnqueueParams(type: "email", now: StoreFixture.t0)])[0].id
    #expect(try commit(f, one).claimed[0].map(\.id) == [a, none])
    #expect(try f.job(forced).held && f.job(forced).limitKey == "a")
    #expect(try f.job(none2).held && f.job(none2).limitKey == "")
  }

  @Test(arguments: StoreKind.allCases)
  func oneClaimHoldsABoundedNumberAndTheNextGoesOn(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let one = PoolLimits(pool: "email", types: ["email"], keyField: "account", concurrency: 1)
    let many = (0..<600).map { _ in
      EnqueueParams(type: "email", payload: "{\"account\": \"a\"}", now: StoreFixture.t0)
    }
    _ = try f.store.enqueue(many)
    let b = try add(f, "b")
    let r1 = try commit(f, one, claim: 2)
    #expect(r1.claimed[0].count == 1)
    #expect(r1.limitWork.contains("email"))
    let r2 = try commit(f, one, claim: 2)
    #expect(r2.claimed[0].map(\.id) == [b])
    #expect(try f.store.limitState(one, key: "a", now: StoreFixture.t0, cap: 10_000).held == 599)
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func aSweepLetsGoTheJobsOfAPoolNoLongerLimited(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try (0..<4).map { _ in try add(f, "a") }
    #expect(try commit(f, Self.concurrency).claimed[0].count == 2)
    #expect(try f.job(ids[3]).held)
    // The config lost its limit: the sweep puts the held jobs back in the claim order.
    let r = try commit(f, nil, sweep: true)
    #expect(r.claimed[0].map(\.id) == [ids[2], ids[3]])
    try expectCounts(f)
  }

  @Test(arguments: StoreKind.allCases)
  func aRetriedJobIsNotLeftHeld(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try (0..<3).map { _ in try add(f, "a") }
    #expect(try commit(f, Self.concurrency).claimed[0].count == 2)
    #expect(try f.job(ids[2]).held)
    _ = try f.store.cancel(CancelParams(id: ids[2]))
    _ = try f.store.retry(RetryParams(id: ids[2]))
    let j = try f.job(ids[2])
    #expect(j.state == .queued && !j.held)
    try expectCounts(f)
  }
}

/// Results: kept with a completed job by the finish that completes it, on every driver.
@Suite struct StoreResultTests {
  @Test(arguments: StoreKind.allCases)
  func aCompletionKeepsItsResultAndAFailureKeepsNone(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.add()
    let b = try f.add()
    let claimed = try f.claim(limit: 2).map(\.id)
    #expect(claimed == [a, b])
    let r = try f.store.apply(
      StoreBatch(
        finishes: [
          FinishParams(id: a, settlement: .outcome(.completed), result: #"{"sum":5}"#),
          FinishParams(
            id: b, settlement: .outcome(.permanent("no")), result: #"{"ignored":true}"#),
        ], promoteDue: false, now: StoreFixture.t0))
    #expect(r.finished.map(\.state) == [.completed, .dead])
    #expect(try f.job(a).result == #"{"sum":5}"#)
    #expect(try f.job(b).result == nil)
  }
}
