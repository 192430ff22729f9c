import DroverCore
import Testing

/// `GET /health`'s judgement, as a pure function.
@Suite("health")
struct HealthTests {
  static func pool(
    _ name: String = "p", min: Int = 1, live: Int = 1, looping: Bool = false, backlog: Int = 0,
    oldest: Duration? = nil
  ) -> HealthInput.Pool {
    HealthInput.Pool(
      name: name, min: min, liveWorkers: live, crashLooping: looping, backlog: backlog,
      oldestReady: oldest)
  }

  static func input(
    _ pools: [HealthInput.Pool], store: String? = nil, alive: Bool = true,
    state: String = "running", failed: Int = 0, finished: Int = 0
  ) -> HealthInput {
    HealthInput(
      storeProblem: store, loopAlive: alive, state: state, pools: pools, failedInWindow: failed,
      finishedInWindow: finished)
  }

  @Test func healthyWhenNothingIsWrong() {
    let r = Health.evaluate(Self.input([Self.pool()]), thresholds: .init())
    #expect(r == HealthReport(status: .healthy, reasons: []))
  }

  @Test func storeAndLoopProblemsAreUnhealthy() {
    let r = Health.evaluate(Self.input([Self.pool()], store: "disk full"), thresholds: .init())
    #expect(r.status == .unhealthy)
    #expect(r.reasons == ["store unwritable: disk full"])
    #expect(
      Health.evaluate(Self.input([Self.pool()], alive: false), thresholds: .init()).status
        == .unhealthy)
  }

  @Test func oneCrashLoopingPoolDegradesAndAllOfThemIsUnhealthy() {
    let one = Health.evaluate(
      Self.input([Self.pool("a", looping: true), Self.pool("b")]), thresholds: .init())
    #expect(one.status == .degraded)
    #expect(one.reasons == ["pool a is crash-looping"])
    let all = Health.evaluate(Self.input([Self.pool("a", looping: true)]), thresholds: .init())
    #expect(all.status == .unhealthy)
  }

  @Test func workersBelowMinCountOnlyWhileRunning() {
    let low = Self.pool(min: 2, live: 1)
    #expect(Health.evaluate(Self.input([low]), thresholds: .init()).status == .degraded)
    #expect(
      Health.evaluate(Self.input([low], state: "starting"), thresholds: .init()).status
        == .healthy)
  }

  @Test func backlogAndOldestAgeAboveTheirThresholds() {
    let t = HealthThresholds(backlogAbove: 10, oldestReadyAbove: .seconds(60))
    #expect(Health.evaluate(Self.input([Self.pool(backlog: 10)]), thresholds: t).status == .healthy)
    let r = Health.evaluate(
      Self.input([Self.pool(backlog: 11, oldest: .seconds(61))]), thresholds: t)
    #expect(r.status == .degraded)
    #expect(r.reasons.count == 2)
    let off = HealthThresholds(backlogAbove: nil, oldestReadyAbove: nil)
    #expect(
      Health.evaluate(
        Self.input([Self.pool(backlog: 1 << 30, oldest: .seconds(1 << 30))]), thresholds: off
      )
      .status == .healthy)
  }

  @Test func errorRateNeedsEnoughJobs() {
    let t = HealthThresholds(errorRateAbove: 0.2, errorMinJobs: 20)
    #expect(
      Health.evaluate(Self.input([Self.pool()], failed: 10, finished: 19), thresholds: t).status
        == .healthy)
    #expect(
      Health.evaluate(Self.input([Self.pool()], failed: 4, finished: 20), thresholds: t).status
        == .healthy)
    let r = Health.evaluate(Self.input([Self.pool()], failed: 5, finished: 20), thresholds: t)
    #expect(r.status == .degraded)
    #expect(r.reasons.first?.contains("25.0%") == true, "\(r.reasons)")
  }

  @Test func errorWindowForgetsOldSeconds() {
    var w = ErrorRateWindow(window: .seconds(10))
    w.record(failed: true, now: 100)
    w.record(failed: false, now: 100)
    w.record(failed: false, now: 105)
    #expect(w.totals(now: 105) == (failed: 1, finished: 3))
    #expect(w.totals(now: 110) == (failed: 0, finished: 1))
    // The bucket of second 105 is reused a lap later (115) and starts from zero.
    w.record(failed: false, now: 115)
    #expect(w.totals(now: 115) == (failed: 0, finished: 1))
    #expect(w.totals(now: 200) == (failed: 0, finished: 0))
  }

  @Test func healthJudgesByTheAlertsThresholdsWhereTheyAreSet() throws {
    let plain = try ConfigLoader.parse(text: "[pools.p]\n", file: "d.toml", baseDirectory: "/")
    #expect(HealthThresholds(config: plain) == HealthThresholds())
    let set = try ConfigLoader.parse(
      text: """
        [pools.p]
        [alerts]
        webhooks = ["http://127.0.0.1:9/"]
        backlog_above = 7
        oldest_ready_above = "90s"
        error_rate = { above = 0.5, window = "1m", min_jobs = 3 }
        """, file: "d.toml", baseDirectory: "/")
    let t = HealthThresholds(config: set)
    #expect(t.backlogAbove == 7)
    #expect(t.oldestReadyAbove == .seconds(90))
    #expect(t.errorRateAbove == 0.5 && t.errorWindow == .seconds(60) && t.errorMinJobs == 3)
    let judged = Health.evaluate(Self.input([Self.pool(backlog: 8)]), thresholds: t)
    #expect(judged.status == .degraded)
    let byDefault = Health.evaluate(Self.input([Self.pool(backlog: 8)]), thresholds: .init())
    #expect(byDefault.status == .healthy)
  }
}
