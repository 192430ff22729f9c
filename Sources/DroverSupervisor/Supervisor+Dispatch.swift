import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

/// Dispatch: the per-turn group commit (settle, progress, promote, claim) and the hand-out of
/// claimed jobs to workers.
extension Supervisor {
  /// Whether new jobs may be handed to `pool` now.
  func dispatching(_ p: PoolState) -> Bool {
    state != .stopping && !p.paused && !p.removed
  }

  /// One transaction for everything this turn produced, then the claimed jobs go out.
  func commit() {
    let now = Timestamp.now()
    if let due = nextDue, due <= now { promoteDue = true }
    var claimPools: [PoolState] = []
    var claims: [ClaimParams] = []
    for p in pools where dispatching(p) && p.maybeHasWork {
      let free = p.workers.reduce(0) { $0 + $1.freeSlots }
      guard free > 0 else { continue }
      claimPools.append(p)
      claims.append(ClaimParams(types: p.config.types, limit: free))
    }
    let batch = StoreBatch(
      finishes: pendingFinishes, progress: pendingProgress, started: pendingStarts,
      promoteDue: promoteDue,
      claims: claims, now: now)
    guard !batch.isEmpty else { return }
    let result: BatchResult
    do {
      result = try store.apply(batch)
    } catch {
      // Keep the finishes for the next turn: nothing is lost, only later.
      log(.error, "group commit failed, will retry: \(error)")
      return
    }
    let hadRetries = pendingFinishes.contains {
      if case .outcome(.completed) = $0.settlement { return false }
      return true
    }
    pendingFinishes.removeAll(keepingCapacity: true)
    pendingProgress.removeAll(keepingCapacity: true)
    pendingStarts.removeAll(keepingCapacity: true)
    if promoteDue || hadRetries { refreshNextDue() }
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
        let w = p.workers.filter({ $0.freeSlots > 0 }).min(by: {
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
          Assignment(id: j.id, attempt: j.attempt, type: j.type, payload: j.payload)),
        to: &w.outBuffer)
    }
  }

  /// Control-socket enqueues of this turn: one transaction, then the replies.
  func commitEnqueues() {
    guard !pendingEnqueues.isEmpty else { return }
    let items = pendingEnqueues
    pendingEnqueues.removeAll()
    let now = Timestamp.now()
    let params = items.map {
      $0.request.params(
        now: now, defaultMaxAttempts: config.pool(forType: $0.request.type)?.maxAttempts ?? 20)
    }
    var results: [Result<EnqueueResult, StoreError>]
    do {
      results = try store.enqueue(params).map { .success($0) }
    } catch {
      // One bad job must not fail the others pipelined with it: retry one by one.
      results = params.map { p in
        do throws(StoreError) {
          return .success(try store.enqueue([p])[0])
        } catch {
          return .failure(error)
        }
      }
    }
    var delayed = false
    for (item, r) in zip(items, results) {
      switch r {
      case .success(let e):
        var fields: [JSONField] = [JSONField("ok", true), JSONField("id", .int(e.id))]
        if e.existed { fields.append(JSONField("existed", true)) }
        if config.pool(forType: item.request.type) == nil {
          fields.append(
            JSONField("warning", .string("no pool runs type \"\(item.request.type)\"")))
        }
        item.conn.fill(item.slot, JSONValue.object(fields).render())
        if let p = config.pool(forType: item.request.type) {
          pool(named: p.name)?.maybeHasWork = true
        }
        if item.request.delay != nil || item.request.at != nil { delayed = true }
      case .failure(let e):
        item.conn.fill(item.slot, errorReply(e.description))
      }
    }
    if delayed { refreshNextDue() }
  }

  func refreshNextDue() {
    nextDue = try? store.nextScheduled()
  }
}
