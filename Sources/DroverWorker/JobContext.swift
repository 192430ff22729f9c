public import DroverCore
import DroverSystem
import FoundationEssentials
public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// What a handler gets for one attempt: the job, a logger, a way to report progress, and the
/// cancel signal.
///
/// A handler should check `isCancelled` (or use `sleep`, which wakes early on cancel) in long
/// work and return `.cancelled` when asked; if it doesn't, the supervisor kills the worker after
/// the grace period. An `async` handler also sees the cancel as Swift `Task` cancellation
/// (`Task.isCancelled`, `Task.checkCancellation()`, `Task.sleep` throwing).
public final class JobContext: Sendable {
  /// The job's id.
  public let id: JobID
  /// The job's type.
  public let type: String
  /// The attempt now running (1-based). Snoozes do not spend attempts: a snoozed job runs
  /// again with the same `attempt`; `snoozes` tells the runs apart.
  public let attempt: Int
  /// The job's attempt budget: `attempt == maxAttempts` is the last try before `dead`.
  public let maxAttempts: Int
  /// How many times the job was snoozed before this run (0 on a job's first run); a snooze
  /// beyond the pool's `max_snoozes` ends the job `dead`.
  public let snoozes: Int
  /// The payload as JSON text (always an object).
  public let payload: String
  /// The W3C trace context the job was enqueued with, if any (exec: `TRACEPARENT`).
  public let traceparent: String?
  /// A logger whose metadata carries `job_id`, `type`, `attempt` and `worker_pid` (and the
  /// pool): lines written through it go to the worker's stderr in the supervisor's format.
  public let logger: Logger

  let monitor = Monitor()
  // Guarded by monitor: the flag, and what to run when it turns (async handlers' tasks).
  nonisolated(unsafe) private var cancelledFlag = false
  nonisolated(unsafe) private var cancelHooks: [@Sendable () -> Void] = []
  nonisolated(unsafe) private var resultText: String?
  private let parsed: JSONValue?
  private let reportProgress: @Sendable (JobID, Int) -> Void

  package init(
    id: JobID, type: String, attempt: Int, maxAttempts: Int, snoozes: Int = 0, payload: String,
    parsed: JSONValue? = nil, logger: Logger, traceparent: String? = nil,
    reportProgress: @escaping @Sendable (JobID, Int) -> Void
  ) {
    self.traceparent = traceparent
    self.id = id
    self.type = type
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.snoozes = snoozes
    self.payload = payload
    self.parsed = parsed
    var logger = logger
    logger[metadataKey: "job_id"] = "\(id)"
    logger[metadataKey: "type"] = "\(type)"
    logger[metadataKey: "attempt"] = "\(attempt)"
    logger[metadataKey: "worker_pid"] = "\(getpid())"
    self.logger = logger
    self.reportProgress = reportProgress
  }

  /// The payload parsed. The worker parses it before it calls a handler and fails the
  /// attempt permanently when it does not parse, so in a handler this is the real payload,
  /// never a silent `{}`.
  public var json: JSONValue { parsed ?? (try? JSONValue.parse(payload)) ?? .object([]) }

  /// True once the supervisor asked this attempt to stop (cancel or timeout).
  public var isCancelled: Bool { monitor.locked { cancelledFlag } }

  /// Throws `CancellationError` once the attempt was asked to stop; the worker settles a
  /// handler that throws after a cancel as `.cancelled`.
  public func checkCancellation() throws {
    if isCancelled { throw CancellationError() }
  }

  /// Reports progress 0-100 (clamped). Cheap; call it as often as useful.
  public func progress(_ percent: Int) {
    reportProgress(id, min(100, max(0, percent)))
  }

  /// Sets the job's result, stored with the job when the attempt completes (the last call
  /// wins; a failed attempt's result is dropped). `jobs show`, `GET /jobs/{id}` and
  /// `DroverClient.result(of:)` return it. Above `store.max_result` bytes the job fails
  /// permanently, saying so.
  public func setResult(json: JSONValue) {
    let text = json.render()
    monitor.locked { resultText = text }
  }

  /// `setResult(json:)` with any `Encodable` value (a struct, an array, a number…).
  public func setResult<T: Encodable>(_ value: T) throws {
    let data = try JSONEncoder().encode(value)
    let json = try JSONValue.parse(String(decoding: data, as: UTF8.self))
    setResult(json: json)
  }

  /// The result set so far (JSON text), if any.
  public var result: String? { monitor.locked { resultText } }

  /// Sleeps for `duration` or until cancelled, whichever comes first. Returns false when woken
  /// by a cancel. Blocks the calling thread: for sync handlers (an async handler uses
  /// `Task.sleep`, which the cancel interrupts).
  @discardableResult
  public func sleep(for duration: Duration) -> Bool {
    let deadline = Monotonic.nanoseconds() + duration.microseconds * 1000
    return monitor.locked {
      while !cancelledFlag {
        if Monotonic.nanoseconds() >= deadline { return true }
        monitor.wait(untilNS: deadline)
      }
      return false
    }
  }

  /// Runs `hook` when the attempt is cancelled (at once if it already is). Used to turn the
  /// supervisor's cancel into Swift `Task` cancellation; also for test contexts.
  package func onCancel(_ hook: @escaping @Sendable () -> Void) {
    let now: Bool = monitor.locked {
      if cancelledFlag { return true }
      cancelHooks.append(hook)
      return false
    }
    if now { hook() }
  }

  package func cancel() {
    let hooks: [@Sendable () -> Void] = monitor.locked {
      if cancelledFlag { return [] }
      cancelledFlag = true
      monitor.broadcast()
      defer { cancelHooks = [] }
      return cancelHooks
    }
    // Outside the lock: a hook (Task.cancel) may run cancellation handlers synchronously.
    for hook in hooks { hook() }
  }
}
