public import DroverCore

/// Dependencies on SQLite: edges in `job_parents`, waiting jobs released or cancelled in the
/// transaction that settles their parents.
///
/// A waiting job is decided by reading its edges, never by a counter: it is cancelled when a
/// parent is dead or cancelled and its policy is `cancel`; otherwise it is released once no
/// parent is unfinished (a pruned parent had finished). Only a job still `waiting` is ever
/// touched, so a parent that completes again (retried after an earlier failure) cannot
/// release a child twice.
extension SQLiteStore {
  static let edgeInsertSQL: SQLText =
    "INSERT OR IGNORE INTO job_parents (child, parent) VALUES (?1, ?2)"
  static let parentStatesSQL: SQLText = """
    SELECT e.parent, p.state FROM job_parents AS e LEFT JOIN jobs AS p ON p.id = e.parent
    WHERE e.child = ?1 ORDER BY e.parent
    """
  static let releaseSQL: SQLText = """
    UPDATE jobs SET state = CASE WHEN run_at > ?2 THEN 0 ELSE 1 END, run_at = max(run_at, ?2)
    WHERE id = ?1 AND state = 6 RETURNING state
    """
  static let cancelWaitingSQL: SQLText =
    "UPDATE jobs SET state = 4, finished_at = ?2 WHERE id = ?1 AND state = 6"

  /// A waiting job, as the release and cancel decisions need it.
  struct WaitingJob {
    var id: JobID
    var type: String
    var policy: ParentFailurePolicy
    var attempts: Int
  }

  /// What `settle` did to a waiting job.
  enum WaitOutcome {
    case stays
    case released(JobState)
    case cancelled
  }

  /// Checks that every id parent of `job` exists.
  ///
  /// - Throws: `.invalidInput` naming the job's position and the unknown id.
  func requireParents(_ job: EnqueueParams, index: Int, of count: Int) throws(StoreError) {
    for case .job(let id) in job.parents {
      guard try db.int64("SELECT state FROM jobs WHERE id = ?1", id) != nil else {
        let which = count == 1 ? "job" : "job \(index + 1) of \(count)"
        throw .invalidInput("\(which) (\(job.type)): unknown parent #\(id)")
      }
    }
  }

  /// After a call's rows are in: the edges of its jobs with parents, then each of them settled
  /// in dependency order (a job cancelled at insert because its parent was already dead
  /// cancels its own children of the same call). Returns the types released to `queued`.
  func linkInserted(
    _ jobs: [EnqueueParams], _ results: [EnqueueResult], now: Timestamp
  ) throws(StoreError) -> ChildSettlement {
    let graph = jobs.map { job in
      job.parents.compactMap { p -> Int? in if case .batch(let k) = p { k } else { nil } }
    }
    var out = ChildSettlement()
    for i in DependencyHold.topologicalOrder(graph) {
      let job = jobs[i]
      guard !job.parents.isEmpty, !results[i].existed else { continue }
      let child = results[i].id
      for p in job.parents {
        let parent: JobID =
          switch p {
          case .job(let id): id
          case .batch(let k): results[k].id
          }
        if parent != child { try db.run(Self.edgeInsertSQL, child, parent) }
      }
      let w = WaitingJob(id: child, type: job.type, policy: job.onParentFailure, attempts: 0)
      switch try settle(w, now: now) {
      case .released(.queued): out.queued.append(job.type)
      case .released: out.scheduled = true
      case .cancelled: out.cancelled.append(SettledChild(id: child, type: job.type))
      case .stays: break
      }
    }
    return out
  }

  /// Decides one waiting job from its parents' rows now.
  func settle(_ w: WaitingJob, now: Timestamp) throws(StoreError) -> WaitOutcome {
    let st = try db.prepare(Self.parentStatesSQL)
    try st.bind(w.id)
    var failed: (JobID, JobState)?
    var open = false
    while try st.step() {
      guard let code = st.optionalInt64(1) else { continue }
      let state = JobState(rawValue: Int(code)) ?? .dead
      if !state.isFinal { open = true }
      if failed == nil, state == .dead || state == .cancelled { failed = (st.int64(0), state) }
    }
    st.reset()
    if let (parent, state) = failed, w.policy == .cancel {
      try cancelWaiting(w, because: "parent #\(parent) \(state.name)", now: now)
      return .cancelled
    }
    if open { return .stays }
    let r = try db.prepare(Self.releaseSQL)
    defer { r.reset() }
    try r.bind(w.id, now)
    guard try r.step() else { return .stays }
    let state: JobState = r.int(0) == 0 ? .scheduled : .queued
    move(w.type, from: .waiting, to: state)
    return .released(state)
  }

  private func cancelWaiting(_ w: WaitingJob, because reason: String, now: Timestamp)
    throws(StoreError)
  {
    try db.run(Self.cancelWaitingSQL, w.id, now)
    try db.run(Self.errorInsertSQL, w.id, w.attempts, reason, now, nil as Int64?)
    move(w.type, from: .waiting, to: .cancelled)
  }

  private static func waitingJob(_ st: SQLiteStatement) -> WaitingJob {
    WaitingJob(
      id: st.int64(0), type: st.text(1),
      policy: ParentFailurePolicy(rawValue: st.int(2)) ?? .cancel, attempts: st.int(3))
  }

  /// The waiting children of every job in `parents`, a statement per 64 parents, each with its
  /// parent: in the order of their parents, then by id; a child of two of them is listed once,
  /// under the first.
  private func waitingChildren(ofAll parents: [JobID]) throws(StoreError)
    -> [(parent: JobID, child: WaitingJob)]
  {
    var found: [(Int, WaitingJob)] = []
    var out: [(parent: JobID, child: WaitingJob)] = []
    var seen = Set<JobID>()
    let sql = Self.waitingChildrenOfAllSQL
    for chunk in SQLRowsText.chunks(parents.count) {
      let st = try db.prepare(sql, rows: chunk.count)
      defer { st.reset() }
      for (r, i) in chunk.enumerated() { try st.bind(row: r, of: sql, parents[i], i) }
      while try st.step() { found.append((st.int(4), Self.waitingJob(st))) }
    }
    // Sorted here rather than by an ORDER BY, whose sorter every statement would set up even
    // when (as in most turns) no parent has a child.
    found.sort { ($0.0, $0.1.id) < ($1.0, $1.1.id) }
    for (i, child) in found where seen.insert(child.id).inserted {
      out.append((parents[i], child))
    }
    return out
  }

  /// The waiting children of many parents: (parent id, its position) per row.
  static let waitingChildrenOfAllSQL = SQLRowsText(
    head: "SELECT c.id, c.type, c.on_parent_failure, c.attempts, v.column2 FROM",
    tail: """
      CROSS JOIN job_parents AS e ON e.parent = v.column1 CROSS JOIN jobs AS c ON c.id = e.child
      WHERE c.state = 6
      """, width: 2, shared: 0)

  /// Settles the waiting children of jobs that just reached a final state, and on down
  /// through children cancelled on the way. Returns the released jobs' types (`queued`) and
  /// whether one became `scheduled`.
  func resolveChildren(of parents: [JobID], now: Timestamp) throws(StoreError)
    -> ChildSettlement
  {
    var out = ChildSettlement()
    var frontier = parents
    while !frontier.isEmpty {
      var next: [JobID] = []
      // All of the frontier's children at once (a busy turn settles many parents, most with
      // no children at all); each is decided from its parents' rows as they are now.
      for (_, child) in try waitingChildren(ofAll: frontier) {
        switch try settle(child, now: now) {
        case .released(.queued): out.queued.append(child.type)
        case .released: out.scheduled = true
        case .cancelled:
          next.append(child.id)
          out.cancelled.append(SettledChild(id: child.id, type: child.type))
        case .stays: break
        }
      }
      frontier = next
    }
    return out
  }

  /// `cancel --cascade`: every waiting descendant of `root` becomes cancelled ("parent #N
  /// cancelled"), whatever its policy. Returns how many.
  func cancelSubtree(of root: JobID, now: Timestamp) throws(StoreError) -> Int {
    var n = 0
    var frontier = [root]
    while !frontier.isEmpty {
      var next: [JobID] = []
      for (parent, child) in try waitingChildren(ofAll: frontier) {
        try cancelWaiting(child, because: "parent #\(parent) cancelled", now: now)
        next.append(child.id)
        n += 1
      }
      frontier = next
    }
    return n
  }

  static let parentLinksSQL: SQLText = """
    SELECT e.parent, p.state FROM job_parents AS e LEFT JOIN jobs AS p ON p.id = e.parent
    WHERE e.child = ?1 ORDER BY e.parent
    """
  static let childLinksSQL: SQLText = """
    SELECT e.child, c.state FROM job_parents AS e LEFT JOIN jobs AS c ON c.id = e.child
    WHERE e.parent = ?1 ORDER BY e.child
    """

  /// The parents and children of `id` with their states (inside the caller's transaction).
  func loadLinks(_ id: JobID) throws(StoreError) -> (parents: [JobLink], children: [JobLink]) {
    func links(_ sql: SQLText) throws(StoreError) -> [JobLink] {
      let st = try db.prepare(sql)
      defer { st.reset() }
      try st.bind(id)
      var out: [JobLink] = []
      while try st.step() {
        out.append(
          JobLink(
            id: st.int64(0), state: st.optionalInt64(1).flatMap { JobState(rawValue: Int($0)) }))
      }
      return out
    }
    return (try links(Self.parentLinksSQL), try links(Self.childLinksSQL))
  }

  /// The ids among `ids` that name no job, ascending.
  public func missingJobs(_ ids: [JobID]) throws(StoreError) -> [JobID] {
    guard !ids.isEmpty else { return [] }
    return try db.transaction(write: false) { () throws(StoreError) in
      var missing: [JobID] = []
      for id in Set(ids).sorted()
      where try db.int64("SELECT state FROM jobs WHERE id = ?1", id) == nil {
        missing.append(id)
      }
      return missing
    }
  }
}
