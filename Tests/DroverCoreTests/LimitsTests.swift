import Testing

@testable import DroverCore

/// The ends of every range in `ConfigLimits` are accepted, and the arithmetic done on them
/// saturates instead of trapping.
@Suite struct LimitsTests {
  @Test func theLargestValuesOfEveryRangeAreAccepted() throws {
    let text = """
      [store]
      retain_completed = "36500d"
      retain_dead = "36500d"
      max_payload = "8MiB"
      [supervisor]
      drain_timeout = "365d"
      [pools.email]
      min = 1024
      max = 1024
      idle_timeout = "365d"
      concurrency = 1024
      timeout = "365d"
      max_attempts = 1000000
      backoff = { base = "365d", cap = "365d" }
      max_jobs = 1000000000
      max_rss = 1099511627776
      """
    let c = try ConfigLoader.parse(text: text, file: "t.toml", baseDirectory: "/srv")
    let p = try #require(c.pools.first)
    #expect(p.maxJobs == 1_000_000_000)
    #expect(p.concurrency == 1024)
    #expect(p.idleTimeout == .seconds(365 * 86_400))
    #expect(c.supervisor.drainTimeout == .seconds(365 * 86_400))
    #expect(c.store.maxPayload == 8 << 20)
  }

  @Test func maxPayloadDefaultsToOneMiB() throws {
    let c = try ConfigLoader.parse(text: "[pools.a]\n", file: nil, baseDirectory: "/srv")
    #expect(c.store.maxPayload == 1 << 20)
  }

  @Test func timestampAddingSaturates() {
    let now = Timestamp(micros: 1_800_000_000_000_000)
    #expect(now.adding(.seconds(106_751_990 * 86_400)).micros == .max)
    #expect(Timestamp(micros: .min).adding(.zero - .seconds(1)).micros == .min)
    #expect(Timestamp(micros: .max).adding(.seconds(1)).micros == .max)
    #expect(now.adding(.seconds(1)).micros == now.micros + 1_000_000)
  }

  @Test func recycleAfterSaturates() {
    #expect(PoolPolicy.recycleAfter(maxJobs: .max, jitter: 0.99) == .max)
    #expect(PoolPolicy.recycleAfter(maxJobs: .max, jitter: .nan) == .max)
    #expect(PoolPolicy.recycleAfter(maxJobs: 1_000_000_000, jitter: 1) == 1_100_000_000)
  }
}
