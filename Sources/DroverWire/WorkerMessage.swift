public import DroverCore

/// The version of the supervisor ⇄ worker protocol. A worker whose hello carries another
/// version is refused (it is a different build of drover). 2: `assign` carries the job's
/// `max_attempts`. 3: `assign` carries the job's snooze count. 4: `outcome` carries when the
/// handler began (the job's `started_at`). 5: `result` frames, the `rateLimited` outcome, the
/// job's `traceparent` in `assign`, and what the attempt used (CPU seconds, peak RSS) in
/// `outcome`.
public let workerProtocolVersion: UInt16 = 5

/// The largest frame either side accepts (type byte + body). A larger length prefix is a
/// protocol violation, never an allocation.
public let maxFrameSize = 16 << 20

/// What the supervisor sends a worker.
public enum SupervisorMessage: Sendable, Hashable {
  /// Run this job. The worker starts assigned jobs in the order they arrive, at most
  /// `concurrency` at once; the rest wait on its socket (prefetch).
  case assign(Assignment)
  /// Stop this job cooperatively and report `.cancelled` (or its real outcome if it ends first).
  case cancel(JobID)
  /// Give back every assigned job not yet started (each answered by `.released`); keep
  /// running the started ones. Used by drain, so that prefetched jobs stay queued.
  case release
  /// Give back unstarted jobs (as `release`), finish the running ones, then exit 0. No more
  /// assignments follow.
  case shutdown
}

/// One job handed to a worker.
public struct Assignment: Sendable, Hashable {
  public var id: JobID
  /// 1-based attempt now starting.
  public var attempt: Int
  /// The job's attempt budget (`max_attempts`), for handlers that act on the last attempt
  /// (`exec` passes it as `DROVER_MAX_ATTEMPTS`).
  public var maxAttempts: Int
  /// How many times the job was snoozed before (a handler tells a first run from a snoozed
  /// one).
  public var snoozes: Int
  public var type: String
  /// JSON object text.
  public var payload: String
  /// The W3C trace context the job was enqueued with ("" when none).
  public var traceparent: String
  public init(
    id: JobID, attempt: Int, maxAttempts: Int, snoozes: Int = 0, type: String, payload: String,
    traceparent: String = ""
  ) {
    self.traceparent = traceparent
    self.id = id
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.snoozes = snoozes
    self.type = type
    self.payload = payload
  }
}

/// What a worker sends the supervisor.
public enum WorkerMessage: Sendable, Hashable {
  /// First frame: protocol version and the worker's pid. The worker is then idle.
  case hello(version: UInt16, pid: Int32)
  /// Progress of a running job, 0-100.
  case progress(JobID, Int)
  /// "Still alive", sent on a fixed interval by a thread independent of handlers.
  case heartbeat
  /// A job's attempt is over. `started` is the wall-clock time read just before the handler
  /// was called: the attempt's `started_at`, so pick-up latency can be read from the store.
  /// `usage` is what the attempt used as the worker measured it (``JobUsage``); nil when it
  /// could not tell.
  case outcome(JobID, JobOutcome, started: Timestamp, usage: JobUsage? = nil)
  /// An assigned job was never started and is given back (answer to `release`/`shutdown`).
  case released(JobID)
  /// The result a job's handler set (JSON text), sent just before its `completed` outcome.
  case result(JobID, String)
}

/// Frame type bytes. Never renumber: old and new builds must at least refuse each other cleanly.
enum FrameType: UInt8 {
  case hello = 1
  case progress = 2
  case heartbeat = 3
  case outcome = 4
  case released = 5
  case result = 6
  case assign = 10
  case cancel = 11
  case shutdown = 12
  case release = 13
}

/// Outcome kind bytes in an `outcome` frame.
enum OutcomeKind: UInt8 {
  case completed = 0
  case retryable = 1
  case permanent = 2
  case snooze = 3
  case cancelled = 4
  case rateLimited = 5
}

/// Exit codes of `drover worker`: a protocol with the supervisor.
public enum WorkerExit {
  /// Asked to shut down and did.
  public static let normal: Int32 = 0
  /// Lost the supervisor (socket EOF or error).
  public static let orphaned: Int32 = 69
  /// The supervisor sent bytes that are not the protocol.
  public static let protocolError: Int32 = 76
  /// Cannot boot (unknown handler, bad arguments): respawning will not help, so the supervisor
  /// marks the pool crash-looping at once (EX_CONFIG).
  public static let cannotBoot: Int32 = 78
}
