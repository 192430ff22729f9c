import DroverCore
import Testing

/// The histogram behind the windowed p95, and the health rule fed by the last finish.
@Suite("window stats")
struct WindowStatsTests {
  @Test func bucketsArePowersOfTwoMilliseconds() {
    #expect(DurationHistogram.bucket(micros: -5) == 0)
    #expect(DurationHistogram.bucket(micros: 999) == 0)
    #expect(DurationHistogram.bucket(micros: 1000) == 1)
    #expect(DurationHistogram.bucket(micros: 1999) == 1)
    #expect(DurationHistogram.bucket(micros: 2000) == 2)
    #expect(DurationHistogram.bucket(micros: 1_024_000) == 11)
    #expect(DurationHistogram.bucket(micros: 1_023_999) == 10)
    #expect(DurationHistogram.bucket(micros: .max) == 31)
    #expect(DurationHistogram.upperEdge(10) == 1_024_000)
  }

  @Test func aQuantileIsNeverBelowTheTruthAndAtMostTwiceIt() {
    for scale: Int64 in [1, 7, 333, 50_000] {
      var h = DurationHistogram()
      let values = (1...200).map { Int64($0) * scale * 1000 }
      for v in values { h.add(micros: v) }
      for q in [0.5, 0.95, 0.99] {
        let truth = values[Int((q * 200).rounded(.up)) - 1]
        let got = h.quantile(q)!
        #expect(got >= truth && got <= 2 * truth, "q \(q) scale \(scale): \(got) for \(truth)")
      }
    }
    #expect(DurationHistogram().quantile(0.95) == nil)
  }

  @Test func mergedHistogramsAddUp() {
    var a = DurationHistogram()
    var b = DurationHistogram()
    a.add(micros: 5000)
    b.add(micros: 5000)
    b.add(micros: 90_000_000)
    a.merge(b)
    #expect(a.total == 3 && a.counts[3] == 2)
    #expect(DurationHistogram(counts: a.counts) == a)
  }

  @Test func minutesFloorTowardsThePast() {
    #expect(WindowStats.minute(of: Timestamp(micros: 59_999_999)) == 0)
    #expect(WindowStats.minute(of: Timestamp(micros: 60_000_000)) == 1)
    #expect(WindowStats.minute(of: Timestamp(micros: -1)) == -1)
  }

  static func input(live: Int, backlog: Int, idle: Duration?) -> HealthInput {
    var i = HealthInput(
      storeProblem: nil, loopAlive: true, state: "running",
      pools: [
        HealthInput.Pool(
          name: "mail", min: 0, liveWorkers: live, crashLooping: false, backlog: backlog,
          oldestReady: nil)
      ], failedInWindow: 0, finishedInWindow: 0)
    i.sinceLastFinish = idle
    return i
  }

  @Test func idleWithABacklogDegrades() {
    let t = HealthThresholds(backlogAbove: nil, oldestReadyAbove: nil, errorRateAbove: nil)
    let stalled = Health.evaluate(
      Self.input(live: 2, backlog: 7, idle: .seconds(400)), thresholds: t)
    #expect(stalled.status == .degraded)
    #expect(
      stalled.reasons == [
        "pool mail has 2 workers and 7 ready jobs but nothing finished for 400s, above 5m"
      ])
    // Recent finishes, no workers, no backlog, or no finish ever: nothing to say.
    for i in [
      Self.input(live: 2, backlog: 7, idle: .seconds(100)),
      Self.input(live: 0, backlog: 7, idle: .seconds(400)),
      Self.input(live: 2, backlog: 0, idle: .seconds(400)),
      Self.input(live: 2, backlog: 7, idle: nil),
    ] {
      #expect(Health.evaluate(i, thresholds: t).status == .healthy)
    }
    var off = t
    off.idleWithBacklog = nil
    #expect(
      Health.evaluate(Self.input(live: 2, backlog: 7, idle: .seconds(4000)), thresholds: off)
        .status == .healthy)
  }

  @Test func alertsIdleWithBacklogSetsTheThresholdAndStoreRetainStatsTheRetention() throws {
    let text = """
      [store]
      retain_stats = "14d"

      [pools.email]

      [alerts]
      webhooks = ["http://127.0.0.1:9000/hook"]
      idle_with_backlog = "1m"
      """
    let config = try ConfigLoader.parse(text: text, file: "drover.toml", baseDirectory: "/srv")
    #expect(HealthThresholds(config: config).idleWithBacklog == .seconds(60))
    #expect(config.store.retainStats == .seconds(14 * 86400))
    #expect(HealthThresholds().idleWithBacklog == .seconds(300))
    #expect(throws: ConfigError.self) {
      try ConfigLoader.parse(
        text: text.replacing("\"1m\"", with: "\"soon\""), file: "drover.toml",
        baseDirectory: "/srv")
    }
  }
}
