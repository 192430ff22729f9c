/// What the explanation of a job (`drover why`, `jobs show`) needs beyond the job itself (a
/// waiting job's parents come with the job):
/// where it would run, what the running supervisor says about that pool, and what the store
/// says about the jobs around it.
public struct WhyFacts: Sendable, Hashable {
  /// The pool whose `types` hold the job's type (from the config); nil when none does.
  public var pool: String?
  /// Every pool of the config, to name them when none runs the type.
  public var pools: [String]
  /// What the running supervisor said about the pool; nil when no supervisor answered.
  public var supervisor: SupervisorView?
  /// Ready jobs of the pool's types ahead of this one in claim order (at most a cap the
  /// caller chose; `readyAheadCapped` says when it was hit).
  public var readyAhead: Int?
  public var readyAheadCapped: Bool
  /// For a job a limit holds: the pool's limits and its key's state (`held` counted up to a
  /// cap, which `LimitHold.capped` says was hit).
  public var limitHold: LimitHold?

  /// What holds a held job: its pool's limits and its key's state.
  public struct LimitHold: Sendable, Hashable {
    public var limits: PoolLimits
    public var key: String
    public var state: LimitKeyState
    public var capped: Bool
    public init(limits: PoolLimits, key: String, state: LimitKeyState, capped: Bool = false) {
      self.limits = limits
      self.key = key
      self.state = state
      self.capped = capped
    }
  }

  /// The running supervisor's view of one pool.
  public struct SupervisorView: Sendable, Hashable {
    /// The supervisor's state: `running|draining|drained|stopping|starting`.
    public var state: String
    /// The pool is paused (`ctl drain POOL`).
    public var paused: Bool
    public var crashLooping: Bool
    /// Workers up (booted) and how many of them run a job.
    public var workers: Int
    public var busy: Int
    public init(state: String, paused: Bool, crashLooping: Bool, workers: Int, busy: Int) {
      self.state = state
      self.paused = paused
      self.crashLooping = crashLooping
      self.workers = workers
      self.busy = busy
    }
  }

  public init(
    pool: String?, pools: [String], supervisor: SupervisorView? = nil, readyAhead: Int? = nil,
    readyAheadCapped: Bool = false
  ) {
    self.pool = pool
    self.pools = pools
    self.supervisor = supervisor
    self.readyAhead = readyAhead
    self.readyAheadCapped = readyAheadCapped
  }
}

/// One line saying why a job is where it is: what holds a job that is not running yet (its
/// parents, its time, its pool drained or missing, no free worker), or what became of it.
public enum JobExplanation {
  public static func line(_ job: Job, _ facts: WhyFacts, now: Timestamp) -> String {
    switch job.state {
    case .running:
      var s = "running attempt \(job.attempts + 1) of \(job.maxAttempts)"
      if let pid = job.workerPID { s += " on worker \(pid)" }
      if let started = job.startedAt {
        s += " since \(started.rfc3339) (\(roughly(now.micros - started.micros)))"
      }
      if job.cancelRequested { s += "; a cancel is requested and the supervisor will stop it" }
      return s
    case .completed:
      return "completed at \(job.finishedAt?.rfc3339 ?? "?") after \(attempts(job.attempts))"
    case .cancelled:
      return "cancelled at \(job.finishedAt?.rfc3339 ?? "?")"
        + (job.errors.last.map { "; last error: \(lastLine($0.message))" } ?? "")
        + "; `drover jobs retry \(job.id)` queues it again"
    case .dead:
      return "dead after \(attempts(job.attempts))"
        + (job.errors.last.map { ": \(lastLine($0.message))" } ?? "")
        + "; `drover jobs retry \(job.id)` queues it again"
    case .scheduled:
      let wait = job.runAt.micros - now.micros
      let retry =
        job.attempts > 0 || !job.errors.isEmpty
        ? " (attempt \(job.attempts + 1) of \(job.maxAttempts) after: "
          + "\(lastLine(job.errors.last?.message ?? "an interruption")))" : ""
      if wait > 0 {
        return "scheduled for \(job.runAt.rfc3339), in \(roughly(wait))\(retry)"
      }
      return "due since \(job.runAt.rfc3339)\(retry); "
        + (facts.supervisor == nil
          ? "no supervisor is running to queue it"
          : "the supervisor queues it at its next tick")
    case .queued:
      return queued(job, facts, now: now)
    case .waiting:
      return DependencyHold.text(state: job.state, parents: job.parents) ?? "waiting on its parents"
    }
  }

  /// `held by concurrency_limit 5 for key "acme" (5 running, 12 held); a slot frees when one
  /// of them ends`, or the bucket's next token, or the end of a handler's push-back.
  static func held(_ job: Job, _ h: WhyFacts.LimitHold, now: Timestamp) -> String {
    let key = h.key.isEmpty ? "the pool (no key)" : "key \"\(h.key)\""
    let heldText = "\(h.capped ? "more than " : "")\(h.state.held) held"
    let s = LimitGate.refilled(h.state, h.limits, now: now)
    switch LimitGate.verdict(s, h.limits, now: now) {
    case .blocked(let until):
      return "held for \(key): its handler reported it rate limited; nothing of the key "
        + "starts before \(until.rfc3339) (in \(roughly(until.micros - now.micros)); \(heldText))"
    case .full(let running, let limit):
      return "held by concurrency_limit \(limit) for \(key) (\(running) running, \(heldText)); "
        + "it is released when one of them ends"
    case .empty(let next):
      return "held by rate \(h.limits.rate.map(String.init(describing:)) ?? "?") for \(key) "
        + "(bucket empty, \(heldText)); the next token comes at \(next.rfc3339) "
        + "(in \(roughly(next.micros - now.micros)))"
    case .open:
      return "held by \(h.limits.summary) for \(key) (\(heldText)); the key has room now and "
        + "the supervisor releases it at its next commit"
    }
  }

  private static func queued(_ job: Job, _ facts: WhyFacts, now: Timestamp) -> String {
    if job.held, let h = facts.limitHold { return held(job, h, now: now) }
    guard let pool = facts.pool else {
      return "queued, but no pool runs type \"\(job.type)\" (pools: "
        + facts.pools.joined(separator: ", ") + "); add it to a pool's types"
    }
    guard let sup = facts.supervisor else {
      return "queued for pool \(pool); no supervisor is running (`drover serve`)"
    }
    switch sup.state {
    case "stopping":
      return "queued for pool \(pool); the supervisor is shutting down and takes no new jobs"
    case "draining", "drained":
      return "queued for pool \(pool); the supervisor is drained (`drover ctl resume`)"
    default: break
    }
    if sup.paused { return "queued; pool \(pool) is drained (`drover ctl resume \(pool)`)" }
    if sup.crashLooping {
      return "queued; pool \(pool) is crash-looping: its workers die as they start "
        + "(see the supervisor's log)"
    }
    let ahead = facts.readyAhead ?? 0
    let aheadText =
      ahead == 0
      ? "next in line"
      : "\(facts.readyAheadCapped ? "more than " : "")\(ahead) ready job\(ahead == 1 ? "" : "s") "
        + "ahead of it"
    if sup.workers == 0 { return "ready, \(aheadText); pool \(pool) has no worker up yet" }
    if sup.busy >= sup.workers {
      return "ready, \(aheadText); waiting for a free worker (pool \(pool): "
        + "\(sup.busy) of \(sup.workers) workers busy)"
    }
    return "ready, \(aheadText); pool \(pool) has an idle worker and claims it at its next turn"
  }

  static func attempts(_ n: Int) -> String { n == 1 ? "1 attempt" : "\(n) attempts" }

  /// The last non-empty line of an error (a traceback ends with what went wrong).
  static func lastLine(_ message: String) -> String {
    message.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }.map(String.init)
      ?? message
  }

  /// `3m 2s`, `1h 5m`, `250ms`: a duration in microseconds, to two units.
  public static func roughly(_ micros: Int64) -> String {
    let us = max(0, micros)
    if us < 1_000_000 { return "\(us / 1000)ms" }
    let s = us / 1_000_000
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m \(s % 60)s" }
    if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
    return "\(s / 86400)d \(s % 86400 / 3600)h"
  }
}
