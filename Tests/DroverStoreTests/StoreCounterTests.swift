import DroverCore
import DroverStore
import Testing

/// The per-type counters behind `stats`, `counts` and `backlog` always equal a full scan,
/// whatever happened to the jobs: every driver must keep them in the transactions that change
/// states.
@Suite struct StoreCounterTests {
  @Test(arguments: StoreKind.allCases, [1, 2, 3])
  func countersMatchAScanAfterAChaosRun(_ kind: StoreKind, seed: UInt64) throws {
    let f = try StoreFixture(kind)
    var rng = SplitMix64(seed: seed)
    let types = ["email", "thumb", "report"]
    var now = StoreFixture.t0
    var owner: OwnerID? = try f.store.openSession(
      SessionParams(name: "chaos", pid: 311, lease: .seconds(20), now: now))
    var seen: [JobID] = []

    func settlement() -> Settlement {
      switch rng.below(9) {
      case 0, 1: .outcome(.completed)
      case 2: .outcome(.retryable("flaky"))
      case 3: .outcome(.permanent("bad"))
      case 4: .outcome(.snooze(rng.below(2) == 0 ? .zero : .seconds(5)))
      case 5: .outcome(.cancelled)
      case 6: .failed("worker exited on signal 9")
      case 7: .interrupted("drain")
      default: .released
      }
    }
    func running() throws -> [JobID] {
      try f.store.list(ListParams(state: .running, limit: 10_000)).map(\.id)
    }
    func check(_ step: Int) throws {
      let scanned = try f.scanCounts()
      #expect(try f.store.counts() == scanned, "seed \(seed), step \(step)")
      var byState = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
      for states in scanned.values { for (s, n) in states { byState[s, default: 0] += n } }
      #expect(try f.store.stats() == byState, "seed \(seed), step \(step)")
      var ready: [String: Int] = [:]
      for job in try f.store.list(ListParams(limit: 10_000))
      where job.state == .queued || (job.state == .scheduled && job.runAt <= now) {
        ready[job.type, default: 0] += 1
      }
      #expect(try f.store.backlog(now: now) == ready, "seed \(seed), step \(step)")
    }

    for step in 0..<300 {
      now = now.adding(.milliseconds(Int64(rng.below(3000))))
      switch rng.below(12) {
      case 0, 1, 2:
        let jobs = (0..<1 + rng.below(5)).map { _ in
          EnqueueParams(
            type: types[rng.below(types.count)], priority: rng.below(3),
            runAt: rng.below(3) == 0 ? now.adding(.seconds(Int64(rng.below(10)))) : now,
            maxAttempts: 1 + rng.below(3),
            uniqueKey: rng.below(4) == 0 ? "key-\(rng.below(6))" : nil, now: now)
        }
        seen += try f.store.enqueue(jobs).map(\.id)
      case 3, 4, 5:
        let settle = try running().filter { _ in rng.below(2) == 0 }
        let result = try f.store.apply(
          StoreBatch(
            finishes: settle.map {
              FinishParams(id: $0, settlement: settlement(), jitter: rng.unit())
            },
            progress: settle.prefix(2).map { ($0, rng.below(101)) },
            promoteDue: rng.below(2) == 0,
            claims: [
              ClaimParams(types: [types[rng.below(3)]], limit: rng.below(4)),
              ClaimParams(types: types, limit: rng.below(4)),
            ], now: now, owner: rng.below(3) == 0 ? nil : owner))
        seen += result.claimed.flatMap { $0.map(\.id) }
      case 6:
        if let id = seen.randomElement(using: &rng) {
          _ = try? f.store.cancel(CancelParams(id: id, now: now))
        }
      case 7:
        if let id = seen.randomElement(using: &rng) {
          _ = try? f.store.retry(RetryParams(id: id, now: now))
        }
        if rng.below(3) == 0 { _ = try f.store.requeueDead(RequeueDeadParams(now: now)) }
      case 8:
        // Sometimes far enough ahead that this run's own lease has run out.
        let at = now.adding(.seconds(rng.below(4) == 0 ? 30 : 0))
        _ = try f.store.rescueExpired(RescueParams(message: "rescued", now: at))
        if let o = owner {
          do throws(StoreError) {
            try f.store.renewLease(LeaseParams(owner: o, lease: .seconds(20), now: now))
          } catch {
            try f.store.closeSession(o)
            owner = try f.store.openSession(
              SessionParams(name: "chaos", pid: 311, lease: .seconds(20), now: now))
          }
        }
      case 9:
        _ = try f.store.prune(
          PruneParams(
            completedBefore: now.adding(.seconds(-Int64(rng.below(20)))),
            deadBefore: now.adding(.seconds(-Int64(rng.below(20)))), limit: 1 + rng.below(4)))
      case 10:
        let state: JobState = rng.below(2) == 0 ? .queued : .scheduled
        try f.foreignInsert(
          type: types[rng.below(3)], state: state,
          runAt: state == .queued ? now : now.adding(.seconds(5)))
        seen = try f.store.list(ListParams(limit: 10_000)).map(\.id)
      default:
        // A failing transaction: the requeue of a real dead job is undone with the rest.
        let dead = try f.store.list(ListParams(state: .dead, limit: 1)).map(\.id)
        _ = try? f.store.requeueDead(RequeueDeadParams(ids: dead + [999_999], now: now))
      }
      if step % 20 == 0 { try check(step) }
    }
    try check(300)
    #expect(try f.store.stats().values.reduce(0, +) > 0)
  }

  @Test(arguments: StoreKind.allCases)
  func aFailedTransactionLeavesTheCountersAlone(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let dead = try f.dead()
    try f.add("thumb")
    let before = try f.store.counts()
    // All or nothing: the requeue of `dead` is rolled back with the unknown id.
    #expect(throws: StoreError.noSuchJob(5555)) {
      try f.store.requeueDead(RequeueDeadParams(ids: [dead, 5555]))
    }
    #expect(throws: StoreError.self) {
      try f.store.apply(
        StoreBatch(
          enqueues: [EnqueueParams(type: "email"), EnqueueParams(type: "")],
          claims: [ClaimParams(types: ["thumb"], limit: 1)]))
    }
    #expect(try f.store.counts() == before)
    #expect(try f.scanCounts() == before)
    // Nothing left over for the next transaction either.
    try f.add("thumb")
    var after = before
    after["thumb"]?[.queued] = 2
    #expect(try f.store.counts() == after)
  }

  @Test(arguments: StoreKind.allCases)
  func countsAreRegroupedPerTypeAndATypeGoesWithItsLastJob(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    #expect(try f.store.counts() == [:])
    let old = try f.completed("report", now: f.at(1))
    try f.add("email")
    var report = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
    report[.completed] = 1
    var email = report
    email[.completed] = 0
    email[.queued] = 1
    #expect(try f.store.counts() == ["report": report, "email": email])
    #expect(try f.store.prune(PruneParams(completedBefore: f.at(2), deadBefore: f.at(2))) == 1)
    #expect(try f.store.job(old) == nil)
    #expect(try f.store.counts() == ["email": email])
  }
}

/// A small seeded generator, so a failing chaos run can be replayed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A value in `0 ..< n`.
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

  /// A value in `0 ..< 1`.
  mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
