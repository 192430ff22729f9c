import DroverCore
import DroverStore
import Testing

/// Enqueue, read, schedule and claim: the behaviour every driver must share.
@Suite struct StoreConformanceTests {
  @Test(arguments: StoreKind.allCases)
  func enqueueRoundTripsEveryField(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let backoff = BackoffPolicy(base: .milliseconds(2500), cap: .seconds(90))
    let results = try f.store.enqueue([
      EnqueueParams(
        type: "email", payload: #"{"to":"a@example.com","n":1}"#, priority: 5,
        runAt: StoreFixture.t0, maxAttempts: 7, uniqueKey: "welcome-42", backoff: backoff,
        now: StoreFixture.t0)
    ])
    #expect(results.count == 1)
    #expect(results[0].existed == false)
    let id = results[0].id
    #expect(id > 0)
    let job = try f.job(id)
    let expected = Job(
      id: id, type: "email", state: .queued, priority: 5, attempts: 0, maxAttempts: 7,
      payload: #"{"to":"a@example.com","n":1}"#, progress: 0, errors: [],
      createdAt: StoreFixture.t0, runAt: StoreFixture.t0, startedAt: nil, finishedAt: nil,
      uniqueKey: "welcome-42", backoff: backoff, cancelRequested: false, workerPID: nil)
    #expect(job == expected)
    #expect(job.createdAt.micros % 1_000_000 == 123_457)
    #expect(try f.store.job(id + 1000) == nil)
  }

  @Test(arguments: StoreKind.allCases)
  func payloadTextIsKeptExactly(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let payload = " {\"emoji\":\"🚚\",\"nul\":\"a\u{0}b\",\"quote\":\"'\\\"\"}"
    let id = try f.add(payload: payload)
    #expect(try f.job(id).payload == payload)
    #expect(try f.claim()[0].payload == payload)
  }

  @Test(arguments: StoreKind.allCases)
  func idsGrowAndAreNeverReused(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.add()
    let b = try f.completed("other")
    #expect(b > a)
    let everything = PruneParams(completedBefore: f.at(60), deadBefore: f.at(60))
    // The newest job stays, whatever its age: it is what keeps its id from coming back.
    #expect(try f.store.prune(everything) == 0)
    #expect(try f.store.job(b) != nil)
    let c = try f.add()
    #expect(c > b)
    #expect(try f.store.prune(everything) == 1)
    #expect(try f.store.job(b) == nil)
    let d = try f.add()
    #expect(d > c)
  }

  @Test(arguments: StoreKind.allCases)
  func invalidJobsAreRefusedAndABatchIsAllOrNothing(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let bad: [EnqueueParams] = [
      EnqueueParams(type: "", now: StoreFixture.t0),
      EnqueueParams(type: "email", payload: "", now: StoreFixture.t0),
      EnqueueParams(type: "email", payload: "[1]", now: StoreFixture.t0),
      EnqueueParams(type: "email", payload: "hello", now: StoreFixture.t0),
      EnqueueParams(type: "email", maxAttempts: 0, now: StoreFixture.t0),
    ]
    for job in bad {
      let batch = [
        EnqueueParams(type: "email", uniqueKey: "first", now: StoreFixture.t0), job,
        EnqueueParams(type: "email", now: StoreFixture.t0),
      ]
      let error = #expect(throws: StoreError.self) { try f.store.enqueue(batch) }
      guard case .invalidInput(let message) = error else {
        Issue.record("expected invalidInput, got \(String(describing: error))")
        continue
      }
      #expect(message.contains("job 2 of 3"))
    }
    #expect(try f.store.stats().values.reduce(0, +) == 0)
    #expect(try f.store.enqueue([]).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func delayedJobIsScheduledThenPromoted(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let due = f.at(30)
    let id = try f.add(runAt: due)
    #expect(try f.job(id).state == .scheduled)
    #expect(try f.job(id).runAt == due)
    #expect(try f.store.nextScheduled() == due)
    #expect(try f.store.backlog(now: f.at(29)).isEmpty)
    #expect(try f.store.backlog(now: due) == ["email": 1])
    #expect(try f.claim(now: f.at(29)).isEmpty)
    #expect(try f.store.apply(StoreBatch(promoteDue: true, now: f.at(29))).promoted == 0)
    #expect(try f.store.apply(StoreBatch(promoteDue: true, now: due)).promoted == 1)
    #expect(try f.job(id).state == .queued)
    #expect(try f.store.nextScheduled() == nil)
  }

  @Test(arguments: StoreKind.allCases)
  func claimPromotesDueJobsInTheSameBatch(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.add(runAt: f.at(10))
    let claimed = try f.claim(now: f.at(10))
    #expect(claimed.map(\.id) == [id])
    #expect(claimed[0].runAt == f.at(10))
  }

  @Test(arguments: StoreKind.allCases)
  func claimOrderIsPriorityThenRunAtThenID(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let now = f.at(100)
    let a = try f.add(priority: 0, runAt: f.at(1), now: now)
    let b = try f.add(priority: 5, runAt: f.at(2), now: now)
    let c = try f.add(priority: 5, runAt: f.at(1), now: now)
    let d = try f.add(priority: 0, runAt: f.at(1), now: now)
    let e = try f.add(priority: -1, runAt: f.at(0), now: now)
    let g = try f.add(priority: 5, runAt: f.at(1), now: now)
    let claimed = try f.claim(limit: 10, now: f.at(200), pid: 77)
    #expect(claimed.map(\.id) == [c, g, b, a, d, e])
    let first = claimed[0]
    #expect(first.type == "email")
    #expect(first.attempt == 1)
    #expect(first.maxAttempts == 20)
    #expect(first.priority == 5)
    #expect(first.runAt == f.at(1))
    let job = try f.job(c)
    #expect(job.state == .running)
    #expect(job.startedAt == f.at(200))
    #expect(job.workerPID == 77)
  }

  @Test(arguments: StoreKind.allCases)
  func multiTypeClaimMergesInClaimOrder(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a1 = try f.add("a", priority: 1, runAt: f.at(3), now: f.at(10))
    let b1 = try f.add("b", priority: 1, runAt: f.at(2), now: f.at(10))
    let a2 = try f.add("a", priority: 0, runAt: f.at(0), now: f.at(10))
    let b2 = try f.add("b", priority: 9, runAt: f.at(5), now: f.at(10))
    try f.add("c", priority: 99, now: f.at(10))
    let claimed = try f.claim(["a", "b", "a"], limit: 3, now: f.at(10))
    #expect(claimed.map(\.id) == [b2, b1, a1])
    #expect(claimed.map(\.type) == ["b", "b", "a"])
    #expect(try f.claim(["a", "b"], limit: 3, now: f.at(10)).map(\.id) == [a2])
    #expect(try f.claim(["a", "b"], limit: 3, now: f.at(10)).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func claimRespectsLimitAndNeverHandsAJobOutTwice(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.enqueue(
      (0..<5).map { _ in EnqueueParams(type: "email", now: StoreFixture.t0) }
    ).map(\.id)
    let result = try f.store.apply(
      StoreBatch(
        claims: [
          ClaimParams(types: ["email"], limit: 2), ClaimParams(types: ["email"], limit: 0),
          ClaimParams(types: [], limit: 5), ClaimParams(types: ["email"], limit: 2),
        ], now: StoreFixture.t0))
    #expect(result.claimed.map(\.count) == [2, 0, 0, 2])
    #expect(result.claimed.flatMap { $0 }.map(\.id) == Array(ids.prefix(4)))
    #expect(try f.claim(limit: 2).map(\.id) == [ids[4]])
    #expect(try f.claim(limit: 2).isEmpty)
    let empty = try f.store.apply(
      StoreBatch(promoteDue: false, claims: [ClaimParams(types: ["email"], limit: 0)]))
    #expect(empty.claimed.map(\.count) == [0])
  }

  @Test(arguments: StoreKind.allCases)
  func progressIsClampedAndOnlyForRunningJobs(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let run = try f.running()
    let queued = try f.add("other")
    func report(_ id: JobID, _ value: Int) throws {
      _ = try f.store.apply(StoreBatch(progress: [(id, value)], promoteDue: false))
    }
    try report(run, 40)
    #expect(try f.job(run).progress == 40)
    try report(run, 150)
    #expect(try f.job(run).progress == 100)
    try report(run, -5)
    #expect(try f.job(run).progress == 0)
    try report(queued, 50)
    #expect(try f.job(queued).progress == 0)
    try report(run, 60)
    try f.finish(run, .outcome(.completed))
    try report(run, 10)
    #expect(try f.job(run).progress == 100)
  }

  @Test(arguments: StoreKind.allCases)
  func uniqueKeyReturnsTheLiveJob(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let first = try f.store.enqueue([
      EnqueueParams(type: "email", uniqueKey: "k", now: StoreFixture.t0),
      EnqueueParams(type: "email", uniqueKey: "k", now: StoreFixture.t0),
      EnqueueParams(type: "email", uniqueKey: "other", now: StoreFixture.t0),
    ])
    #expect(first[0].existed == false)
    #expect(first[1] == EnqueueResult(id: first[0].id, existed: true))
    #expect(first[2].existed == false)
    // Scheduled, queued and running all hold the key.
    let again = try f.store.enqueue([EnqueueParams(type: "email", uniqueKey: "k")])
    #expect(again == [EnqueueResult(id: first[0].id, existed: true)])
    _ = try f.claim(limit: 10)
    #expect(try f.add(uniqueKey: "k") == first[0].id)
    let delayed = try f.add(runAt: f.at(60), uniqueKey: "later")
    #expect(try f.add(uniqueKey: "later") == delayed)
  }

  @Test(arguments: StoreKind.allCases)
  func uniqueKeyIsFreeAgainOnceTheJobIsFinal(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let done = try f.completed(uniqueKey: "k")
    let second = try f.store.enqueue([EnqueueParams(type: "email", uniqueKey: "k")])[0]
    #expect(second.existed == false)
    #expect(second.id != done)
    _ = try f.claim(limit: 10)
    try f.finish(second.id, .outcome(.permanent("no")))
    #expect(try f.job(second.id).state == .dead)
    let third = try f.store.enqueue([EnqueueParams(type: "email", uniqueKey: "k")])[0]
    #expect(third.existed == false)
    #expect(try f.store.cancel(CancelParams(id: third.id)) == .cancelled)
    #expect(try f.store.enqueue([EnqueueParams(type: "email", uniqueKey: "k")])[0].existed == false)
  }

  @Test(arguments: StoreKind.allCases)
  func statsCountEveryState(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    #expect(
      try f.store.stats() == Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) }))
    try f.add("s", runAt: f.at(60))
    try f.add("q")
    try f.add("q")
    _ = try f.running("r")
    _ = try f.completed("c")
    _ = try f.dead("d")
    _ = try f.store.cancel(CancelParams(id: try f.add("x")))
    _ = try f.store.enqueue([EnqueueParams(type: "w", now: StoreFixture.t0, parents: [.job(1)])])
    #expect(
      try f.store.stats() == [
        .waiting: 1, .scheduled: 1, .queued: 2, .running: 1, .completed: 1, .cancelled: 1,
        .dead: 1,
      ])
  }

  @Test(arguments: StoreKind.allCases)
  func backlogCountsQueuedAndDueScheduledPerType(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    try f.add("a")
    try f.add("a", runAt: f.at(10))
    try f.add("a", runAt: f.at(20))
    try f.add("b")
    _ = try f.running("c")
    #expect(try f.store.backlog(now: f.at(0)) == ["a": 1, "b": 1])
    #expect(try f.store.backlog(now: f.at(10)) == ["a": 2, "b": 1])
    #expect(try f.store.backlog(now: f.at(20)) == ["a": 3, "b": 1])
    #expect(try f.store.nextScheduled() == f.at(10))
  }

  @Test(arguments: StoreKind.allCases)
  func listFiltersNewestFirstWithErrors(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let a = try f.add("a")
    let b = try f.add("b")
    let c = try f.add("a")
    let d = try f.dead("d")
    #expect(try f.store.list(ListParams()).map(\.id) == [d, c, b, a])
    #expect(try f.store.list(ListParams(limit: 2)).map(\.id) == [d, c])
    #expect(try f.store.list(ListParams(type: "a")).map(\.id) == [c, a])
    #expect(try f.store.list(ListParams(state: .queued, type: "b")).map(\.id) == [b])
    #expect(try f.store.list(ListParams(state: .running)).isEmpty)
    let dead = try f.store.list(ListParams(state: .dead))
    #expect(dead.map(\.id) == [d])
    #expect(dead[0].errors.map(\.message) == ["bad input"])
    #expect(throws: StoreError.self) { try f.store.list(ListParams(limit: 0)) }
  }

  @Test(arguments: StoreKind.allCases)
  func listEveryStateWithAndWithoutType(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    var byState: [JobState: [JobID]] = [:]
    for type in ["x", "y"] {
      byState[.completed, default: []].append(try f.completed(type))
      byState[.dead, default: []].append(try f.dead(type))
      let cancelled = try f.add(type)
      _ = try f.store.cancel(CancelParams(id: cancelled))
      byState[.cancelled, default: []].append(cancelled)
      byState[.running, default: []].append(try f.running(type))
      byState[.scheduled, default: []].append(try f.add(type, runAt: f.at(60)))
      let queued = try f.add(type)
      byState[.queued, default: []].append(queued)
      let waiting = try f.store.enqueue([
        EnqueueParams(type: type, now: StoreFixture.t0, parents: [.job(queued)])
      ])[0].id
      byState[.waiting, default: []].append(waiting)
    }
    for state in JobState.allCases {
      let ids = byState[state] ?? []
      #expect(try f.store.list(ListParams(state: state)).map(\.id) == ids.reversed(), "\(state)")
      #expect(try f.store.list(ListParams(state: state, limit: 1)).map(\.id) == [ids[1]])
      #expect(try f.store.list(ListParams(state: state, type: "x")).map(\.id) == [ids[0]])
      #expect(try f.store.list(ListParams(state: state, type: "z")).isEmpty)
    }
    #expect(try f.store.list(ListParams(type: "y")).count == 7)
  }
}
