import DroverCore
import DroverWire
import Testing

@testable import DroverAlerts

@Suite struct AlertStateMachineTests {
  func backlog(_ pool: String, _ n: Int, above: Int = 3) -> AlertMeasurement {
    AlertMeasurement(
      key: AlertKey(.backlog, pool), breached: n > above, value: .int(Int64(n)),
      threshold: .int(Int64(above)), pool: pool)
  }

  @Test func firesOnceAndResolvesOnce() {
    var m = AlertStateMachine()
    #expect(m.update(kinds: [.backlog], [backlog("a", 1)]).isEmpty)
    let fired = m.update(kinds: [.backlog], [backlog("a", 5)])
    #expect(fired.map(\.state) == [.firing])
    #expect(fired.first?.measurement.value == .int(5))
    // Still above on the following ticks: nothing more.
    for n in [6, 9, 4] { #expect(m.update(kinds: [.backlog], [backlog("a", n)]).isEmpty) }
    let resolved = m.update(kinds: [.backlog], [backlog("a", 0)])
    #expect(resolved.map(\.state) == [.resolved])
    #expect(resolved.first?.measurement.value == .int(0))
    #expect(m.update(kinds: [.backlog], [backlog("a", 0)]).isEmpty)
    #expect(m.firing.isEmpty)
  }

  @Test func subjectsAreIndependent() {
    var m = AlertStateMachine()
    let t = m.update(kinds: [.backlog], [backlog("b", 9), backlog("a", 9)])
    #expect(t.map(\.measurement.key.subject) == ["a", "b"])
    let t2 = m.update(kinds: [.backlog], [backlog("a", 9), backlog("b", 0)])
    #expect(t2.map(\.state) == [.resolved])
    #expect(t2.first?.measurement.key.subject == "b")
  }

  @Test func unmeasuredKindKeepsItsState() {
    var m = AlertStateMachine()
    _ = m.update(kinds: [.backlog], [backlog("a", 9)])
    // The store could not be read this tick: backlog not measured, nothing resolves.
    #expect(m.update(kinds: [.crashLooping], []).isEmpty)
    #expect(m.firing.keys.contains(AlertKey(.backlog, "a")))
  }

  @Test func vanishedSubjectResolvesWithItsLastMeasurement() {
    var m = AlertStateMachine()
    let stuck = AlertMeasurement(
      key: AlertKey(.jobStuck, "7"), breached: true, value: .double(40), threshold: .double(30))
    _ = m.update(kinds: [.jobStuck], [stuck])
    // Job 7 finished: no longer among the running jobs.
    let t = m.update(kinds: [.jobStuck], [])
    #expect(t == [AlertTransition(.resolved, stuck)])
  }

  @Test func confirmNeedsBreachedRoundsInARow() {
    var m = AlertStateMachine(confirm: [.backlog: 3])
    #expect(m.update(kinds: [.backlog], [backlog("a", 9)]).isEmpty)
    #expect(m.update(kinds: [.backlog], [backlog("a", 9)]).isEmpty)
    // A clear round starts the count again.
    #expect(m.update(kinds: [.backlog], [backlog("a", 0)]).isEmpty)
    #expect(m.update(kinds: [.backlog], [backlog("a", 9)]).isEmpty)
    #expect(m.update(kinds: [.backlog], [backlog("a", 9)]).isEmpty)
    #expect(m.update(kinds: [.backlog], [backlog("a", 9)]).map(\.state) == [.firing])
    #expect(m.update(kinds: [.backlog], [backlog("a", 0)]).map(\.state) == [.resolved])
  }

  @Test func queueDropsTheOldest() {
    var q = AlertQueue<Int>(capacity: 3)
    for n in 1...5 { q.push(n) }
    #expect(q.dropped == 2)
    #expect(q.count == 3)
    #expect([q.pop(), q.pop(), q.pop(), q.pop()] == [3, 4, 5, nil])
    // Long runs compact the storage without losing order.
    for n in 0..<5000 {
      q.push(n)
      if n % 2 == 0 { _ = q.pop() }
    }
    #expect(q.count == 3)
    #expect([q.pop(), q.pop(), q.pop()] == [4997, 4998, 4999])
  }

  @Test func errorRateWindowSlides() {
    var w = ErrorRateWindow(window: .seconds(10))
    for s in Int64(100)..<105 { w.record(failed: true, now: s) }
    for s in Int64(100)..<110 { w.record(failed: false, now: s) }
    #expect(w.totals(now: 109) == (5, 15))
    for s in Int64(110)..<115 { w.record(failed: false, now: s) }
    #expect(w.totals(now: 114) == (0, 10))
    #expect(w.totals(now: 200) == (0, 0))
  }
}

@Suite struct AlertConditionsTests {
  let pools = [
    PoolConfig(name: "email", min: 2, max: 4), PoolConfig(name: "img", types: ["a", "b"]),
  ]

  func snapshot(state: String = "running", crash: Bool = false, workers: Int) -> StatusSnapshot {
    let w = (0..<workers).map {
      StatusSnapshot.Worker(
        pid: Int32(100 + $0), busy: false, jobsDone: 0, ready: true, retiring: false,
        currentJob: nil)
    }
    return StatusSnapshot(
      pid: 1, state: state,
      pools: [
        .init(
          name: "email", target: 2, min: 2, max: 4, auto: true, paused: false,
          crashLooping: crash, types: ["email"], workers: w)
      ], jobs: [:], loop: .init(turnMax: .zero, lastCommit: .zero, turns: 0))
  }

  @Test func thresholds() {
    let config = AlertsConfig(
      webhooks: ["http://127.0.0.1:1/"], stuckAfter: .seconds(30),
      errorRate: .init(above: 0.2, window: .seconds(60), minJobs: 10), backlogAbove: 3,
      oldestReadyAbove: .seconds(60))
    let now = Timestamp(micros: 1_000_000_000_000)
    var job = Job(id: 7, type: "email", state: .running, createdAt: now, runAt: now)
    job.startedAt = Timestamp(micros: now.micros - 31_000_000)
    let input = AlertInputs(
      now: now, status: snapshot(crash: true, workers: 1), backlog: ["a": 2, "b": 2, "email": 3],
      oldestReady: ["img": Timestamp(micros: now.micros - 61_000_000)], running: [job],
      errorTotals: (3, 10))
    let (kinds, ms) = AlertConditions.measure(config, pools: pools, input)
    #expect(kinds == Set(AlertKind.allCases).subtracting([.jobDead]))
    let breached = Set(ms.filter(\.breached).map(\.key))
    #expect(
      breached == [
        AlertKey(.crashLooping, "email"), AlertKey(.workersBelowMin, "email"),
        AlertKey(.backlog, "img"), AlertKey(.oldestReady, "img"), AlertKey(.jobStuck, "7"),
        AlertKey(.errorRate),
      ])
    let stuck = ms.first { $0.key.kind == .jobStuck }
    #expect(stuck?.pool == "email")
    #expect(stuck?.job?["id"] == .int(7))
  }

  @Test func errorRateNeedsMinJobs() {
    let config = AlertsConfig(webhooks: [], errorRate: .init(above: 0.2, minJobs: 20))
    let (_, ms) = AlertConditions.measure(
      config, pools: pools, AlertInputs(now: .now(), errorTotals: (19, 19)))
    #expect(ms.map(\.breached) == [false])
  }

  @Test func drainingIsNotBelowMin() {
    let config = AlertsConfig(webhooks: [])
    let (_, ms) = AlertConditions.measure(
      config, pools: pools,
      AlertInputs(now: .now(), status: snapshot(state: "draining", workers: 0)))
    #expect(ms.allSatisfy { !$0.breached })
  }

  @Test func bodyShape() {
    let m = AlertMeasurement(
      key: AlertKey(.backlog, "email"), breached: true, value: .int(5), threshold: .int(3),
      pool: "email")
    let body = AlertBody.json(AlertTransition(.firing, m), at: Timestamp(micros: 0))
    #expect(
      body.render()
        == #"{"alert":"backlog","state":"firing","pool":"email","job":null,"value":5,"#
        + #""threshold":3,"at":"1970-01-01T00:00:00.000000Z"}"#)
  }
}
