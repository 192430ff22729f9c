import Testing

@testable import DroverCore

@Suite struct PoolPolicyTests {
  @Test func firstDeathIsReplacedAtOnceThenBackoffDoublesToTheCap() {
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 0) == .zero)
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 1) == .zero)
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 2) == .milliseconds(50))
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 3) == .milliseconds(100))
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 4) == .milliseconds(200))
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 15) == .seconds(30))
    #expect(PoolPolicy.restartDelay(consecutiveFailures: 1_000_000) == .seconds(30))
  }

  @Test func desiredWorkersCoversRunningPlusBacklogWithinBounds() {
    #expect(PoolPolicy.desiredWorkers(running: 0, backlog: 0, concurrency: 1, min: 1, max: 4) == 1)
    #expect(PoolPolicy.desiredWorkers(running: 1, backlog: 2, concurrency: 1, min: 1, max: 4) == 3)
    #expect(
      PoolPolicy.desiredWorkers(running: 2, backlog: 100, concurrency: 1, min: 1, max: 4) == 4)
    #expect(PoolPolicy.desiredWorkers(running: 3, backlog: 4, concurrency: 4, min: 0, max: 8) == 2)
    #expect(PoolPolicy.desiredWorkers(running: 0, backlog: 0, concurrency: 1, min: 0, max: 3) == 0)
    // Nonsense inputs are clamped, never negative or past max.
    #expect(
      PoolPolicy.desiredWorkers(running: -5, backlog: -1, concurrency: 0, min: 2, max: 3) == 2)
  }

  @Test func capacityPrefetchesOneRoundPerWorkerBeforeAnyJobTime() {
    #expect(PoolPolicy.capacity(concurrency: 1) == 2)
    #expect(PoolPolicy.capacity(concurrency: 4) == 8)
    #expect(PoolPolicy.capacity(concurrency: 0) == 2)
  }

  @Test func prefetchDepthFollowsJobRunTime() {
    // Tiny jobs: about 2 ms of work per slot, 2 to 64 jobs; ordinary: one round; long: none.
    #expect(PoolPolicy.capacity(concurrency: 1, averageRun: .microseconds(30)) == 64)
    #expect(PoolPolicy.capacity(concurrency: 1, averageRun: .zero) == 64)
    #expect(PoolPolicy.capacity(concurrency: 1, averageRun: .microseconds(100)) == 20)
    #expect(PoolPolicy.capacity(concurrency: 3, averageRun: .microseconds(400)) == 15)
    #expect(PoolPolicy.capacity(concurrency: 2, averageRun: .microseconds(999)) == 4)
    #expect(PoolPolicy.capacity(concurrency: 1, averageRun: .milliseconds(5)) == 2)
    #expect(PoolPolicy.capacity(concurrency: 1, averageRun: .milliseconds(50)) == 1)
    #expect(PoolPolicy.capacity(concurrency: 3, averageRun: .seconds(60)) == 3)
  }

  @Test func averageRunIsAnEWMAWeightingTheNewestAnEighth() {
    #expect(PoolPolicy.averageRun(previous: nil, latest: .milliseconds(8)) == .milliseconds(8))
    #expect(
      PoolPolicy.averageRun(previous: .milliseconds(8), latest: .milliseconds(16))
        == .milliseconds(9))
    // One slow job among fast ones does not flip a pool to "long jobs" at once.
    var avg: Duration? = nil
    for _ in 0..<50 { avg = PoolPolicy.averageRun(previous: avg, latest: .microseconds(50)) }
    avg = PoolPolicy.averageRun(previous: avg, latest: .seconds(1) / 200)
    #expect(avg! < .milliseconds(1))
  }

  @Test func recycleThresholdHasUpToTenPercentJitter() {
    #expect(PoolPolicy.recycleAfter(maxJobs: 0, jitter: 0.9) == 0)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 0) == 1000)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 0.999) == 1099)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 7) == 1100)
  }
}
