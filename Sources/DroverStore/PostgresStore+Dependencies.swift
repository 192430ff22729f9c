public import DroverCore

/// Dependencies on PostgreSQL: the edges of `drover_job_parents`, settled by the schema's
/// functions (`PostgresSchema`, v3) inside the callers' transactions and pipelines.
extension PostgresStore {
  static let resolveSQL =
    "SELECT o_job, o_state, o_type FROM drover_resolve_children($1::bigint[], $2, $3)"
  static let settleWaitingSQL =
    "SELECT o_job, o_state, o_type FROM drover_settle_waiting($1::bigint[], $2, $3)"
  static let edgesSQL = """
    INSERT INTO drover_job_parents (child, parent)
    SELECT c, p FROM unnest($1::bigint[], $2::bigint[]) AS e(c, p)
    ON CONFLICT DO NOTHING
    """

  /// The statement that settles the waiting children of `parents` (jobs that reached a final
  /// state in this transaction), and on down; its rows are the jobs it changed.
  func resolveStatement(parents: [JobID], now: Timestamp) -> PGStatement {
    PGStatement(Self.resolveSQL, [PGArray.ints(parents), String(now.micros), String(slot)])
  }

  /// The look-up of the existing jobs named as parents by id, or nil when none is.
  func parentCheckStatement(_ jobs: [EnqueueParams]) -> PGStatement? {
    var ids: [JobID] = []
    for j in jobs { for case .job(let id) in j.parents { ids.append(id) } }
    guard !ids.isEmpty else { return nil }
    return PGStatement(
      "SELECT id FROM drover_jobs WHERE id = ANY($1::bigint[])", [PGArray.ints(ids)])
  }

  /// Throws for the first parent id that `found` (the rows of `parentCheckStatement`) lacks.
  ///
  /// - Throws: `.invalidInput` naming the job's position and the unknown id.
  func requireParents(_ jobs: [EnqueueParams], _ found: PGResult) throws(StoreError) {
    let known = Set((0..<found.count).map { found.int64($0, 0) })
    for (i, j) in jobs.enumerated() {
      for case .job(let id) in j.parents where !known.contains(id) {
        let which = jobs.count == 1 ? "job" : "job \(i + 1) of \(jobs.count)"
        throw .invalidInput("\(which) (\(j.type)): unknown parent #\(id)")
      }
    }
  }

  /// The edges of the inserted jobs with parents, then their settlement in dependency order
  /// (one statement each; none when no inserted job has parents).
  func linkStatements(_ jobs: [EnqueueParams], _ results: [EnqueueResult]) -> [PGStatement] {
    var children: [JobID] = []
    var parents: [JobID] = []
    for (i, j) in jobs.enumerated() where !j.parents.isEmpty && !results[i].existed {
      for p in j.parents {
        let parent: JobID =
          switch p {
          case .job(let id): id
          case .batch(let k): results[k].id
          }
        if parent != results[i].id {
          children.append(results[i].id)
          parents.append(parent)
        }
      }
    }
    guard !children.isEmpty else { return [] }
    let graph = jobs.map { job in
      job.parents.compactMap { p -> Int? in if case .batch(let k) = p { k } else { nil } }
    }
    let order = DependencyHold.topologicalOrder(graph).filter {
      !jobs[$0].parents.isEmpty && !results[$0].existed
    }
    let now = jobs.map(\.now).max() ?? .now()
    return [
      PGStatement(Self.edgesSQL, [PGArray.ints(children), PGArray.ints(parents)]),
      PGStatement(
        Self.settleWaitingSQL,
        [PGArray.ints(order.map { results[$0].id }), String(now.micros), String(slot)]),
    ]
  }

  /// What the rows of a settle or resolve statement say: the types released to `queued`,
  /// whether one became `scheduled`, the jobs cancelled.
  static func released(_ r: PGResult) -> ChildSettlement {
    var out = ChildSettlement()
    for i in 0..<r.count {
      switch r.int(i, 1) {
      case JobState.queued.rawValue: out.queued.append(r.text(i, 2))
      case JobState.scheduled.rawValue: out.scheduled = true
      case JobState.cancelled.rawValue:
        out.cancelled.append(SettledChild(id: r.int64(i, 0), type: r.text(i, 2)))
      default: break
      }
    }
    return out
  }

  /// The parents and children of `id` with their states.
  func loadLinks(_ id: JobID) throws(StoreError) -> (parents: [JobLink], children: [JobLink]) {
    try loadLinks([id])[id] ?? ([], [])
  }

  /// The parents and children of each of `ids` (absent: none), ascending by id.
  func loadLinks(_ ids: [JobID]) throws(StoreError) -> [JobID: (
    parents: [JobLink], children: [JobLink]
  )] {
    guard !ids.isEmpty else { return [:] }
    let r = try db.exec(
      """
      SELECT e.child, 0, e.parent, p.state FROM drover_job_parents AS e
        LEFT JOIN drover_jobs AS p ON p.id = e.parent WHERE e.child = ANY($1::bigint[])
      UNION ALL
      SELECT e.parent, 1, e.child, c.state FROM drover_job_parents AS e
        LEFT JOIN drover_jobs AS c ON c.id = e.child WHERE e.parent = ANY($1::bigint[])
      ORDER BY 1, 2, 3
      """, PGArray.ints(ids))
    var out: [JobID: (parents: [JobLink], children: [JobLink])] = [:]
    for i in 0..<r.count {
      let link = JobLink(
        id: r.int64(i, 2), state: r.optionalInt64(i, 3).flatMap { JobState(rawValue: Int($0)) })
      if r.int(i, 1) == 0 {
        out[r.int64(i, 0), default: ([], [])].parents.append(link)
      } else {
        out[r.int64(i, 0), default: ([], [])].children.append(link)
      }
    }
    return out
  }

  /// The ids among `ids` that name no job, ascending.
  public func missingJobs(_ ids: [JobID]) throws(StoreError) -> [JobID] {
    guard !ids.isEmpty else { return [] }
    try ready()
    let r = try db.exec(
      """
      SELECT u.id FROM unnest($1::bigint[]) AS u(id)
      WHERE NOT EXISTS (SELECT 1 FROM drover_jobs AS j WHERE j.id = u.id)
      GROUP BY u.id ORDER BY u.id
      """, PGArray.ints(ids))
    return (0..<r.count).map { r.int64($0, 0) }
  }
}
