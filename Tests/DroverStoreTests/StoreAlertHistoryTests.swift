import DroverCore
import DroverStore
import Testing

/// The alert history on every driver: fired, resolved, reminded, acknowledged.
@Suite struct StoreAlertHistoryTests {
  @Test(arguments: StoreKind.allCases)
  func alertsAreRecordedResolvedAndAcknowledged(_ kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let ids = try f.store.recordAlerts([
      NewAlert(
        kind: "backlog", severity: "warning", pool: "email", subject: "email",
        message: "backlog of email is 12", details: #"{"value":12}"#, at: f.at(1)),
      NewAlert(
        kind: "job_dead", severity: "warning", pool: "email", job: 7, subject: "7",
        message: "job 7 is dead", at: f.at(2), resolvesByAck: true),
    ])
    #expect(ids.count == 2)
    let (backlog, dead) = (ids[0], ids[1])
    #expect(try f.store.alerts(open: true, limit: 10).map(\.id) == [dead, backlog])
    try f.store.noteAlertNotified(backlog, at: f.at(3))
    try f.store.resolveAlert(backlog, at: f.at(4))
    let open = try f.store.alerts(open: true, limit: 10)
    #expect(open.map(\.id) == [dead])
    let all = try f.store.alerts(open: false, limit: 10)
    #expect(all.map(\.id) == [dead, backlog])
    let b = try #require(all.last)
    #expect(b.resolvedAt == f.at(4) && b.notifications == 2 && b.notifiedAt == f.at(3))
    #expect(b.json["details"]?["value"] == 12 && b.json["state"] == "resolved")
    // A dead job's alert is resolved by its acknowledgement; a second one keeps the first.
    let acked = try f.store.ackAlert(dead, by: "ana", at: f.at(5))
    #expect(acked.ackedBy == "ana" && acked.ackedAt == f.at(5) && acked.resolvedAt == f.at(5))
    #expect(try f.store.ackAlert(dead, by: "bo", at: f.at(6)).ackedBy == "ana")
    #expect(try f.store.alerts(open: true, limit: 10).isEmpty)
    let e = #expect(throws: StoreError.self) { try f.store.ackAlert(999, by: "x", at: f.at(7)) }
    #expect(e?.kind == .notFound && e?.description == "no alert with id 999")
  }
}
