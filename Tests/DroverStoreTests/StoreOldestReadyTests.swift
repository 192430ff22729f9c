import DroverCore
import DroverTestSupport
import Foundation
import Testing

@testable import DroverStore

/// `oldestReady`: the earliest run_at among a pool's ready jobs (queued, and scheduled already
/// due), across priorities, without reading the backlog.
@Suite struct StoreOldestReadyTests {
  @Test(arguments: StoreKind.allCases)
  func oldestAcrossPrioritiesAndDueScheduled(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let t0 = StoreFixture.t0
    func at(_ s: Int64) -> Timestamp { t0.adding(.seconds(s)) }
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["a"], now: t0)) == nil)
    _ = try f.store.enqueue([
      EnqueueParams(type: "a", priority: 5, runAt: at(-10), now: t0),
      EnqueueParams(type: "a", priority: -3, runAt: at(-50), now: t0),
      EnqueueParams(type: "a", priority: 0, runAt: at(-20), now: t0),
      EnqueueParams(type: "b", priority: 0, runAt: at(-90), now: t0),
      // Scheduled: not ready until its run_at.
      EnqueueParams(type: "c", runAt: at(30), now: t0),
    ])
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["a"], now: t0)) == at(-50))
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["a", "b"], now: t0)) == at(-90))
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["c"], now: t0)) == nil)
    // Due but not promoted yet: ready.
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["c"], now: at(31))) == at(30))
    #expect(try f.store.oldestReady(OldestReadyParams(types: ["nope"], now: t0)) == nil)
  }

  /// Both halves seek on their indexes: no scan of jobs, no sort.
  @Test func oldestReadyUsesItsIndexes() throws {
    let dir = try TempDirectory(prefix: "drover-oldest")
    let plans = try SQLiteStore(path: dir.file("p.db")).queryPlans()
    let queued = plans["oldestQueued"] ?? []
    #expect(queued.contains { $0.contains("jobs_ready (type=? AND priority") }, "\(queued)")
    #expect(!queued.contains { $0.contains("TEMP B-TREE") }, "\(queued)")
    #expect(!queued.contains { $0.hasPrefix("SCAN jobs") }, "\(queued)")
    let due = plans["oldestDue"] ?? []
    #expect(due.contains { $0.contains("jobs_scheduled (run_at<?)") }, "\(due)")
  }

  /// The figure behind caching it: at `DROVER_OLDEST_ROWS` queued jobs of one type (default
  /// 100,000; the README's figure is 1,000,000) the loose index scan against a plain min().
  @Test func figureAtManyQueuedRows() throws {
    let rows = Int(ProcessInfo.processInfo.environment["DROVER_OLDEST_ROWS"] ?? "") ?? 100_000
    let dir = try TempDirectory(prefix: "drover-oldest")
    let store = try SQLiteStore(path: dir.file("o.db"))
    try StoreBenchmark.fill(store, completed: 0, queued: rows)
    func time(_ body: () throws -> Void) rethrows -> Double {
      let start = ContinuousClock.now
      try body()
      let d = ContinuousClock.now - start
      return Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
    }
    var oldest: Timestamp?
    let seek =
      try time {
        for _ in 0..<10 {
          oldest = try store.oldestReady(OldestReadyParams(types: ["bench"], now: .now()))
        }
      } / 10
    var plain: Int64?
    let scan = try time {
      plain = try store.db.int64("SELECT min(run_at) FROM jobs WHERE state = 1 AND type = 'bench'")
    }
    #expect(oldest?.micros == plain)
    print(
      "figure: oldest ready job at \(rows) queued rows: "
        + String(format: "%.3f ms (loose index scan), %.1f ms (plain min)", seek, scan))
  }
}
