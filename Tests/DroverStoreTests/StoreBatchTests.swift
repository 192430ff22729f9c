import DroverCore
import DroverStore
import DroverTestSupport
import Testing

/// Batches of the size a busy supervisor commits: the set-based claims and completions (a
/// statement per 64 jobs) must settle each job exactly as one-by-one would.
@Suite struct StoreBatchTests {
  /// Counts per type and state without the zeros.
  private func nonZero(_ c: [String: [JobState: Int]]) -> [String: [JobState: Int]] {
    c.mapValues { $0.filter { $0.value != 0 } }.filter { !$0.value.isEmpty }
  }

  /// Enqueues `n` jobs of `type` with distinct priorities' order kept by id.
  private func enqueue(_ f: StoreFixture, _ n: Int, type: String = "email") throws -> [JobID] {
    try f.store.enqueue(
      (0..<n).map { _ in EnqueueParams(type: type, now: StoreFixture.t0) }
    ).map(\.id)
  }

  @Test(arguments: StoreKind.allCases)
  func aClaimOfManyRecordsEachJobsWorker(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try enqueue(f, 150)
    // 150 = 64 + 64 + 16 + 4 + 2: every statement size the claim uses.
    let workers = (0..<150).map { Int32(5000 + $0 % 7) }
    let claimed = try f.store.apply(
      StoreBatch(claims: [ClaimParams(types: ["email"], workers: workers)], now: f.at(1))
    ).claimed[0]
    #expect(claimed.map(\.id) == ids)
    for (i, job) in claimed.enumerated() {
      let row = try f.job(job.id)
      #expect(row.state == .running)
      #expect(row.workerPID == workers[i], "job \(i) of the claim")
      #expect(row.startedAt == f.at(1))
    }
    let scanned = try nonZero(f.scanCounts())
    #expect(scanned == ["email": [.running: 150]])
  }

  @Test(arguments: StoreKind.allCases)
  func manyCompletionsInOneBatchSettleEachJob(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try enqueue(f, 131)
    _ = try f.store.apply(
      StoreBatch(claims: [ClaimParams(types: ["email"], limit: 131, workerPID: 7)], now: f.at(1)))
    let done = try f.completed("email")
    let unknown: JobID = 9_999_999
    var finishes = ids.enumerated().map { i, id in
      FinishParams(
        id: id, settlement: .outcome(.completed), workerPID: Int32(6000 + i),
        startedAt: i % 2 == 0 ? f.at(2) : nil, result: i == 3 ? #"{"sent":"a\"b"}"# : nil,
        usage: i % 3 == 0 ? JobUsage(cpuSeconds: Double(i) / 1000, peakRSS: Int64(i) << 20) : nil)
    }
    finishes.insert(FinishParams(id: unknown, settlement: .outcome(.completed)), at: 40)
    finishes.insert(FinishParams(id: done, settlement: .outcome(.completed)), at: 90)
    let result = try f.store.apply(
      StoreBatch(finishes: finishes, promoteDue: false, now: f.at(3)))
    #expect(result.finished.count == finishes.count)
    for (r, fin) in zip(result.finished, finishes) {
      #expect(r.id == fin.id)
      if fin.id == unknown || fin.id == done {
        #expect(r.state == nil && r.attempt == 0, "ignored: \(fin.id)")
      } else {
        #expect(r == FinishResult(id: fin.id, state: .completed, attempt: 1, type: "email"))
      }
    }
    for (i, id) in ids.enumerated() {
      let job = try f.job(id)
      #expect(job.state == .completed)
      #expect(job.attempts == 1)
      #expect(job.progress == 100)
      #expect(job.finishedAt == f.at(3))
      #expect(job.workerPID == Int32(6000 + i))
      #expect(job.startedAt == (i % 2 == 0 ? f.at(2) : f.at(1)), "job \(i)")
      #expect(job.result == (i == 3 ? #"{"sent":"a\"b"}"# : nil))
      #expect(job.cpuSeconds == (i % 3 == 0 ? Double(i) / 1000 : nil), "job \(i)")
      #expect(job.peakRSS == (i % 3 == 0 ? Int64(i) << 20 : nil), "job \(i)")
    }
    let scanned = try nonZero(f.scanCounts())
    #expect(scanned == ["email": [.completed: 132]])
    #expect(try f.store.stats()[.completed] == 132)
  }

  @Test(arguments: StoreKind.allCases)
  func aJobFinishedTwiceInOneBatchTakesTheFirst(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.add(maxAttempts: 5)
    let b = try f.add(maxAttempts: 5)
    let c = try f.add(maxAttempts: 5)
    _ = try f.claim(limit: 3)
    let result = try f.store.apply(
      StoreBatch(
        finishes: [
          FinishParams(id: a, settlement: .outcome(.completed)),
          FinishParams(id: b, settlement: .outcome(.retryable("smtp 421")), jitter: 0),
          FinishParams(id: a, settlement: .outcome(.retryable("late"))),
          FinishParams(id: b, settlement: .outcome(.completed)),
          FinishParams(id: c, settlement: .outcome(.completed)),
          FinishParams(id: c, settlement: .outcome(.completed)),
        ], promoteDue: false, now: f.at(2)))
    #expect(result.finished.map(\.state) == [.completed, .queued, nil, nil, .completed, nil])
    #expect(try f.job(a).state == .completed)
    #expect(try f.job(a).errors.isEmpty)
    #expect(try f.job(b).state == .queued)
    #expect(try f.job(b).errors.map(\.message) == ["smtp 421"])
    #expect(try f.job(c).state == .completed)
    #expect(try f.job(c).attempts == 1)
    let scanned = try nonZero(f.scanCounts())
    #expect(scanned == ["email": [.completed: 2, .queued: 1]])
  }

  @Test(arguments: StoreKind.allCases)
  func completionsOfJobsNotHeldByTheOwnerAreIgnored(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try enqueue(f, 70)
    // Claimed with no owner (no lease): an owner's batch must not settle them.
    _ = try f.claim(limit: 70)
    let owner = try f.store.openSession(SessionParams(name: "t", pid: 1, lease: .seconds(60)))
    let result = try f.store.apply(
      StoreBatch(
        finishes: ids.map { FinishParams(id: $0, settlement: .outcome(.completed)) },
        promoteDue: false, now: f.at(2), owner: owner))
    #expect(result.finished.allSatisfy { $0.state == nil })
    let scanned = try nonZero(f.scanCounts())
    #expect(scanned == ["email": [.running: 70]])
    try f.store.closeSession(owner)
  }

  @Test(arguments: StoreKind.allCases)
  func childrenOfManyParentsSettledInOneBatchAreReleasedOnce(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let parents = try enqueue(f, 100)
    let other = try f.add("report")
    let both = try f.store.enqueue([
      EnqueueParams(
        type: "thumbnail", now: f.at(0), parents: [.job(parents[10]), .job(parents[80])])
    ])[0].id
    let waits = try f.store.enqueue([
      EnqueueParams(type: "thumbnail", now: f.at(0), parents: [.job(parents[5]), .job(other)])
    ])[0].id
    let cancelled = try f.store.enqueue([
      EnqueueParams(type: "thumbnail", now: f.at(0), parents: [.job(parents[99])])
    ])[0].id
    let grandchild = try f.store.enqueue([
      EnqueueParams(type: "thumbnail", now: f.at(0), parents: [.job(cancelled)])
    ])[0].id
    _ = try f.claim(limit: 100)
    var finishes = parents.map { FinishParams(id: $0, settlement: .outcome(.completed)) }
    finishes[99] = FinishParams(id: parents[99], settlement: .outcome(.permanent("bad")))
    let result = try f.store.apply(
      StoreBatch(finishes: finishes, promoteDue: false, now: f.at(2)))
    #expect(result.finished.filter { $0.state == .completed }.count == 99)
    #expect(try f.job(both).state == .queued)
    #expect(try f.job(waits).state == .waiting)
    #expect(try f.job(cancelled).state == .cancelled)
    #expect(try f.job(grandchild).state == .cancelled)
    let scanned = try nonZero(f.scanCounts())
    #expect(
      scanned == [
        "email": [.completed: 99, .dead: 1], "report": [.queued: 1],
        "thumbnail": [.queued: 1, .waiting: 1, .cancelled: 2],
      ])
    #expect(try nonZero(f.store.counts()) == scanned)
  }

  /// `drover bench commit` (and so `scripts/callgrind.sh`) drains every job, a turn per
  /// 2 × 4 claimed plus the last one that finds none.
  @Test func theCommitBenchDrainsEveryJobInFixedTurns() throws {
    let dir = try TempDirectory(prefix: "drover-bench")
    let (_, turns) = try StoreBenchmark.drainTurns(
      path: dir.file("bench.db"), jobs: 500, workers: 2, perClaim: 4)
    #expect(turns == 500 / 8 + 2)
  }
}
