import DroverCore
import DroverStore
import Testing

/// The per-minute aggregates behind `windowStats`: written by the group commit, summed over a
/// window, pruned with the history; the same on every driver.
@Suite struct StoreWindowStatsTests {
  /// Enqueues one job of `type`, claims it at `claimAt` and settles it at `finishAt`.
  @discardableResult
  func run(
    _ f: StoreFixture, _ type: String, priority: Int = 0, maxAttempts: Int = 5,
    claimAt: Double, finishAt: Double, _ settlement: Settlement = .outcome(.completed)
  ) throws -> FinishResult {
    try f.add(type, priority: priority, runAt: f.at(0), maxAttempts: maxAttempts, now: f.at(0))
    let claimed = try f.claim([type], now: f.at(claimAt))
    try #require(claimed.count == 1)
    return try f.finish(claimed[0].id, settlement, now: f.at(finishAt))
  }

  @Test(arguments: StoreKind.allCases)
  func finishesLandInTheirMinutesAndAWindowSumsThem(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    try run(f, "email", claimAt: 2, finishAt: 2.5)
    try run(f, "sms", priority: 5, claimAt: 1, finishAt: 1.1, .outcome(.retryable("flaky")))
    try run(f, "thumb", maxAttempts: 1, claimAt: 0, finishAt: 600, .outcome(.permanent("bad")))
    // Neither counts: a cancelled outcome and a released (prefetched) job.
    try run(f, "audit", claimAt: 3, finishAt: 4, .outcome(.cancelled))
    try run(f, "audit", claimAt: 5, finishAt: 6, .released)
    try run(f, "email", claimAt: 7190, finishAt: 7200)

    let early = try f.store.windowStats(WindowStatsParams(window: .seconds(3600), now: f.at(900)))
    #expect(
      early.rows == [
        WindowCounts(
          type: "email", priority: 0, completed: 1, runCount: 1, runSumMicros: 500_000,
          waitCount: 1, waitSumMicros: 2_000_000),
        WindowCounts(
          type: "sms", priority: 5, failed: 1, runCount: 1, runSumMicros: 100_000, waitCount: 1,
          waitSumMicros: 1_000_000),
        WindowCounts(
          type: "thumb", priority: 0, dead: 1, runCount: 1, runSumMicros: 600_000_000,
          waitCount: 1, waitSumMicros: 0),
      ])
    #expect(early.errorRate == 2.0 / 3.0)
    #expect(early.lastFinishedAt == f.at(7200), "the newest finish, whatever the window")
    #expect(early.since.micros % 60_000_000 == 0)
    #expect(early.runHistograms["email"]?.total == 1)

    // An hour later only the last finish is in a one-hour window; three hours hold them all.
    let late = try f.store.windowStats(WindowStatsParams(window: .seconds(3600), now: f.at(7201)))
    #expect(late.rows.map(\.type) == ["email"])
    #expect(late.total.completed == 1)
    let all = try f.store.windowStats(
      WindowStatsParams(window: .seconds(3 * 3600), now: f.at(7201)))
    #expect(all.total.completed == 2 && all.total.failed == 1 && all.total.dead == 1)
    #expect(all.rows.first { $0.type == "email" }?.runSumMicros == 10_500_000)

    // Prune drops the minutes before its cut, and keeps the rest.
    _ = try f.store.prune(
      PruneParams(completedBefore: f.at(0), deadBefore: f.at(0), statsBefore: f.at(3600)))
    let pruned = try f.store.windowStats(
      WindowStatsParams(window: .seconds(3 * 3600), now: f.at(7201)))
    #expect(pruned.rows.map(\.type) == ["email"])
    #expect(pruned.total.completed == 1)
    #expect(pruned.runHistogram.total == 1)
  }

  @Test(arguments: StoreKind.allCases)
  func p95FromTheSummedHistogramIsWithinItsBucket(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let n = 100
    _ = try f.store.enqueue(
      (0..<n).map { _ in EnqueueParams(type: "email", runAt: f.at(0), now: f.at(0)) })
    let claimed = try f.claim(["email"], limit: n, now: f.at(0))
    try #require(claimed.count == n)
    // One batch, run times 10 ms … 1 s (the handler's own start times), at two minutes.
    for half in 0..<2 {
      let now = f.at(Double(60 * half) + 30)
      let finishes = claimed.enumerated().filter { $0.offset % 2 == half }.map { i, job in
        FinishParams(
          id: job.id, settlement: .outcome(.completed),
          startedAt: now.adding(.milliseconds(Int64(-10 * (i + 1)))))
      }
      _ = try f.store.apply(StoreBatch(finishes: finishes, promoteDue: false, now: now))
    }
    let s = try f.store.windowStats(WindowStatsParams(window: .seconds(600), now: f.at(120)))
    #expect(s.total.completed == n)
    #expect(s.total.runSumMicros == Int64((1...n).reduce(0, +)) * 10_000)
    let truth: Int64 = 950_000
    let p95 = try #require(s.runHistogram.quantile(0.95))
    #expect(p95 >= truth && p95 <= 2 * truth, "p95 \(p95) µs for a true \(truth) µs")
    #expect(s.runHistogram.total == n && s.waitHistogram.total == n)
  }

  @Test(arguments: StoreKind.allCases)
  func runningJobsPastTheirThresholdAreStuck(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    try f.add("email", now: f.at(0))
    try f.add("thumb", now: f.at(0))
    let a = try f.claim(["email"], now: f.at(0))
    _ = try f.claim(["thumb"], now: f.at(500))
    let s = try f.store.windowStats(
      WindowStatsParams(window: .seconds(60), now: f.at(600), stuckAfter: .seconds(300)))
    #expect(s.stuck == [StuckJob(id: a[0].id, type: "email", startedAt: f.at(0))])
    let byType = try f.store.windowStats(
      WindowStatsParams(
        window: .seconds(60), now: f.at(600), stuckAfter: .seconds(60),
        stuckAfterByType: ["email": .seconds(3600)]))
    #expect(byType.stuck.map(\.type) == ["thumb"])
    #expect(byType.lastFinishedAt == nil && byType.rows.isEmpty)
  }
}
