import DroverCore
import DroverStore
import DroverWire

/// Enqueue requests into the turn's commit (validation, batch groups, dependencies), and the
/// waiting jobs a commit released.
extension Supervisor {
  /// This turn's enqueue requests that pass validation, as store params; the others are
  /// answered with their error at once. Pools that run the new jobs' types may have work.
  ///
  /// Dependencies: a batch's refs become positions in its group, shifted to the group's place
  /// in this turn's commit; parent ids are checked to exist first, so that one request naming
  /// an unknown parent is refused alone instead of failing everyone's commit.
  func takeValidEnqueues(now: Timestamp) -> [PendingEnqueue] {
    guard !pendingEnqueues.isEmpty else { return [] }
    var valid: [PendingEnqueue] = []
    valid.reserveCapacity(pendingEnqueues.count)
    // A batch (`enqueueBatch`) is all or nothing: one refused member refuses its group.
    var refusedGroups: Set<Int> = []
    var validGroups: [Int?] = []
    let parents = resolveParents()
    let missing = missingParents(parents)
    for (i, e) in pendingEnqueues.enumerated() {
      let pool = config.pool(forType: e.request.type)
      var refusal: String?
      switch parents[i] {
      case .failure(let error): refusal = error.message
      case .success(let ps):
        let params = e.request.params(
          now: now, pool: pool, maxPayload: config.store.maxPayload, parents: ps)
        do throws(StoreError) {
          try params.validate(maxPayload: config.store.maxPayload)
          for case .job(let id) in ps where missing.contains(id) {
            throw .invalidInput("unknown parent #\(id)")
          }
          valid.append(PendingEnqueue(params: params, reply: e.reply, pooled: pool != nil))
          validGroups.append(e.group)
        } catch {
          refusal = error.description
        }
      }
      if let refusal {
        e.reply(.failure(refusal))
        if let g = e.group { refusedGroups.insert(g) }
      }
    }
    pendingEnqueues.removeAll(keepingCapacity: true)
    if !refusedGroups.isEmpty {
      var kept: [PendingEnqueue] = []
      var keptGroups: [Int?] = []
      for (e, g) in zip(valid, validGroups) {
        if let g, refusedGroups.contains(g) {
          e.reply(.failure(BatchReply.followed))
        } else {
          kept.append(e)
          keptGroups.append(g)
        }
      }
      valid = kept
      validGroups = keptGroups
    }
    // Positions within a group become positions in this commit's enqueues.
    var base: [Int: Int] = [:]
    for (i, g) in validGroups.enumerated() {
      guard let g else { continue }
      let start = base[g] ?? i
      base[g] = start
      guard start > 0,
        valid[i].params.parents.contains(where: { if case .batch = $0 { true } else { false } })
      else { continue }
      var params = valid[i].params
      params.parents = params.parents.map { p in
        if case .batch(let k) = p { .batch(k + start) } else { p }
      }
      valid[i] = PendingEnqueue(params: params, reply: valid[i].reply, pooled: valid[i].pooled)
    }
    for e in valid { pool(forType: e.params.type)?.maybeHasWork = true }
    return valid
  }

  /// Each pending request's parents: a group's refs resolved within the group (positions from
  /// its first member), a lone request's ids (its refs can name nothing, and are refused).
  private func resolveParents() -> [Result<[JobParentRef], ControlError>] {
    var out: [Result<[JobParentRef], ControlError>] = []
    out.reserveCapacity(pendingEnqueues.count)
    var i = 0
    while i < pendingEnqueues.count {
      var j = i + 1
      if let g = pendingEnqueues[i].group {
        while j < pendingEnqueues.count && pendingEnqueues[j].group == g { j += 1 }
      }
      let members = pendingEnqueues[i..<j].map(\.request)
      if members.allSatisfy({ $0.after.isEmpty }) {
        out += members.map { _ in .success([]) }
      } else {
        do throws(ControlError) {
          out += try EnqueueRequest.resolveParents(members, label: { "jobs[\($0)]" }).map {
            .success($0)
          }
        } catch {
          // The batch's reply names the first refusal: the others only followed it.
          out.append(.failure(error))
          out += members.dropFirst().map { _ in .failure(ControlError(BatchReply.followed)) }
        }
      }
      i = j
    }
    return out
  }

  /// The parent ids named this turn that no job has (one store read, none without parents).
  private func missingParents(_ parents: [Result<[JobParentRef], ControlError>]) -> Set<JobID> {
    var ids: [JobID] = []
    for case .success(let ps) in parents { for case .job(let id) in ps { ids.append(id) } }
    guard !ids.isEmpty else { return [] }
    // A failed read leaves the check to the store, which refuses the whole commit instead.
    return Set((try? store.missingJobs(ids)) ?? [])
  }

  /// Waiting jobs a commit released (`types`, one per job): their pools have work, and when
  /// one of them can take it now, the loop turns again at once to claim it.
  /// Pools whose held jobs a commit released (or whose limited claim stopped early): as
  /// `noteReleased`.
  func noteLimitWork(_ names: Set<String>) {
    for name in names {
      guard let p = pool(named: name) else { continue }
      p.maybeHasWork = true
      if dispatching(p) && p.workers.contains(where: { $0.freeSlots > 0 }) { releasedWork = true }
    }
  }

  func noteReleased(_ types: [String]) {
    guard !types.isEmpty else { return }
    var seen = Set<String>()
    for t in types where seen.insert(t).inserted {
      guard let p = pool(forType: t) else { continue }
      p.maybeHasWork = true
      if dispatching(p) && p.workers.contains(where: { $0.freeSlots > 0 }) { releasedWork = true }
    }
  }
}
