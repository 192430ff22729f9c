public import DroverCore
public import Logging

/// A job handler: runs one attempt on a worker thread and says how it went.
///
/// Handlers run on the worker's own threads (one per unit of `concurrency`), so blocking
/// calls are fine. Throwing settles the attempt as `JobError.outcome(for:cancelled:)` says: a
/// `JobError` as it states, anything else as a retryable failure with its description.
public typealias JobHandler = @Sendable (JobContext) throws -> JobOutcome

/// An `async` job handler. It runs in a Swift task (on the global concurrent executor) while
/// the worker thread that took the job waits for it, so `concurrency` still bounds the jobs
/// in flight; the supervisor's cancel cancels the task. It must not block its thread for long
/// (the cooperative pool has one thread per core): blocking work belongs in a sync
/// `JobHandler`, which has a thread of its own.
public typealias AsyncJobHandler = @Sendable (JobContext) async throws -> JobOutcome

/// What a per-worker setup hook gets: which pool the worker serves, and a logger.
public struct WorkerSetupContext: Sendable {
  /// The pool this worker belongs to.
  public let pool: String
  /// The handler the worker runs (the pool's `handler`).
  public let handler: String
  /// A logger with the worker's `pool` and `worker_pid` metadata.
  public let logger: Logger

  package init(pool: String, handler: String, logger: Logger) {
    self.pool = pool
    self.handler = handler
    self.logger = logger
  }
}

/// A per-worker setup hook: runs once in each worker process, before its first job (open a
/// connection pool, warm a model). A hook that throws stops the worker (exit 1, its error on
/// stderr); the supervisor restarts it with backoff and marks the pool crash-looping when it
/// keeps failing.
public typealias WorkerSetup = @Sendable (WorkerSetupContext) async throws -> Void

/// The handlers a worker can run, by name: the built-ins plus any an embedding application
/// registers before calling `DroverCLI.main`.
public struct HandlerRegistry: Sendable {
  package enum Body: Sendable {
    case sync(JobHandler)
    case async(AsyncJobHandler)
  }

  package var handlers: [String: Body] = [:]
  package var setups: [WorkerSetup] = []

  /// The built-in handlers only: `noop`, `sleep`, `fail`, `crash` (`exec` is configured per
  /// pool and handled by the worker itself).
  public init() {
    handlers = BuiltinHandlers.all.mapValues { .sync($0) }
  }

  /// Adds (or replaces) a handler. Pools name it with `handler = "NAME"`.
  public mutating func register(_ name: String, _ handler: @escaping JobHandler) {
    handlers[name] = .sync(handler)
  }

  /// Adds (or replaces) an `async` handler (see `AsyncJobHandler`).
  public mutating func register(_ name: String, async handler: @escaping AsyncJobHandler) {
    handlers[name] = .async(handler)
  }

  /// Adds (or replaces) a typed job under its `type`: pools run it with `handler = "TYPE"`
  /// (and list the type in `types`, the default when the pool is named after it). Its payload
  /// is decoded before `run` is called; one that does not decode fails the job permanently
  /// with the decoding error as its text.
  public mutating func register<J: JobDefinition>(_ job: J) {
    handlers[J.type] = .async { ctx in try await JobDefinitions.run(job, ctx) }
  }

  /// Adds a hook that runs once per worker process before its first job (see
  /// `WorkerSetup`). Hooks run in the order they were added, whatever handler the pool runs.
  public mutating func onWorkerStart(_ setup: @escaping WorkerSetup) {
    setups.append(setup)
  }

  /// The handler for `name`, if registered; an async one is wrapped to run as
  /// `JobHandler` does (on the calling thread, which waits for its task).
  public func handler(named name: String) -> JobHandler? {
    guard let body = handlers[name] else { return nil }
    return { @Sendable ctx in AsyncBridge.run(body, ctx) }
  }

  /// Every registered name, sorted.
  public var names: [String] { handlers.keys.sorted() }
}
