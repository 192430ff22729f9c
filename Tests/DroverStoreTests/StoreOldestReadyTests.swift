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

  @Test func skipScanFindsTheOldestQueuedJobOfTheTypes() throws {
    let dir = try TempDirectory(prefix: "drover-oldest")
    let store = try SQLiteStore(path: dir.file("s.db"))
    let t0 = Timestamp(micros: 1_000_000_000)
    #expect(
      try store.oldestReady(OldestReadyParams(types: ["a"], now: t0.adding(.seconds(200)))) == nil)
    var params: [EnqueueParams] = []
    // Priorities 0..4; the oldest run_at sits at the lowest priority.
    for i in 0..<50 {
      params.append(
        EnqueueParams(
          type: "a", priority: i % 5, runAt: t0.adding(.seconds(100 - i)),
          now: t0.adding(.seconds(200))))
    }
    params.append(EnqueueParams(type: "b", runAt: t0, now: t0.adding(.seconds(200))))
    // Scheduled (in the future) is not ready.
    params.append(
      EnqueueParams(type: "a", runAt: t0.adding(.seconds(10_000)), now: t0.adding(.seconds(200))))
    _ = try store.enqueue(params)
    #expect(
      try store.oldestReady(OldestReadyParams(types: ["a"], now: t0.adding(.seconds(200))))
        == t0.adding(.seconds(51)))
    #expect(
      try store.oldestReady(OldestReadyParams(types: ["a"], now: t0.adding(.seconds(200))))
        == store.oldestReadyByScan(type: "a"))
    #expect(
      try store.oldestReady(OldestReadyParams(types: ["a", "b"], now: t0.adding(.seconds(200))))
        == t0)
    #expect(
      try store.oldestReady(OldestReadyParams(types: ["c"], now: t0.adding(.seconds(200)))) == nil)
  }

  @Test(arguments: StoreKind.allCases)
  func listFiltersAndTheKeysetCursor(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let store = f.store
    let t0 = Timestamp(micros: 2_000_000_000)
    _ = try store.enqueue(
      (0..<10).map { i in
        EnqueueParams(
          type: "a", payload: #"{"acct":\#(i % 3),"name":"n\#(i)"}"#, priority: i,
          now: t0.adding(.seconds(Int64(i))))
      })
    let all = try store.list(ListParams(limit: 100)).map(\.id)
    #expect(all == Array((1...10).reversed()))
    #expect(try store.list(ListParams(limit: 3, beforeID: 8)).map(\.id) == [7, 6, 5])
    #expect(try store.list(ListParams(priorityMin: 3, priorityMax: 5)).map(\.id) == [6, 5, 4])
    #expect(
      try store.list(
        ListParams(createdFrom: t0.adding(.seconds(2)), createdTo: t0.adding(.seconds(4)))
      ).map(\.id) == [4, 3])
    #expect(
      try store.list(ListParams(payloadMatch: .init(path: "$.acct", json: "1"))).map(\.id)
        == [8, 5, 2])
    #expect(
      try store.list(ListParams(payloadMatch: .init(path: "$.name", json: #""n3""#))).map(\.id)
        == [4])
    #expect(try store.list(ListParams(finishedFrom: t0)).isEmpty)
    #expect(try store.list(ListParams(state: .queued, limit: 2, beforeID: 3)).map(\.id) == [2, 1])
  }
}
