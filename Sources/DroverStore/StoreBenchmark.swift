import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// Throughput and latency figures of the SQLite store, for `drover bench store`.
///
/// Meant for release builds; takes about a minute with the default sizes. Every phase uses a
/// fresh database file in `directory`, deleted afterwards.
public enum StoreBenchmark {
  /// Runs every measurement and returns the figures in order.
  ///
  /// - Parameters:
  ///   - directory: an existing folder for the scratch database files.
  ///   - rows: table sizes at which single-job claim latency is measured (each at least 2).
  ///   - progress: called with a line before each phase.
  /// - Returns: `(name, value, unit)` per figure: single and batched enqueue rates, batched
  ///   claim+complete rate, the cost of `othersWrote`, seeding and pruning a 2M-job history,
  ///   and claim latency at each size in `rows`.
  public static func run(
    directory: String, rows: [Int] = [10_000, 1_000_000], progress: (String) -> Void
  ) throws -> [(name: String, value: Double, unit: String)] {
    var figures: [(name: String, value: Double, unit: String)] = []
    let path = directory + "/drover-bench-store.db"

    progress("enqueue: 1 job per transaction")
    try withStore(path) { store in
      let n = 5_000
      let seconds = try time {
        for _ in 0..<n { _ = try store.enqueue([EnqueueParams(type: "bench")]) }
      }
      figures.append(("enqueue, 1 per transaction", Double(n) / seconds, "jobs/s"))
    }

    progress("enqueue: 1000 jobs per transaction")
    try withStore(path) { store in
      let batches = 300
      let seconds = try time {
        for _ in 0..<batches {
          let now = Timestamp.now()
          _ = try store.enqueue(
            (0..<1000).map { _ in EnqueueParams(type: "bench", payload: #"{"n":1}"#, now: now) })
        }
      }
      figures.append(("enqueue, 1000 per transaction", Double(batches * 1000) / seconds, "jobs/s"))
    }

    progress("claim + complete: batches of 100")
    try withStore(path) { store in
      let n = 100_000
      try fill(store, completed: 0, queued: n)
      var done = 0
      var running: [JobID] = []
      let seconds = try time {
        while true {
          let result = try store.apply(
            StoreBatch(
              finishes: running.map { FinishParams(id: $0, settlement: .outcome(.completed)) },
              claims: [ClaimParams(types: ["bench"], limit: 100, workerPID: 1)]))
          done += running.count
          running = result.claimed[0].map(\.id)
          if running.isEmpty { break }
        }
      }
      guard done == n else { throw StoreError.invalidInput("benchmark: completed \(done) of \(n)") }
      figures.append(("claim + complete, 100 per transaction", Double(n) / seconds, "jobs/s"))
    }

    progress("othersWrote: PRAGMA data_version per call")
    try withStore(path) { store in
      _ = try store.enqueue([EnqueueParams(type: "bench")])
      _ = try store.othersWrote()
      let n = 200_000
      let seconds = try time {
        for _ in 0..<n where try store.othersWrote() {
          throw StoreError.invalidInput("benchmark: othersWrote saw a write nobody made")
        }
      }
      figures.append(("othersWrote, nothing changed", seconds / Double(n) * 1e6, "µs"))
      let other = try SQLiteStore(path: path)
      let m = 2_000
      var writeSeconds = 0.0
      for _ in 0..<m {
        _ = try other.enqueue([EnqueueParams(type: "bench")])
        writeSeconds += try time {
          guard try store.othersWrote() else {
            throw StoreError.invalidInput("benchmark: othersWrote missed another writer")
          }
        }
      }
      figures.append(("othersWrote, after another's commit", writeSeconds / Double(m) * 1e6, "µs"))
    }

    progress("seed: 2M finished jobs")
    try withStore(path) { store in
      let n = 2_000_000
      let seconds = try time {
        try store.seedFinished(count: n, type: "bench", finishedAt: Timestamp.now())
      }
      guard try store.stats()[.completed] == n else {
        throw StoreError.invalidInput("benchmark: seeding lost rows")
      }
      figures.append(("seed 2M finished jobs", seconds, "s"))
      let prune = try time {
        let cut = Timestamp.now().adding(.seconds(60))
        _ = try store.prune(PruneParams(completedBefore: cut, deadBefore: cut, limit: 1000))
      }
      figures.append(("prune 1000 of 2M finished jobs", prune * 1e3, "ms"))
    }

    for size in rows {
      progress("claim latency: filling \(size) rows")
      try withStore(path) { store in
        let backlog = max(2, min(size / 2, 5_000))
        try fill(store, completed: max(0, size - backlog), queued: backlog)
        progress("claim latency: claiming 1 job per transaction at \(size) rows")
        // The median of many single claims: the machine's noise moves the mean more than
        // the table's size does.
        var samples: [Double] = []
        samples.reserveCapacity(backlog / 2)
        for _ in 0..<backlog / 2 {
          let seconds = try time {
            let result = try store.apply(
              StoreBatch(claims: [ClaimParams(types: ["bench"], limit: 1, workerPID: 1)]))
            guard result.claimed[0].count == 1 else {
              throw StoreError.invalidInput("benchmark: the backlog ran dry")
            }
          }
          samples.append(seconds)
        }
        samples.sort()
        figures.append(
          ("claim latency (median) at \(label(size)) rows", samples[samples.count / 2] * 1e6, "µs"))
      }
    }
    return figures
  }

  private static func withStore(_ path: String, _ body: (SQLiteStore) throws -> Void) throws {
    remove(path)
    defer { remove(path) }
    try body(try SQLiteStore(path: path))
  }

  static func remove(_ path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
  }

  static func time(_ body: () throws -> Void) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  private static func label(_ n: Int) -> String {
    if n >= 1_000_000, n % 1_000_000 == 0 { return "\(n / 1_000_000)M" }
    if n >= 1000, n % 1000 == 0 { return "\(n / 1000)k" }
    return String(n)
  }

  /// Fills the table fast, straight through SQL in big transactions: `completed` finished jobs
  /// (the history a long-running store keeps), 1% as many future scheduled ones, then `queued`
  /// ready jobs of type `bench` with mixed priorities.
  static func fill(_ store: SQLiteStore, completed: Int, queued: Int) throws(StoreError) {
    let db = store.db
    let now = Timestamp.now()
    let sql: SQLText = """
      INSERT INTO jobs (type, state, priority, attempts, max_attempts, budget, payload, progress,
        created_at, run_at, started_at, finished_at, counted)
      VALUES (?1, ?2, ?3, ?4, 20, 20, '{"n":1}', ?5, ?6, ?7, ?8, ?9, 1)
      """
    func insert(_ count: Int, _ body: (Int) -> (String, JobState, Int, Timestamp))
      throws(StoreError)
    {
      var i = 0
      while i < count {
        let end = min(count, i + 50_000)
        try store.write { () throws(StoreError) in
          for k in i..<end {
            let (type, state, priority, runAt) = body(k)
            let final = state == .completed
            try db.run(
              sql, type, state.rawValue, priority, final ? 1 : 0, final ? 100 : 0,
              runAt.adding(.seconds(-1)), runAt, final ? runAt : nil, final ? runAt : nil)
            store.count(type, state, 1)
          }
        }
        i = end
      }
    }
    let types = ["email", "thumbnail", "report", "bench"]
    try insert(completed) { k in
      (types[k % types.count], .completed, 0, now.adding(.seconds(Int64(k - completed) - 3600)))
    }
    try insert(completed / 100) { k in
      (types[k % types.count], .scheduled, 0, now.adding(.seconds(Int64(3600 + k))))
    }
    try insert(queued) { k in
      ("bench", .queued, k % 3, now.adding(.microseconds(Int64(k - queued))))
    }
  }
}
