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
    #expect(PoolPolicy.desiredWorkers(running: 2, backlog: 100, concurrency: 1, min: 1, max: 4) == 4)
    #expect(PoolPolicy.desiredWorkers(running: 3, backlog: 4, concurrency: 4, min: 0, max: 8) == 2)
    #expect(PoolPolicy.desiredWorkers(running: 0, backlog: 0, concurrency: 1, min: 0, max: 3) == 0)
    // Nonsense inputs are clamped, never negative or past max.
    #expect(PoolPolicy.desiredWorkers(running: -5, backlog: -1, concurrency: 0, min: 2, max: 3) == 2)
  }

  @Test func capacityPrefetchesOneRoundPerWorker() {
    #expect(PoolPolicy.capacity(concurrency: 1) == 2)
    #expect(PoolPolicy.capacity(concurrency: 4) == 8)
    #expect(PoolPolicy.capacity(concurrency: 0) == 2)
  }

  @Test func recycleThresholdHasUpToTenPercentJitter() {
    #expect(PoolPolicy.recycleAfter(maxJobs: 0, jitter: 0.9) == 0)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 0) == 1000)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 0.999) == 1099)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1000, jitter: 7) == 1100)
  }
}
