import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The store's share of a drain, without processes: what `drover bench commit` runs, and what
/// `scripts/callgrind.sh` counts instructions in.
extension StoreBenchmark {
  /// Seeds `jobs` queued jobs in `path` (a fresh file), then drains them by
  /// ``turns(_:owner:workers:perClaim:)``, leased to a session like a supervisor's.
  /// - Returns: the seconds the turns took and how many turns there were.
  public static func drainTurns(path: String, jobs: Int, workers: Int, perClaim: Int) throws
    -> (seconds: Double, turns: Int)
  {
    remove(path)
    defer { remove(path) }
    let store = try SQLiteStore(path: path)
    try fill(store, completed: 0, queued: jobs)
    let owner = try store.openSession(
      SessionParams(name: "bench", pid: getpid(), lease: .seconds(60)))
    var turns = 0
    let seconds = try time {
      turns = try Self.turns(store, owner: owner, workers: workers, perClaim: perClaim)
    }
    try store.closeSession(owner)
    guard try store.stats()[.completed] == jobs else {
      throw StoreError.invalidInput("benchmark: the turns did not complete every job")
    }
    return (seconds, turns)
  }

  /// The supervisor's group commits during a drain, as `Supervisor.commit` builds them: each
  /// turn settles the jobs the previous turn claimed (completed, with the worker's pid,
  /// handler start and usage, like a worker reports them) and claims up to `perClaim` more for
  /// each of `workers` workers. Runs until a turn claims nothing; returns the number of turns.
  ///
  /// Never inlined: `valgrind --tool=callgrind --toggle-collect='*drainTurns*turns*'` counts
  /// the instructions of exactly this, the commit path, and not the seeding.
  @inline(never)
  public static func turns(_ store: SQLiteStore, owner: OwnerID, workers: Int, perClaim: Int)
    throws -> Int
  {
    // One claim for the pool, `perClaim` slots per worker, as `PoolState.handOutPlan` lists them.
    let plan = (0..<workers * perClaim).map { Int32(1000 + $0 % workers) }
    var running: [(id: JobID, pid: Int32)] = []
    var turns = 0
    let usage = JobUsage(cpuSeconds: 0.0001, peakRSS: 12_000_000)
    repeat {
      let now = Timestamp.now()
      let finishes = running.map {
        FinishParams(
          id: $0.id, settlement: .outcome(.completed), workerPID: $0.pid, startedAt: now,
          usage: usage)
      }
      let result = try store.apply(
        StoreBatch(
          finishes: finishes, promoteDue: false,
          claims: [ClaimParams(types: ["bench"], workers: plan)], now: now, owner: owner))
      running.removeAll(keepingCapacity: true)
      for (i, job) in result.claimed[0].enumerated() { running.append((job.id, plan[i])) }
      turns += 1
    } while !running.isEmpty
    return turns
  }
}
