import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

/// One enqueue request of this turn, validated, waiting for the commit.
struct PendingEnqueue {
  let params: EnqueueParams
  let reply: (ControlReply) -> Void
  /// Whether a pool runs the job's type (no: the reply carries a warning).
  let pooled: Bool
}

/// What the event and the log line of one pending finish need.
struct FinishInfo {
  let type: String
  let pool: String
  let workerPID: Int32
  /// How long the attempt ran (nil: it never started), for the log line.
  var ranFor: Duration? = nil
}

/// Dispatch: the per-turn group commit (enqueue, settle, progress, promote, claim), the
/// hand-out of claimed jobs to workers, and the events of what became durable.
extension Supervisor {
  /// Whether new jobs may be handed to `pool` now.
  func dispatching(_ p: PoolState) -> Bool {
    state != .stopping && !p.paused && !p.removed
  }

  /// One transaction for everything this turn produced (new jobs, finishes, progress, start
  /// times, promotion, claims), leased to this supervisor; then the replies, the claimed jobs
  /// and the events go out. A job enqueued this turn can be claimed in the same transaction.
  func commit() {
    releasedWork = false
    let now = clock.wall()
    if let due = nextDue, due <= now { promoteDue = true }
    if let at = nextLimitAt, at <= now { promoteDue = true }
    let enqueues = takeValidEnqueues(now: now)
    if let lost = storageLost {
      for e in enqueues { e.reply(.failure("not enqueued: \(lost)")) }
      if !pendingFinishes.isEmpty {
        log(.critical, "\(pendingFinishes.count) outcomes not stored (\(lost))")
      }
      pendingFinishes.removeAll()
      pendingFinishInfo.removeAll()
      pendingProgress.removeAll()
      pendingProgressTypes.removeAll()
      pendingStarts.removeAll()
      publishPendingEvents()
      return
    }
    var claimPools: [(pool: PoolState, plan: [WorkerHandle])] = []
    var claims: [ClaimParams] = []
    // A pool left out here (paused, stopping, removed) is listed again by whatever lets it
    // dispatch again (resume, reload), which sets `maybeHasWork`.
    for p in workList.take() where dispatching(p) && p.maybeHasWork {
      let plan = p.handOutPlan()
      guard !plan.isEmpty else {
        // No free slot now: try again next turn, as a finish may free one.
        workList.add(p)
        continue
      }
      claimPools.append((p, plan))
      claims.append(
        ClaimParams(types: p.config.types, workers: plan.map(\.pid), limits: p.config.limits))
    }
    streaming = events.hasSubscribers
    var batch = StoreBatch(
      enqueues: enqueues.map(\.params), finishes: pendingFinishes, progress: pendingProgress,
      started: pendingStarts, promoteDue: promoteDue, claims: claims, now: now, owner: owner)
    batch.limits = poolLimits
    batch.sweepLimits =
      sweepLimitsNext || (!poolLimits.isEmpty && limitSweep.due(clock.monotonic()))
    guard !batch.isEmpty else {
      publishPendingEvents()
      return
    }
    let result: BatchResult
    let started = clock.monotonic()
    do {
      result = try store.apply(batch)
    } catch {
      // Keep the finishes for the next turn: nothing is lost, only later. The enqueues were
      // not acknowledged, so their clients hear that they failed.
      for e in enqueues { e.reply(.failure("not enqueued: \(error)")) }
      for (p, _) in claimPools { workList.add(p) }
      if error.kind == .corrupt {
        // Retrying a damaged file only repeats the error forever.
        storageFailed(error)
        return
      }
      // Once per run of failures, not at every turn of an outage.
      if commitError == nil { log(.error, "group commit failed, will retry: \(error)") }
      commitFailedAt = clock.monotonic()
      commitError = error.description
      return
    }
    lastCommit = clock.monotonic() - started
    if batch.sweepLimits { sweepLimitsNext = false }
    commitFailedAt = nil
    commitError = nil
    storeUnreachable = nil
    let hadRetries = pendingFinishes.contains {
      if case .outcome(.completed) = $0.settlement { return false }
      return true
    }
    noteDurable(result, enqueues: enqueues, at: now)
    pendingFinishes.removeAll(keepingCapacity: true)
    pendingFinishInfo.removeAll(keepingCapacity: true)
    pendingProgress.removeAll(keepingCapacity: true)
    pendingProgressTypes.removeAll(keepingCapacity: true)
    pendingStarts.removeAll(keepingCapacity: true)
    if promoteDue || hadRetries || enqueues.contains(where: { $0.params.runAt > now }) {
      refreshNextDue()
    }
    if result.promoted > 0 { for p in pools { p.maybeHasWork = true } }
    if !batch.limits.isEmpty || batch.sweepLimits { nextLimitAt = result.nextLimitAt }
    if result.releasedScheduled { refreshNextDue() }
    noteReleased(result.released)
    promoteDue = false
    let handedAt = clock.monotonic()
    for (i, (p, plan)) in claimPools.enumerated() {
      let jobs = result.claimed[i]
      if jobs.count < claims[i].limit { p.maybeHasWork = false } else { workList.add(p) }
      hand(jobs, to: p, plan: plan, now: handedAt, at: now)
    }
    noteLimitWork(result.limitWork)
    publishPendingEvents()
  }

  /// What a successful commit made durable: replies to enqueues, then events and log lines
  /// for new jobs, progress and settled attempts (before this point nothing is announced).
  func noteDurable(_ result: BatchResult, enqueues: [PendingEnqueue], at now: Timestamp) {
    for (e, r) in zip(enqueues, result.enqueued) {
      e.reply(
        .enqueued(
          id: r.id, existed: r.existed,
          warning: e.pooled ? nil : "no pool runs type \"\(e.params.type)\""))
      if streaming && !r.existed {
        let state: JobState =
          !e.params.parents.isEmpty ? .waiting : e.params.runAt > now ? .scheduled : .queued
        pendingEvents.append(
          LifecycleEvent(
            at: now, .created(id: r.id, type: e.params.type, state: state, runAt: e.params.runAt)))
      }
    }
    for (i, (id, pct)) in pendingProgress.enumerated() where streaming {
      pendingEvents.append(
        LifecycleEvent(at: now, .progress(id: id, type: pendingProgressTypes[i], percent: pct)))
    }
    for (i, r) in result.finished.enumerated() {
      settled(r, pendingFinishes[i].settlement, pendingFinishInfo[i], at: now)
    }
    // Cancelled because a parent died or was cancelled: announced as any cancel is.
    for c in result.cancelledWaiting {
      pendingEvents.append(LifecycleEvent(at: now, .cancelled(id: c.id, type: c.type)))
    }
  }

  /// The event and log line of one stored finish.
  func settled(_ r: FinishResult, _ s: Settlement, _ info: FinishInfo, at now: Timestamp) {
    // Built only when a line is written: this runs for every job.
    func meta() -> Logger.Metadata {
      [
        "job_id": "\(r.id)", "type": "\(info.type)", "attempt": "\(r.attempt)",
        "worker_pid": "\(info.workerPID)",
      ]
    }
    guard let state = r.state else {
      // Not ours any more (rescued by a peer after our lease ran out), or already settled.
      log(.warning, "a finish was not stored: the job is no longer this supervisor's", meta())
      return
    }
    let kind: LifecycleEvent.Kind?
    let error = r.error ?? s.errorText
    switch state {
    case .completed:
      // Routine: built only for live subscribers (the common case costs nothing here).
      kind =
        streaming
        ? .completed(
          id: r.id, type: info.type, attempt: r.attempt, pool: info.pool,
          workerPID: info.workerPID) : nil
    case .dead:
      kind = .dead(
        id: r.id, type: info.type, attempt: r.attempt, pool: info.pool,
        workerPID: info.workerPID, error: error ?? "")
    case .cancelled:
      kind = .cancelled(id: r.id, type: info.type)
    case .waiting, .scheduled, .queued, .running:
      switch s {
      case .released: kind = nil
      case .outcome(.snooze):
        kind = streaming ? .snoozed(id: r.id, type: info.type, retryAt: r.retryAt) : nil
      default:
        kind = .failed(
          id: r.id, type: info.type, attempt: r.attempt, pool: info.pool,
          workerPID: info.workerPID, error: error ?? "", retryAt: r.retryAt)
      }
    }
    if let kind { pendingEvents.append(LifecycleEvent(at: now, kind)) }
    logSettled(r, s, info, state: state, error: error, meta: meta)
  }

  /// The log line of a stored finish: failures, retries and deaths at info or above with the
  /// error and the run time; completions, releases and snoozes at debug.
  func logSettled(
    _ r: FinishResult, _ s: Settlement, _ info: FinishInfo, state: JobState, error: String?,
    meta: () -> Logger.Metadata
  ) {
    let routine: Bool
    switch s {
    case .released, .outcome(.completed), .outcome(.snooze): routine = true
    default: routine = false
    }
    if routine && logger.logLevel > .debug { return }
    var m = meta()
    if let d = info.ranFor { m["duration_ms"] = "\(Int(d.fractionalMilliseconds.rounded()))" }
    if let error, !routine { m["error"] = "\(error)" }
    switch (s, state) {
    case (.released, _): logger.debug("job given back unstarted", metadata: m)
    case (.outcome(.completed), _): logger.debug("job completed", metadata: m)
    case (.outcome(.snooze), _): logger.debug("job snoozed", metadata: m)
    case (.outcome(.cancelled), _): log(.info, "job cancelled", m)
    case (_, .dead): log(.warning, "job dead after \(r.attempt) attempts: \(error ?? "")", m)
    case (.interrupted, _): log(.notice, "job interrupted, queued again: \(error ?? "")", m)
    default:
      if let at = r.retryAt { m["retry_at"] = "\(at.rfc3339)" }
      log(.warning, "job failed, will retry: \(error ?? "")", m)
    }
  }

  /// Hands this turn's events to the subscribers (after the commit that made them durable).
  func publishPendingEvents() {
    guard !pendingEvents.isEmpty else { return }
    events.publish(pendingEvents)
    pendingEvents.removeAll(keepingCapacity: true)
  }

  /// Spreads claimed jobs over the pool's workers, least loaded first.
  ///
  /// `plan` is the claim's worker for each job (`PoolState.handOutPlan`), as the store recorded
  /// it: job i goes to `plan[i]`.
  func hand(
    _ jobs: [ClaimedJob], to p: PoolState, plan: [WorkerHandle], now: MonotonicInstant,
    at wall: Timestamp
  ) {
    var next = 0
    while next < jobs.count {
      guard next < plan.count, plan[next].freeSlots > 0 else {
        // Cannot happen (we claimed no more than the free slots); give them back if it does.
        for j in jobs[next...] {
          pendingFinishes.append(FinishParams(id: j.id, settlement: .released))
          pendingFinishInfo.append(FinishInfo(type: j.type, pool: p.name, workerPID: 0))
        }
        p.maybeHasWork = true
        return
      }
      let w = plan[next]
      let j = jobs[next]
      next += 1
      // A frame the worker would refuse (over `maxFrameSize`) would kill it at every dispatch
      // and spend the attempts of the jobs beside it: fail only this job, permanently.
      let before = w.outBuffer.count
      FrameEncoder.append(
        SupervisorMessage.assign(
          Assignment(
            id: j.id, attempt: j.attempt, maxAttempts: j.maxAttempts, snoozes: j.snoozes,
            type: j.type, payload: j.payload, traceparent: j.traceparent ?? "")),
        to: &w.outBuffer)
      let frameSize = w.outBuffer.count - before - 4
      if frameSize > maxFrameSize {
        w.outBuffer.removeLast(w.outBuffer.count - before)
        pendingFinishes.append(
          FinishParams(
            id: j.id,
            settlement: .outcome(
              .permanent(
                "its assignment frame is \(frameSize) bytes, more than the worker frame limit "
                  + "(\(maxFrameSize) bytes); the payload is \(j.payload.utf8.count) bytes "
                  + "(store.max_payload refuses such payloads at enqueue)")),
            backoff: p.config.backoff))
        pendingFinishInfo.append(FinishInfo(type: j.type, pool: p.name, workerPID: 0))
        continue
      }
      noteOutput(w)
      w.inFlight.append(
        WorkerHandle.InFlight(
          id: j.id, attempt: j.attempt, type: j.type, snoozes: j.snoozes, assignedAt: now))
      w.promoteStarted(now: now)
      if streaming {
        pendingEvents.append(
          LifecycleEvent(
            at: wall,
            .started(
              id: j.id, type: j.type, attempt: j.attempt, pool: p.name, workerPID: w.pid,
              runAt: j.runAt), traceparent: j.traceparent))
      }
    }
  }

  func refreshNextDue() {
    nextDue = try? store.nextScheduled()
  }
}

extension Settlement {
  /// The error text this settlement records, if any.
  var errorText: String? {
    switch self {
    case .outcome(.retryable(let m)), .outcome(.permanent(let m)), .failed(let m),
      .interrupted(let m):
      m
    default: nil
    }
  }
}
