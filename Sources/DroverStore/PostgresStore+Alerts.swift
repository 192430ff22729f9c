public import DroverCore

extension PostgresStore {
  /// The oldest queued job per type, found as SQLite's is: `drover_jobs_ready` is ordered
  /// (type, priority DESC, run_at), so a recursive walk visits each distinct priority with
  /// one index seek and takes that priority's first `run_at` (a plain min(run_at) would read
  /// the type's whole backlog). Due scheduled jobs count too (the supervisor promotes them
  /// every turn, so their range is small).
  static let oldestReadySQL = """
    WITH RECURSIVE p(type, pr) AS (
      SELECT t.type, (SELECT max(priority) FROM drover_jobs WHERE state = 1 AND NOT held AND type = t.type)
      FROM unnest($1::text[]) AS t(type)
      UNION ALL
      SELECT p.type, (SELECT max(priority) FROM drover_jobs
                      WHERE state = 1 AND NOT held AND type = p.type AND priority < p.pr)
      FROM p WHERE p.pr IS NOT NULL
    )
    SELECT least(
      (SELECT min((SELECT run_at FROM drover_jobs
                   WHERE state = 1 AND NOT held AND type = p.type AND priority = p.pr
                   ORDER BY run_at LIMIT 1))
       FROM p WHERE p.pr IS NOT NULL),
      (SELECT min(run_at) FROM drover_jobs
       WHERE state = 0 AND run_at <= $2 AND type = ANY($1::text[])))
    """

  public func oldestReady(_ p: OldestReadyParams) throws(StoreError) -> Timestamp? {
    guard !p.types.isEmpty else { return nil }
    try ready()
    let r = try db.exec(Self.oldestReadySQL, PGArray.texts(p.types), p.now)
    guard r.count == 1, let v = r.optionalInt64(0, 0) else { return nil }
    return Timestamp(micros: v)
  }

  static let readyAheadSQL = """
    SELECT count(*) FROM (
      SELECT 1 FROM drover_jobs
      WHERE state = 1 AND NOT held AND type = ANY($1::text[])
        AND (priority > $2 OR (priority = $2 AND (run_at < $3 OR (run_at = $3 AND id < $4))))
      LIMIT $5) AS ahead
    """

  /// Ready jobs ahead of a place in claim order (see `JobStore.readyAhead`).
  public func readyAhead(_ p: ReadyAheadParams) throws(StoreError) -> Int {
    guard !p.types.isEmpty else { return 0 }
    try ready()
    let r = try db.exec(
      Self.readyAheadSQL, PGArray.texts(p.types), p.priority, p.runAt, p.id, p.cap)
    return r.count == 1 ? r.int(0, 0) : 0
  }
}
