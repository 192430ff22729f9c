public import DroverCore

/// What `ctl status` (and later `GET /pools`) reports: the supervisor's state, its pools and
/// workers, job counts and loop timings. Taken on the loop thread; a value, safe to render on
/// any thread.
public struct StatusSnapshot: Sendable, Hashable {
  public struct Worker: Sendable, Hashable {
    public var pid: Int32
    public var busy: Bool
    public var jobsDone: Int
    public var ready: Bool
    public var retiring: Bool
    /// The job the worker runs now (its first running job), if any.
    public var currentJob: JobID?
    /// How long the current job has run (since it was handed to this worker); nil when idle.
    public var runningFor: Duration?
    /// Jobs claimed and handed to this worker that have not started: they wait behind its
    /// running ones (prefetch). They are not running yet, and a drain gives them back.
    public var claimed: [JobID]
    /// Resident set size in bytes of the worker process, from the loop's last reading of
    /// /proc (every 2 s per worker); nil before the first.
    public var rss: UInt64?
    /// CPU time (user + system) the worker process has used, its reaped exec commands'
    /// included, from the same reading; nil before the first.
    public var cpu: Duration?
    public init(
      pid: Int32, busy: Bool, jobsDone: Int, ready: Bool, retiring: Bool, currentJob: JobID?,
      runningFor: Duration? = nil, claimed: [JobID] = [], rss: UInt64? = nil,
      cpu: Duration? = nil
    ) {
      self.rss = rss
      self.cpu = cpu
      self.claimed = claimed
      self.runningFor = runningFor
      self.pid = pid
      self.busy = busy
      self.jobsDone = jobsDone
      self.ready = ready
      self.retiring = retiring
      self.currentJob = currentJob
    }
  }

  public struct Pool: Sendable, Hashable {
    public var name: String
    public var target: Int
    public var min: Int
    public var max: Int
    public var auto: Bool
    public var paused: Bool
    public var crashLooping: Bool
    public var types: [String]
    public var workers: [Worker]
    public init(
      name: String, target: Int, min: Int, max: Int, auto: Bool, paused: Bool,
      crashLooping: Bool, types: [String], workers: [Worker]
    ) {
      self.name = name
      self.target = target
      self.min = min
      self.max = max
      self.auto = auto
      self.paused = paused
      self.crashLooping = crashLooping
      self.types = types
      self.workers = workers
    }
  }

  /// How the loop is doing: what a stall would show.
  public struct Loop: Sendable, Hashable {
    /// The longest loop turn since the supervisor became ready (or since the last reset).
    public var turnMax: Duration
    /// The last group commit's duration.
    public var lastCommit: Duration
    /// Loop turns since start.
    public var turns: Int
    public init(turnMax: Duration, lastCommit: Duration, turns: Int) {
      self.turnMax = turnMax
      self.lastCommit = lastCommit
      self.turns = turns
    }
  }

  public var pid: Int32
  /// `starting|running|draining|drained|stopping`.
  public var state: String
  public var pools: [Pool]
  public var jobs: [JobState: Int]
  public var loop: Loop
  /// Why the store cannot be written now (it was lost, or the last group commit failed), or
  /// nil when the last commit succeeded: `GET /health` reports it.
  public var storeProblem: String?

  public init(
    pid: Int32, state: String, pools: [Pool], jobs: [JobState: Int], loop: Loop,
    storeProblem: String? = nil
  ) {
    self.storeProblem = storeProblem
    self.pid = pid
    self.state = state
    self.pools = pools
    self.jobs = jobs
    self.loop = loop
  }

  /// The CONTRACT.md shape of `ctl status --json` (plus `crash_looping`, `types`, per worker
  /// `ready`, `retiring`, `job`, and `loop`).
  public var json: JSONValue {
    .object([
      JSONField("pid", .int(Int64(pid))),
      JSONField("state", .string(state)),
      JSONField("pools", .array(pools.map(\.json))),
      JSONField("jobs", JobJSON.stats(jobs)),
      JSONField(
        "loop",
        .object([
          JSONField("turn_max_ms", .double(loop.turnMax.fractionalMilliseconds)),
          JSONField("last_commit_ms", .double(loop.lastCommit.fractionalMilliseconds)),
          JSONField("turns", .int(Int64(loop.turns))),
        ])),
      JSONField("store_problem", storeProblem.map { .string($0) } ?? .null),
    ])
  }
}

extension StatusSnapshot.Pool {
  /// One pool as `ctl status` shows it.
  public var json: JSONValue {
    .object([
      JSONField("name", .string(name)),
      JSONField("target", .int(Int64(target))),
      JSONField("min", .int(Int64(min))),
      JSONField("max", .int(Int64(max))),
      JSONField("auto", .bool(auto)),
      JSONField("paused", .bool(paused)),
      JSONField("crash_looping", .bool(crashLooping)),
      JSONField("types", .array(types.map { .string($0) })),
      JSONField(
        "workers",
        .array(
          workers.map { w in
            .object([
              JSONField("pid", .int(Int64(w.pid))),
              JSONField("busy", .bool(w.busy)),
              JSONField("jobs_done", .int(Int64(w.jobsDone))),
              JSONField("ready", .bool(w.ready)),
              JSONField("retiring", .bool(w.retiring)),
              JSONField("job", w.currentJob.map { .int($0) } ?? .null),
              JSONField(
                "job_running_ms", w.runningFor.map { .double($0.fractionalMilliseconds) } ?? .null),
              JSONField("claimed", .array(w.claimed.map { .int($0) })),
              JSONField("rss_bytes", w.rss.map { .int(Int64(clamping: $0)) } ?? .null),
              JSONField(
                "cpu_seconds", w.cpu.map { .double($0.fractionalMilliseconds / 1000) } ?? .null),
            ])
          })),
    ])
  }
}

extension Duration {
  /// The duration in (fractional) milliseconds, for JSON figures.
  public var fractionalMilliseconds: Double {
    let (s, a) = components
    return Double(s) * 1000 + Double(a) / 1e15
  }
}
