import DroverCore
import Testing

/// The `drover why` line for each state and each thing that holds a queued job.
@Suite struct JobExplanationTests {
  let now = Timestamp(micros: 1_800_000_000_000_000)
  func job(_ state: JobState, attempts: Int = 0, errors: [String] = []) -> Job {
    Job(
      id: 7, type: "email", state: state, attempts: attempts, maxAttempts: 5,
      errors: errors.enumerated().map {
        JobError(attempt: $0.offset + 1, message: $0.element, at: now, workerPID: nil)
      }, createdAt: now, runAt: now)
  }
  func facts(_ sup: WhyFacts.SupervisorView?, ahead: Int = 0, capped: Bool = false) -> WhyFacts {
    WhyFacts(
      pool: "mail", pools: ["mail", "img"], supervisor: sup, readyAhead: ahead,
      readyAheadCapped: capped)
  }
  func view(
    _ state: String = "running", paused: Bool = false, crash: Bool = false, workers: Int = 2,
    busy: Int = 0
  ) -> WhyFacts.SupervisorView {
    .init(state: state, paused: paused, crashLooping: crash, workers: workers, busy: busy)
  }
  func line(_ j: Job, _ f: WhyFacts) -> String { JobExplanation.line(j, f, now: now) }

  @Test func aHeldJobNamesItsLimitItsKeyAndWhatReleasesIt() {
    var q = job(.queued)
    q.held = true
    let conc = PoolLimits(pool: "mail", types: ["email"], keyField: "account", concurrency: 5)
    var f = facts(view())
    f.limitHold = .init(
      limits: conc, key: "acme",
      state: LimitKeyState(running: 5, tokens: 0, tokensAt: now, held: 12))
    #expect(
      line(q, f)
        == #"held by concurrency_limit 5 for key "acme" (5 running, 12 held); it is released "#
        + "when one of them ends")
    let rate = PoolLimits(
      pool: "mail", types: ["email"], rate: RateLimit(limit: 2, per: .seconds(1)))
    f.limitHold = .init(
      limits: rate, key: "", state: LimitKeyState(tokens: 0, tokensAt: now, held: 3), capped: false)
    #expect(
      line(q, f)
        == "held by rate 2/1s for the pool (no key) (bucket empty, 3 held); the next token comes "
        + "at \(now.adding(.milliseconds(500)).rfc3339) (in 500ms)")
    f.limitHold = .init(
      limits: rate, key: "k",
      state: LimitKeyState(
        tokens: 1, tokensAt: now, blockedUntil: now.adding(.seconds(30)), held: 1))
    #expect(line(q, f).hasPrefix(#"held for key "k": its handler reported it rate limited"#))
    #expect(line(q, f).contains("(in 30s; 1 held)"))
  }

  @Test func aQueuedJobSaysWhatHoldsIt() {
    let q = job(.queued)
    #expect(
      line(q, WhyFacts(pool: nil, pools: ["mail", "img"]))
        == #"queued, but no pool runs type "email" (pools: mail, img); add it to a pool's types"#)
    #expect(line(q, facts(nil)).contains("no supervisor is running"))
    #expect(line(q, facts(view("drained"))).contains("the supervisor is drained"))
    #expect(line(q, facts(view("draining"))).contains("the supervisor is drained"))
    #expect(line(q, facts(view("stopping"))).contains("shutting down"))
    #expect(
      line(q, facts(view(paused: true)))
        == "queued; pool mail is drained (`drover ctl resume mail`)")
    #expect(line(q, facts(view(crash: true))).contains("crash-looping"))
    #expect(
      line(q, facts(view(workers: 0))) == "ready, next in line; pool mail has no worker up yet")
    #expect(
      line(q, facts(view(busy: 2), ahead: 3))
        == "ready, 3 ready jobs ahead of it; waiting for a free worker (pool mail: 2 of 2 workers busy)"
    )
    #expect(
      line(q, facts(view(busy: 2), ahead: 10_000, capped: true))
        .hasPrefix("ready, more than 10000 ready jobs ahead of it"))
    #expect(line(q, facts(view(busy: 1))).contains("has an idle worker"))
  }

  @Test func otherStatesSayWhereTheJobIs() {
    var s = job(.scheduled, attempts: 1, errors: ["Traceback:\n  line 1\nValueError: bad\n"])
    s.runAt = Timestamp(micros: now.micros + 190_000_000)
    #expect(
      line(s, facts(view()))
        == "scheduled for \(s.runAt.rfc3339), in 3m 10s (attempt 2 of 5 after: ValueError: bad)")
    s.runAt = Timestamp(micros: now.micros - 1)
    #expect(line(s, facts(nil)).contains("no supervisor is running to queue it"))

    var r = job(.running, attempts: 1)
    r.workerPID = 4121
    r.startedAt = Timestamp(micros: now.micros - 62_000_000)
    #expect(
      line(r, facts(nil))
        == "running attempt 2 of 5 on worker 4121 since \(r.startedAt!.rfc3339) (1m 2s)")
    var d = job(.dead, attempts: 5, errors: ["a", "worker 9 exited on signal 9"])
    d.finishedAt = now
    #expect(line(d, facts(nil)).hasPrefix("dead after 5 attempts: worker 9 exited on signal 9"))
    var c = job(.completed, attempts: 1)
    c.finishedAt = now
    #expect(line(c, facts(nil)) == "completed at \(now.rfc3339) after 1 attempt")
  }

  @Test func aWaitingJobNamesItsOpenParents() {
    var w = job(.waiting)
    w.parents = [JobLink(id: 3, state: .completed), JobLink(id: 4, state: .running)]
    #expect(line(w, facts(nil)) == "waiting on parent #4 (1 of 2 done)")
  }

  @Test func durationsAreRoughToTwoUnits() {
    #expect(JobExplanation.roughly(250_000) == "250ms")
    #expect(JobExplanation.roughly(59_000_000) == "59s")
    #expect(JobExplanation.roughly(3_723_000_000) == "1h 2m")
    #expect(JobExplanation.roughly(90_000_000_000) == "1d 1h")
  }
}
