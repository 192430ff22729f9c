import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

/// One control-socket enqueue waiting for this turn's commit.
struct PendingEnqueue {
  let conn: ControlConnection
  let slot: Int
  let params: EnqueueParams
  /// Whether a pool runs the job's type (no: the reply carries a warning).
  let pooled: Bool
}

/// Dispatch: the per-turn group commit (enqueue, settle, progress, promote, claim) and the
/// hand-out of claimed jobs to workers.
extension Supervisor {
  /// Whether new jobs may be handed to `pool` now.
  func dispatching(_ p: PoolState) -> Bool {
    state != .stopping && !p.paused && !p.removed
  }

  /// One transaction for everything this turn produced (new jobs from the control socket,
  /// finishes, progress, start times, promotion, claims), then the replies and the claimed
  /// jobs go out. A job enqueued this turn can be claimed in the same transaction.
  func commit() {
    let now = Timestamp.now()
    if let due = nextDue, due <= now { promoteDue = true }
    let enqueues = takeValidEnqueues(now: now)
    var claimPools: [PoolState] = []
    var claims: [ClaimParams] = []
    for p in pools where dispatching(p) && p.maybeHasWork {
      let free = p.workers.reduce(0) { $0 + $1.freeSlots }
      guard free > 0 else { continue }
      claimPools.append(p)
      claims.append(ClaimParams(types: p.config.types, limit: free))
    }
    let batch = StoreBatch(
      enqueues: enqueues.map(\.params), finishes: pendingFinishes, progress: pendingProgress,
      started: pendingStarts, promoteDue: promoteDue, claims: claims, now: now)
    guard !batch.isEmpty else { return }
    let result: BatchResult
    do {
      result = try store.apply(batch)
    } catch {
      // Keep the finishes for the next turn: nothing is lost, only later. The enqueues were
      // not acknowledged, so their clients hear that they failed.
      log(.error, "group commit failed, will retry: \(error)")
      commitFailedNS = Monotonic.nanoseconds()
      for e in enqueues { e.conn.fill(e.slot, errorReply("not enqueued: \(error)")) }
      return
    }
    commitFailedNS = nil
    let hadRetries = pendingFinishes.contains {
      if case .outcome(.completed) = $0.settlement { return false }
      return true
    }
    pendingFinishes.removeAll(keepingCapacity: true)
    pendingProgress.removeAll(keepingCapacity: true)
    pendingStarts.removeAll(keepingCapacity: true)
    acknowledge(enqueues, result.enqueued)
    if promoteDue || hadRetries || enqueues.contains(where: { $0.params.runAt > now }) {
      refreshNextDue()
    }
    if result.promoted > 0 { for p in pools { p.maybeHasWork = true } }
    promoteDue = false
    let nowNS = Monotonic.nanoseconds()
    for (i, p) in claimPools.enumerated() {
      let jobs = result.claimed[i]
      if jobs.count < claims[i].limit { p.maybeHasWork = false }
      hand(jobs, to: p, nowNS: nowNS)
    }
  }

  /// Spreads claimed jobs over the pool's workers, least loaded first.
  func hand(_ jobs: [ClaimedJob], to p: PoolState, nowNS: Int64) {
    var next = 0
    while next < jobs.count {
      guard
        let w = p.workers.lazy.filter({ $0.freeSlots > 0 }).min(by: {
          $0.inFlight.count < $1.inFlight.count
        })
      else {
        // Cannot happen (we claimed no more than the free slots); give them back if it does.
        for j in jobs[next...] {
          pendingFinishes.append(FinishParams(id: j.id, settlement: .released))
        }
        p.maybeHasWork = true
        return
      }
      let j = jobs[next]
      next += 1
      w.inFlight.append(
        WorkerHandle.InFlight(
          id: j.id, attempt: j.attempt, type: j.type, assignedNS: nowNS, startedNS: nil))
      w.promoteStarted(nowNS: nowNS)
      FrameEncoder.append(
        SupervisorMessage.assign(
          Assignment(
            id: j.id, attempt: j.attempt, maxAttempts: j.maxAttempts, type: j.type,
            payload: j.payload)),
        to: &w.outBuffer)
    }
  }

  /// This turn's control-socket enqueues that pass validation, as store params; the others
  /// are answered with their error at once. Pools that run the new jobs' types may have work.
  func takeValidEnqueues(now: Timestamp) -> [PendingEnqueue] {
    guard !pendingEnqueues.isEmpty else { return [] }
    var valid: [PendingEnqueue] = []
    valid.reserveCapacity(pendingEnqueues.count)
    for (conn, slot, request) in pendingEnqueues {
      let pool = config.pool(forType: request.type)
      let params = request.params(now: now, defaultMaxAttempts: pool?.maxAttempts ?? 20)
      do throws(StoreError) {
        try params.validate()
      } catch {
        conn.fill(slot, errorReply(error.description))
        continue
      }
      if let pool { self.pool(named: pool.name)?.maybeHasWork = true }
      valid.append(PendingEnqueue(conn: conn, slot: slot, params: params, pooled: pool != nil))
    }
    pendingEnqueues.removeAll(keepingCapacity: true)
    return valid
  }

  /// Replies to committed enqueues: `{"ok":true,"id":N}`, with `existed` for a live unique key
  /// and a warning when no pool runs the type.
  func acknowledge(_ enqueues: [PendingEnqueue], _ results: [EnqueueResult]) {
    for (e, r) in zip(enqueues, results) {
      var fields: [JSONField] = [JSONField("ok", true), JSONField("id", .int(r.id))]
      if r.existed { fields.append(JSONField("existed", true)) }
      if !e.pooled {
        fields.append(JSONField("warning", .string("no pool runs type \"\(e.params.type)\"")))
      }
      e.conn.fill(e.slot, JSONValue.object(fields).render())
    }
  }

  func refreshNextDue() {
    nextDue = try? store.nextScheduled()
  }
}
