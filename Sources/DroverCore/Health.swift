/// The thresholds `GET /health` judges by. Defaults apply until `[alerts]` feeds them (its keys
/// `backlog_above`, `oldest_ready_above`, `error_rate` in CONTRACT.md): the alerts code parses
/// `[alerts]`; this struct is the small seam between the two.
public struct HealthThresholds: Sendable, Hashable {
  /// Ready jobs of one pool above this: degraded. nil: no limit.
  public var backlogAbove: Int?
  /// A pool's oldest ready job waiting longer than this: degraded. nil: no limit.
  public var oldestReadyAbove: Duration?
  /// Failed attempts / finished attempts over `errorWindow` above this: degraded.
  public var errorRateAbove: Double?
  /// The window the error rate is measured over.
  public var errorWindow: Duration
  /// Fewer finished attempts than this in the window: the rate is not judged (too few to say).
  public var errorMinJobs: Int
  /// A pool with live workers and ready jobs while nothing finished for longer than this:
  /// degraded (`[alerts] idle_with_backlog`, default 5m). nil: not judged.
  public var idleWithBacklog: Duration? = .seconds(300)

  /// The defaults: CONTRACT.md's example `[alerts]` values (`backlog_above = 500`,
  /// `oldest_ready_above = "10m"`, `error_rate = { above = 0.2, window = "5m", min_jobs = 20 }`).
  public init(
    backlogAbove: Int? = 500, oldestReadyAbove: Duration? = .seconds(600),
    errorRateAbove: Double? = 0.2, errorWindow: Duration = .seconds(300), errorMinJobs: Int = 20
  ) {
    self.backlogAbove = backlogAbove
    self.oldestReadyAbove = oldestReadyAbove
    self.errorRateAbove = errorRateAbove
    self.errorWindow = errorWindow
    self.errorMinJobs = errorMinJobs
  }
}

/// `healthy | degraded | unhealthy`.
public enum HealthStatus: String, Sendable, Hashable, Comparable {
  case healthy, degraded, unhealthy

  public static func < (a: HealthStatus, b: HealthStatus) -> Bool {
    let order: [HealthStatus] = [.healthy, .degraded, .unhealthy]
    return order.firstIndex(of: a)! < order.firstIndex(of: b)!
  }
}

/// What health is judged on: a snapshot of facts gathered off the loop.
public struct HealthInput: Sendable, Hashable {
  /// One pool's facts.
  public struct Pool: Sendable, Hashable {
    public var name: String
    public var min: Int
    /// Workers that are ready and not retiring.
    public var liveWorkers: Int
    public var crashLooping: Bool
    /// Ready jobs of the pool's types.
    public var backlog: Int
    /// Age of its oldest queued job, nil when none.
    public var oldestReady: Duration?
    public init(
      name: String, min: Int, liveWorkers: Int, crashLooping: Bool, backlog: Int,
      oldestReady: Duration?
    ) {
      self.name = name
      self.min = min
      self.liveWorkers = liveWorkers
      self.crashLooping = crashLooping
      self.backlog = backlog
      self.oldestReady = oldestReady
    }
  }

  /// Why the store cannot be written, nil when it can.
  public var storeProblem: String?
  /// Whether the loop turns (`GET /livez`).
  public var loopAlive: Bool
  /// `starting|running|draining|drained|stopping`: workers below `min` count only once running.
  public var state: String
  public var pools: [Pool]
  /// Attempts that failed and attempts that finished in the error window.
  public var failedInWindow: Int
  public var finishedInWindow: Int
  /// How long ago the newest attempt finished (from the store's per-minute aggregates); nil
  /// when none ever did or it is unknown.
  public var sinceLastFinish: Duration? = nil

  public init(
    storeProblem: String?, loopAlive: Bool, state: String, pools: [Pool], failedInWindow: Int,
    finishedInWindow: Int
  ) {
    self.storeProblem = storeProblem
    self.loopAlive = loopAlive
    self.state = state
    self.pools = pools
    self.failedInWindow = failedInWindow
    self.finishedInWindow = finishedInWindow
  }
}

/// The verdict of `GET /health`: a status and one reason per problem found.
public struct HealthReport: Sendable, Hashable {
  public var status: HealthStatus
  public var reasons: [String]
  public init(status: HealthStatus, reasons: [String]) {
    self.status = status
    self.reasons = reasons
  }
}

/// Health evaluation as a pure function (tested without a supervisor).
public enum Health {
  /// Judges `input` by `thresholds`. Unhealthy: the store cannot be written, the loop does not
  /// turn, or every pool crash-loops (nothing can run). Degraded: a pool crash-loops, has fewer
  /// live workers than `min` while running, a backlog or an oldest-job age above its threshold,
  /// the error rate over the window above its threshold (with at least `errorMinJobs`), or a
  /// pool with live workers and ready jobs while nothing finished for over `idleWithBacklog`.
  public static func evaluate(_ input: HealthInput, thresholds t: HealthThresholds)
    -> HealthReport
  {
    var status = HealthStatus.healthy
    var reasons: [String] = []
    func note(_ s: HealthStatus, _ reason: String) {
      status = max(status, s)
      reasons.append(reason)
    }
    if let problem = input.storeProblem { note(.unhealthy, "store unwritable: \(problem)") }
    if !input.loopAlive { note(.unhealthy, "supervisor loop is not turning") }
    let looping = input.pools.filter(\.crashLooping)
    if !looping.isEmpty && looping.count == input.pools.count {
      note(.unhealthy, "every pool is crash-looping")
    }
    for p in input.pools {
      if p.crashLooping { note(.degraded, "pool \(p.name) is crash-looping") }
      if input.state == "running" && p.liveWorkers < p.min {
        note(.degraded, "pool \(p.name) has \(p.liveWorkers) workers, below min \(p.min)")
      }
      if let limit = t.backlogAbove, p.backlog > limit {
        note(.degraded, "pool \(p.name) backlog \(p.backlog) above \(limit)")
      }
      if let limit = t.oldestReadyAbove, let age = p.oldestReady, age > limit {
        note(
          .degraded,
          "pool \(p.name) oldest ready job waits \(DurationText.format(age.wholeSeconds)), "
            + "above \(DurationText.format(limit))")
      }
    }
    if let limit = t.idleWithBacklog, let idle = input.sinceLastFinish, idle > limit {
      for p in input.pools where p.liveWorkers > 0 && p.backlog > 0 {
        note(
          .degraded,
          "pool \(p.name) has \(p.liveWorkers) workers and \(p.backlog) ready jobs but nothing "
            + "finished for \(DurationText.format(idle.wholeSeconds)), above "
            + DurationText.format(limit))
      }
    }
    if let limit = t.errorRateAbove, input.finishedInWindow >= t.errorMinJobs,
      input.finishedInWindow > 0
    {
      let rate = Double(input.failedInWindow) / Double(input.finishedInWindow)
      if rate > limit {
        note(
          .degraded,
          "error rate \(percent(rate)) over \(DurationText.format(t.errorWindow)) above "
            + percent(limit) + " (\(input.failedInWindow) of \(input.finishedInWindow) attempts)")
      }
    }
    return HealthReport(status: status, reasons: reasons)
  }

  static func percent(_ x: Double) -> String {
    let tenths = (x * 1000).rounded()
    return "\(Int(tenths) / 10).\(Int(tenths) % 10)%"
  }
}

extension Duration {
  /// The duration cut to whole seconds (for messages).
  var wholeSeconds: Duration { .seconds(components.seconds) }
}

/// Finished and failed attempts over a sliding window, in one-second buckets: O(window seconds)
/// memory, O(1) per event. Pure (the caller passes the time in whole seconds).
public struct ErrorRateWindow: Sendable, Hashable {
  /// Window length in seconds (at least 1).
  public let seconds: Int
  private var finished: [Int]
  private var failed: [Int]
  /// The second each bucket holds; a bucket from an older pass round the ring is stale.
  private var stamp: [Int64]

  public init(window: Duration) {
    seconds = max(1, Int(window.components.seconds))
    finished = Array(repeating: 0, count: seconds)
    failed = Array(repeating: 0, count: seconds)
    stamp = Array(repeating: .min, count: seconds)
  }

  /// One finished attempt at second `now`: `failed` when it did not complete.
  public mutating func record(failed didFail: Bool, now: Int64) {
    let i = Int(now.magnitude % UInt64(seconds))
    if stamp[i] != now {
      stamp[i] = now
      finished[i] = 0
      failed[i] = 0
    }
    finished[i] += 1
    if didFail { failed[i] += 1 }
  }

  /// (failed, finished) over the window ending at second `now`.
  public func totals(now: Int64) -> (failed: Int, finished: Int) {
    var f = 0
    var n = 0
    for i in 0..<seconds where stamp[i] > now - Int64(seconds) && stamp[i] <= now {
      f += failed[i]
      n += finished[i]
    }
    return (f, n)
  }
}

extension HealthThresholds {
  /// What `GET /health` judges by for this config: the `[alerts]` thresholds where `[alerts]`
  /// sets them (so `/health` and the alerts agree), the defaults otherwise.
  public init(config: DroverConfig) {
    self.init()
    guard let alerts = config.alerts else { return }
    if let v = alerts.backlogAbove { backlogAbove = v }
    if let v = alerts.oldestReadyAbove { oldestReadyAbove = v }
    if let v = alerts.idleWithBacklog { idleWithBacklog = v }
    if let rate = alerts.errorRate {
      errorRateAbove = rate.above
      errorWindow = rate.window
      errorMinJobs = rate.minJobs
    }
  }
}
