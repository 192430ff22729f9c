import DroverCore
import DroverStore
import Testing

/// Schedules' slots: each fired at most once ever, whatever retention prunes; passed-over
/// slots; the newest slot per schedule; pausing. Every driver.
@Suite struct StoreScheduleTests {
  static func fire(_ schedule: String, _ slot: Timestamp, job: Bool = true) -> SlotFire {
    SlotFire(
      schedule: schedule, slot: slot,
      job: job
        ? EnqueueParams(
          type: "report", payload: #"{"slot":\#(slot.micros)}"#,
          uniqueKey: "schedule:\(schedule):\(slot.rfc3339)", now: slot)
        : nil)
  }

  @Test(arguments: StoreKind.allCases)
  func aSlotEnqueuesOnceEvenAfterItsJobIsPruned(kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let t1 = StoreFixture.t0
    let t2 = t1.adding(.seconds(60))
    let first = try f.store.fireSlots([Self.fire("nightly", t1), Self.fire("nightly", t2)])
    #expect(first.map(\.fresh) == [true, true])
    let id = try #require(first[0].job)
    #expect(try f.store.job(id)?.type == "report")
    #expect(try f.store.stats()[.queued] == 2)

    // Again (a restart, a second supervisor, a clock step): nothing new, the same jobs named.
    let again = try f.store.fireSlots([Self.fire("nightly", t1)])
    #expect(again == [SlotResult(schedule: "nightly", slot: t1, job: id, fresh: false)])
    #expect(try f.store.stats()[.queued] == 2)

    // The job runs and is pruned by retention: the slot still counts as fired.
    let claimed = try f.store.apply(
      StoreBatch(claims: [ClaimParams(types: ["report"], limit: 2, workerPID: 1)], now: t2))
    let finishes = claimed.claimed[0].map {
      FinishParams(id: $0.id, settlement: .outcome(.completed), backoff: .standard, jitter: 0.5)
    }
    _ = try f.store.apply(StoreBatch(finishes: finishes, now: t2))
    _ = try f.store.prune(
      PruneParams(completedBefore: t2.adding(.seconds(1)), deadBefore: t2))
    #expect(try f.store.job(id) == nil)
    let afterPrune = try f.store.fireSlots([Self.fire("nightly", t1)])
    #expect(afterPrune.first?.fresh == false)
    #expect(try f.store.stats()[.queued] == 0)
  }

  @Test(arguments: StoreKind.allCases)
  func passedSlotsLastSlotsAndPausing(kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    let t1 = StoreFixture.t0
    let t2 = t1.adding(.seconds(60))
    #expect(try f.store.lastSlots().isEmpty)
    _ = try f.store.fireSlots([Self.fire("a", t1), Self.fire("a", t2, job: false)])
    _ = try f.store.fireSlots([Self.fire("b", t1)])
    let last = try f.store.lastSlots()
    #expect(last["a"] == LastSlot(slot: t2, job: nil))
    #expect(last["b"]?.slot == t1 && last["b"]?.job != nil)
    // A passed-over slot stays passed over: recording it with a job later enqueues nothing.
    let late = try f.store.fireSlots([Self.fire("a", t2)])
    #expect(late.first?.fresh == false && late.first?.job == nil)
    #expect(try f.store.stats()[.queued] == 2)

    #expect(try f.store.pausedSchedules().isEmpty)
    try f.store.setSchedulePaused("a", true)
    try f.store.setSchedulePaused("b", true)
    try f.store.setSchedulePaused("b", false)
    #expect(try f.store.pausedSchedules() == ["a"])
    #expect(try f.reopen().pausedSchedules() == ["a"])
  }

  /// A slot's job is checked like any enqueue: a bad one records nothing.
  @Test(arguments: StoreKind.allCases)
  func aBadSlotJobRecordsNothing(kind: StoreKind) throws {
    let f = try StoreFixture(kind)
    var bad = Self.fire("a", StoreFixture.t0)
    bad.job?.payload = "[1]"
    #expect(throws: StoreError.self) {
      try f.store.fireSlots([Self.fire("a", StoreFixture.t0.adding(.seconds(1))), bad])
    }
    #expect(try f.store.lastSlots().isEmpty)
  }
}
