public import DroverCore
public import DroverWire

/// What the engine read at one tick; each part is nil when it could not be read (then its
/// kinds keep their state).
public struct AlertInputs: Sendable {
  /// The tick's wall-clock time (ages are measured to it).
  public var now: Timestamp
  /// The supervisor's status (crash-looping, workers below min).
  public var status: StatusSnapshot?
  /// Ready jobs per job type (`JobStore.backlog(now:)`).
  public var backlog: [String: Int]?
  /// The oldest ready job's `run_at` per pool (absent: none ready).
  public var oldestReady: [String: Timestamp]?
  /// Running jobs (with `startedAt`).
  public var running: [Job]?
  /// Failed (failed attempts and dead) and total finished jobs in the error-rate window.
  public var errorTotals: (failed: Int, total: Int)?

  /// Inputs at `now`; a part left nil is not measured this tick.
  public init(
    now: Timestamp, status: StatusSnapshot? = nil, backlog: [String: Int]? = nil,
    oldestReady: [String: Timestamp]? = nil, running: [Job]? = nil,
    errorTotals: (failed: Int, total: Int)? = nil
  ) {
    self.now = now
    self.status = status
    self.backlog = backlog
    self.oldestReady = oldestReady
    self.running = running
    self.errorTotals = errorTotals
  }
}

/// The conditions of `[alerts]` measured on one tick's inputs: pure, so every threshold rule
/// is unit-tested without a supervisor.
public enum AlertConditions {
  /// The kinds measured and their measurements. A kind whose threshold is not configured is
  /// measured as empty (so a reload that removes it resolves what was firing); a kind whose
  /// input is missing is left out.
  public static func measure(_ config: AlertsConfig, pools: [PoolConfig], _ input: AlertInputs)
    -> (kinds: Set<AlertKind>, measurements: [AlertMeasurement])
  {
    var kinds: Set<AlertKind> = []
    var out: [AlertMeasurement] = []
    if let status = input.status {
      kinds.formUnion([.crashLooping, .workersBelowMin])
      let settling = status.state != "running"
      for pool in status.pools {
        out.append(
          AlertMeasurement(
            key: AlertKey(.crashLooping, pool.name), breached: pool.crashLooping,
            value: .bool(pool.crashLooping), threshold: .bool(true), pool: pool.name))
        // Only booted workers that are not on their way out count; a pool scaled below its min
        // on purpose, a paused pool and a supervisor that is draining or stopping are not short
        // of workers. (The engine confirms it over a few ticks: a replacement takes a moment.)
        let live = pool.workers.filter { $0.ready && !$0.retiring }.count
        let expected = min(pool.min, pool.target)
        let below = !settling && !pool.paused && live < expected
        out.append(
          AlertMeasurement(
            key: AlertKey(.workersBelowMin, pool.name), breached: below,
            value: .int(Int64(live)), threshold: .int(Int64(pool.min)), pool: pool.name))
      }
    }
    if let backlog = input.backlog {
      kinds.insert(.backlog)
      if let limit = config.backlogAbove {
        for pool in pools {
          let n = pool.types.reduce(0) { $0 + (backlog[$1] ?? 0) }
          out.append(
            AlertMeasurement(
              key: AlertKey(.backlog, pool.name), breached: n > limit, value: .int(Int64(n)),
              threshold: .int(Int64(limit)), pool: pool.name))
        }
      }
    }
    if let oldest = input.oldestReady {
      kinds.insert(.oldestReady)
      if let limit = config.oldestReadyAbove {
        for pool in pools {
          let age = oldest[pool.name].map { seconds(from: $0, to: input.now) } ?? 0
          out.append(
            AlertMeasurement(
              key: AlertKey(.oldestReady, pool.name), breached: age > seconds(limit),
              value: .double(age), threshold: .double(seconds(limit)), pool: pool.name))
        }
      }
    }
    if let running = input.running {
      kinds.insert(.jobStuck)
      if let limit = config.stuckAfter {
        for job in running {
          guard let started = job.startedAt else { continue }
          let age = seconds(from: started, to: input.now)
          out.append(
            AlertMeasurement(
              key: AlertKey(.jobStuck, String(job.id)), breached: age > seconds(limit),
              value: .double(age), threshold: .double(seconds(limit)),
              pool: pools.first { $0.types.contains(job.type) }?.name, job: JobJSON.job(job)))
        }
      }
    }
    if let totals = input.errorTotals {
      kinds.insert(.errorRate)
      if let rate = config.errorRate {
        let value = totals.total == 0 ? 0 : Double(totals.failed) / Double(totals.total)
        out.append(
          AlertMeasurement(
            key: AlertKey(.errorRate), breached: totals.total >= rate.minJobs && value > rate.above,
            value: .double(value), threshold: .double(rate.above)))
      }
    }
    return (kinds, out)
  }

  /// `d` in (fractional) seconds.
  public static func seconds(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) + Double(a) / 1e18
  }

  static func seconds(from a: Timestamp, to b: Timestamp) -> Double {
    Double(b.micros - a.micros) / 1e6
  }
}
