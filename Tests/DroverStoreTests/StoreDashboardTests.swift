import DroverCore
import DroverStore
import Testing

/// What the dashboard reads and writes in the store, the same on every driver: the audit log,
/// the per-minute series behind its charts, and the payload text filter.
@Suite struct StoreDashboardTests {
  @Test(arguments: StoreKind.allCases)
  func theAuditLogKeepsEveryEntryNewestFirst(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    #expect(try f.store.auditEntries(limit: 10, beforeID: nil).isEmpty)
    var ids: [Int64] = []
    for i in 0..<3 {
      ids.append(
        try f.store.recordAudit(
          AuditEntry(
            at: f.at(Double(i)), who: i == 0 ? "open" : "token", action: "requeue",
            target: "filter type=<b>", count: 40_000 + i)))
    }
    #expect(ids[0] < ids[1] && ids[1] < ids[2])
    let all = try f.store.auditEntries(limit: 10, beforeID: nil)
    #expect(all.map(\.id) == ids.reversed())
    #expect(all.last?.who == "open" && all.last?.target == "filter type=<b>")
    #expect(all.first?.count == 40_002 && all.first?.at == f.at(2))
    // A cursor page.
    #expect(try f.store.auditEntries(limit: 1, beforeID: ids[2]).map(\.id) == [ids[1]])
    // Reopened, it is still there (a table of the schema, not of the connection).
    #expect(try f.reopen().auditEntries(limit: 10, beforeID: nil).count == 3)
  }

  @Test(arguments: StoreKind.allCases)
  func theMinuteSeriesSumsTypesIntoBuckets(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    for (type, finish) in [("a", 10.0), ("b", 20.0), ("a", 70.0), ("a", 200.0)] {
      try f.add(type, runAt: f.at(0), now: f.at(0))
      let c = try f.claim([type], now: f.at(finish - 1))
      try #require(c.count == 1)
      try f.finish(c[0].id, .outcome(.completed), now: f.at(finish))
    }
    let m0 = WindowStats.minute(of: f.at(0))
    let perMinute = try f.store.minuteSeries(
      MinuteSeriesParams(sinceMinute: m0, untilMinute: m0 + 10))
    let byMinute = Dictionary(uniqueKeysWithValues: perMinute.map { ($0.minute, $0.completed) })
    #expect(perMinute.map(\.completed).reduce(0, +) == 4)
    #expect(
      byMinute[WindowStats.minute(of: f.at(10))] == byMinute[WindowStats.minute(of: f.at(20))])
    #expect(perMinute.allSatisfy { $0.waitCount == $0.completed })
    let coarse = try f.store.minuteSeries(
      MinuteSeriesParams(sinceMinute: m0 - 60, untilMinute: m0 + 60, bucketMinutes: 60))
    #expect(coarse.map(\.completed).reduce(0, +) == 4)
    #expect(coarse.allSatisfy { $0.minute % 60 == 0 })
    #expect(try f.store.minuteSeries(MinuteSeriesParams(sinceMinute: 0, untilMinute: 1)).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func payloadTextFiltersTheList(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    _ = try f.store.enqueue([
      EnqueueParams(type: "t", payload: #"{"to":"ann@example.com"}"#, now: f.at(0)),
      EnqueueParams(type: "t", payload: #"{"to":"bob@example.com"}"#, now: f.at(0)),
      EnqueueParams(type: "u", payload: #"{"note":"<script>ann</script>"}"#, now: f.at(0)),
    ])
    #expect(try f.store.list(ListParams(payloadContains: "ann")).count == 2)
    #expect(try f.store.list(ListParams(type: "t", payloadContains: "ann")).count == 1)
    #expect(try f.store.list(ListParams(state: .queued, payloadContains: "example")).count == 2)
    #expect(try f.store.list(ListParams(payloadContains: "nobody")).isEmpty)
  }
}
