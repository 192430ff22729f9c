import DroverCore

/// Figures of the PostgreSQL driver on one connection, for `drover bench pg`, and the scratch
/// schemas the PostgreSQL scenarios run in.
public enum PostgresBenchmark {
  /// Creates (or empties) schema `name` in the database of `url` and returns a URL whose
  /// connections use it (`search_path`): a store there is a fresh one, with its own tables and
  /// notification channel, next to whatever else the database holds.
  public static func scratchURL(_ url: String, schema name: String) throws(StoreError) -> String {
    precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" })
    let db = try PGConnection(url: url, applicationName: "drover-bench")
    try db.script("DROP SCHEMA IF EXISTS \(name) CASCADE; CREATE SCHEMA \(name)")
    let option = "options=-csearch_path%3D\(name)"
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
      return url + (url.contains("?") ? "&" : "?") + option
    }
    return url + " options='-csearch_path=\(name)'"
  }

  /// Drops a scratch schema made by `scratchURL`.
  public static func dropScratch(_ url: String, schema name: String) {
    guard let db = try? PGConnection(url: url, applicationName: "drover-bench") else { return }
    try? db.script("DROP SCHEMA IF EXISTS \(name) CASCADE")
  }

  /// Measures, each on a fresh store at `url` (a scratch URL): a bare round trip, enqueue of
  /// single jobs and of batches with and without NOTIFY (what the wake-up costs an insert),
  /// and claim + complete group commits of 100.
  public static func run(url: String, progress: (String) -> Void) throws -> [(
    name: String, value: Double, unit: String
  )] {
    var figures: [(name: String, value: Double, unit: String)] = []
    let store = try PostgresStore(url: url)

    progress("pg: round trips (SELECT 1)")
    let trips = 20_000
    var s = try time { for _ in 0..<trips { try store.db.exec("SELECT 1") } }
    figures.append(("round trip, SELECT 1", s / Double(trips) * 1e6, "µs"))

    for notify in [true, false] {
      store.notifies = notify
      let tag = notify ? "with NOTIFY" : "without NOTIFY"
      progress("pg: enqueue 1 per transaction, \(tag)")
      let n = 5_000
      s = try time { for _ in 0..<n { _ = try store.enqueue([EnqueueParams(type: "bench")]) } }
      figures.append(("enqueue, 1 per transaction, \(tag)", Double(n) / s, "jobs/s"))
      progress("pg: enqueue 1000 per transaction, \(tag)")
      let batches = 100
      s = try time {
        for _ in 0..<batches {
          let now = Timestamp.now()
          _ = try store.enqueue(
            (0..<1000).map { _ in EnqueueParams(type: "bench", payload: #"{"n":1}"#, now: now) })
        }
      }
      figures.append(
        ("enqueue, 1000 per transaction, \(tag)", Double(batches * 1000) / s, "jobs/s"))
    }
    store.notifies = true

    progress("pg: claim + complete, group commits of 100")
    let owner = try store.openSession(SessionParams(name: "bench", pid: 1, lease: .seconds(600)))
    var done = 0
    var running: [JobID] = []
    s = try time {
      while true {
        let r = try store.apply(
          StoreBatch(
            finishes: running.map { FinishParams(id: $0, settlement: .outcome(.completed)) },
            claims: [ClaimParams(types: ["bench"], limit: 100, workerPID: 1)], owner: owner))
        done += running.count
        running = r.claimed[0].map(\.id)
        if running.isEmpty { break }
      }
    }
    figures.append(("claim + complete, batches of 100", Double(done) / s, "jobs/s"))
    try store.closeSession(owner)
    return figures
  }

  private static func time(_ body: () throws -> Void) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }
}
