import DroverCore
import DroverStore
import Testing

/// What an attempt used (`FinishParams.usage`) is stored on the job by every kind of finish.
@Suite struct StoreUsageTests {
  func settle(
    _ f: StoreFixture, _ id: JobID, _ s: Settlement, _ usage: JobUsage?, at seconds: Double
  ) throws {
    _ = try f.store.apply(
      StoreBatch(
        finishes: [FinishParams(id: id, settlement: s, workerPID: 4121, usage: usage)],
        promoteDue: false, now: f.at(seconds)))
  }

  @Test(arguments: StoreKind.allCases)
  func aFinishStoresWhatTheAttemptUsed(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    // Completed (PostgreSQL's direct path) and dead (its decided path).
    let done = try f.running()
    try settle(
      f, done, .outcome(.completed), JobUsage(cpuSeconds: 0.3125, peakRSS: 52_428_800), at: 1)
    let dead = try f.running("other")
    try settle(
      f, dead, .outcome(.permanent("no")), JobUsage(cpuSeconds: 2.5, peakRSS: 1 << 40), at: 1)
    #expect(try f.job(done).cpuSeconds == 0.3125)
    #expect(try f.job(done).peakRSS == 52_428_800)
    #expect(try f.job(dead).cpuSeconds == 2.5)
    #expect(try f.job(dead).peakRSS == 1 << 40)
    // Never reported: nil.
    let plain = try f.completed("third")
    #expect(try f.job(plain).cpuSeconds == nil)
    #expect(try f.job(plain).peakRSS == nil)
  }

  @Test(arguments: StoreKind.allCases)
  func aRetryRecordsItsAttemptAndAnUnreportedOneKeepsThem(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let id = try f.running()
    try settle(
      f, id, .outcome(.retryable("flaky")), JobUsage(cpuSeconds: 0.01, peakRSS: 4096), at: 1)
    #expect(try f.job(id).cpuSeconds == 0.01)
    #expect(try f.job(id).state == .scheduled)
    // The next attempt's worker died: nothing reported, the last figures stay.
    _ = try f.claim(now: f.at(3600))
    try settle(f, id, .failed("worker 1 exited on signal 9"), nil, at: 3601)
    #expect(try f.job(id).cpuSeconds == 0.01)
    #expect(try f.job(id).peakRSS == 4096)
    // A reporting attempt replaces them; a finish of a job not running changes nothing.
    _ = try f.claim(now: f.at(90_000))
    try settle(f, id, .outcome(.completed), JobUsage(cpuSeconds: 1.75, peakRSS: 8192), at: 90_001)
    try settle(f, id, .outcome(.completed), JobUsage(cpuSeconds: 99, peakRSS: 1), at: 90_002)
    let job = try f.job(id)
    #expect(job.state == .completed)
    #expect(job.cpuSeconds == 1.75)
    #expect(job.peakRSS == 8192)
  }
}
