import DroverCore
import DroverStore
import DroverTestSupport
import Testing

/// `oldestReady` (the skip-scan behind `drover_oldest_ready_seconds` and `/health`) agrees
/// with the plain aggregate, across priorities, types and states; and `list`'s new filters.
@Suite("oldest ready and list filters")
struct StoreOldestReadyTests {
  @Test func skipScanFindsTheOldestQueuedJobOfTheTypes() throws {
    let dir = try TempDirectory(prefix: "drover-oldest")
    let store = try SQLiteStore(path: dir.file("s.db"))
    #expect(try store.oldestReady(types: ["a"]) == nil)
    let t0 = Timestamp(micros: 1_000_000_000)
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
    #expect(try store.oldestReady(types: ["a"]) == t0.adding(.seconds(51)))
    #expect(try store.oldestReady(types: ["a"]) == store.oldestReadyByScan(type: "a"))
    #expect(try store.oldestReady(types: ["a", "b"]) == t0)
    #expect(try store.oldestReady(types: ["c"]) == nil)
  }

  @Test func listFiltersAndTheKeysetCursor() throws {
    let dir = try TempDirectory(prefix: "drover-list")
    let store = try SQLiteStore(path: dir.file("s.db"))
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
