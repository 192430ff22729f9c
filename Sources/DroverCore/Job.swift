/// A job's identifier: positive, assigned by the store, never reused.
public typealias JobID = Int64

/// Where a job is in its life. The raw values are the store's on-disk codes: never renumber.
public enum JobState: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
  /// Held until every parent is `completed` (dependencies; never claimed). Declared first so
  /// `allCases` lists states in lifecycle order; its code is the newest.
  case waiting = 6
  /// Waiting for its `run_at` (a delay, or the wait before a retry).
  case scheduled = 0
  /// Ready to run: in the claim order (priority, run_at, id).
  case queued = 1
  /// Leased to a worker through the supervisor.
  case running = 2
  /// Finished successfully.
  case completed = 3
  /// Cancelled before or while running.
  case cancelled = 4
  /// Failed permanently or out of attempts: the dead-letter queue.
  case dead = 5

  /// The lower-case name used by the CLI, JSON and config (`queued`, `dead`, …).
  public var name: String {
    switch self {
    case .waiting: "waiting"
    case .scheduled: "scheduled"
    case .queued: "queued"
    case .running: "running"
    case .completed: "completed"
    case .cancelled: "cancelled"
    case .dead: "dead"
    }
  }

  /// Parses a state name as `name` prints it.
  public init?(name: String) {
    guard let s = JobState.allCases.first(where: { $0.name == name }) else { return nil }
    self = s
  }

  /// True for states a job never leaves on its own (completed, cancelled, dead).
  public var isFinal: Bool { self == .completed || self == .cancelled || self == .dead }

  public var description: String { name }
}

/// One failed or interrupted attempt, kept on the job for as long as the job is kept.
public struct JobError: Sendable, Hashable, Codable {
  /// The attempt number this error belongs to (1-based).
  public var attempt: Int
  /// What went wrong, as text ("worker 4121 exited on signal 9").
  public var message: String
  /// When it was recorded.
  public var at: Timestamp
  /// The worker process that ran the attempt, when known.
  public var workerPID: Int32?

  public init(attempt: Int, message: String, at: Timestamp, workerPID: Int32? = nil) {
    self.attempt = attempt
    self.message = message
    self.at = at
    self.workerPID = workerPID
  }
}

/// A job as the store holds it.
public struct Job: Sendable, Hashable {
  public var id: JobID
  public var type: String
  public var state: JobState
  /// Higher runs first; default 0.
  public var priority: Int
  /// Attempts that spent the job's budget (interrupted attempts do not count).
  public var attempts: Int
  /// The budget: once `attempts` reaches it, a failure makes the job dead.
  public var maxAttempts: Int
  /// The payload: a JSON object, as text.
  public var payload: String
  /// 0-100; 100 once completed.
  public var progress: Int
  /// Every failed or interrupted attempt, oldest first.
  public var errors: [JobError]
  public var createdAt: Timestamp
  /// When the job is (or was) due to run.
  public var runAt: Timestamp
  /// The current (or last) attempt's start; nil before the first.
  public var startedAt: Timestamp?
  /// When the job reached a final state; nil until then.
  public var finishedAt: Timestamp?
  /// The idempotency key, when given at enqueue.
  public var uniqueKey: String?
  /// A per-job retry backoff that overrides the pool's.
  public var backoff: BackoffPolicy?
  /// True once a cancel was asked for a running job and not yet carried out.
  public var cancelRequested: Bool
  /// The worker process running (or that last ran) the job, when known.
  public var workerPID: Int32?
  /// How many times the job was snoozed (snoozes spend no attempt; the pool's `max_snoozes`
  /// bounds them).
  public var snoozes: Int
  /// What a dead or cancelled parent does to this job.
  public var onParentFailure: ParentFailurePolicy
  /// The jobs this one waits on, ascending by id, with their states (`job(_:)` fills them;
  /// lists leave them empty).
  public var parents: [JobLink]
  /// The jobs waiting on this one, ascending by id (`job(_:)` fills them; lists leave them
  /// empty).
  public var children: [JobLink]
  /// The key its pool's limits count it under, once known (given at enqueue, or read from
  /// the payload when a limited claim first met it; `job(_:)` fills it).
  public var limitKey: String?
  /// True while a limit holds the queued job out of the claim order (`job(_:)` fills it).
  public var held = false
  /// The result its handler set, as JSON text, once completed (`job(_:)` fills it).
  public var result: String?
  /// The W3C trace context it was enqueued with (`job(_:)` fills it).
  public var traceparent: String?
  /// CPU seconds (user + system) its last reporting attempt used; nil when none reported
  /// (`job(_:)` fills it). See ``JobUsage`` for what is counted.
  public var cpuSeconds: Double?
  /// Peak resident set size in bytes of its last reporting attempt; nil when none reported
  /// (`job(_:)` fills it).
  public var peakRSS: Int64?

  public init(
    id: JobID, type: String, state: JobState, priority: Int = 0, attempts: Int = 0,
    maxAttempts: Int = 20, payload: String = "{}", progress: Int = 0, errors: [JobError] = [],
    createdAt: Timestamp, runAt: Timestamp, startedAt: Timestamp? = nil,
    finishedAt: Timestamp? = nil, uniqueKey: String? = nil, backoff: BackoffPolicy? = nil,
    cancelRequested: Bool = false, workerPID: Int32? = nil, snoozes: Int = 0,
    onParentFailure: ParentFailurePolicy = .cancel, parents: [JobLink] = [],
    children: [JobLink] = []
  ) {
    self.snoozes = snoozes
    self.onParentFailure = onParentFailure
    self.parents = parents
    self.children = children
    self.id = id
    self.type = type
    self.state = state
    self.priority = priority
    self.attempts = attempts
    self.maxAttempts = maxAttempts
    self.payload = payload
    self.progress = progress
    self.errors = errors
    self.createdAt = createdAt
    self.runAt = runAt
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.uniqueKey = uniqueKey
    self.backoff = backoff
    self.cancelRequested = cancelRequested
    self.workerPID = workerPID
  }
}

/// What one attempt used, as its worker measured it and reported with the outcome.
///
/// For an `exec` job it is the command's own: CPU from `wait4(2)` (the command and the
/// descendants it waited for), peak RSS likewise. posix_spawn's vfork makes the kernel seed a
/// child's peak with its parent's, so a command smaller than its worker reads as about the
/// worker's own peak. For an in-process handler it is the worker's: the CPU the process used
/// during the attempt (with other jobs running at once on the same worker, theirs too) and its
/// high-water resident size, reset when the attempt began alone on the worker.
public struct JobUsage: Sendable, Hashable {
  /// User + system CPU seconds.
  public var cpuSeconds: Double
  /// Peak resident set size in bytes.
  public var peakRSS: Int64
  public init(cpuSeconds: Double, peakRSS: Int64) {
    self.cpuSeconds = cpuSeconds
    self.peakRSS = peakRSS
  }
}
