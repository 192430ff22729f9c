public import DroverCore
import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What a handler gets for one attempt: the job, a way to report progress, and the cancel
/// signal.
///
/// A handler should check `isCancelled` (or use `sleep`, which wakes early on cancel) in long
/// work and return `.cancelled` when asked; if it doesn't, the supervisor kills the worker after
/// the grace period.
public final class JobContext: Sendable {
  /// The job's id.
  public let id: JobID
  /// The job's type.
  public let type: String
  /// The attempt now running (1-based).
  public let attempt: Int
  /// The job's attempt budget: `attempt == maxAttempts` is the last try before `dead`.
  public let maxAttempts: Int
  /// The payload as JSON text (always an object).
  public let payload: String

  let monitor = Monitor()
  nonisolated(unsafe) private var cancelledFlag = false  // guarded by monitor
  private let reportProgress: @Sendable (JobID, Int) -> Void

  init(
    id: JobID, type: String, attempt: Int, maxAttempts: Int, payload: String,
    reportProgress: @escaping @Sendable (JobID, Int) -> Void
  ) {
    self.id = id
    self.type = type
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.payload = payload
    self.reportProgress = reportProgress
  }

  /// The payload parsed; `.object([])` when it does not parse (the store only holds objects).
  public var json: JSONValue { (try? JSONValue.parse(payload)) ?? .object([]) }

  /// True once the supervisor asked this attempt to stop (cancel or timeout).
  public var isCancelled: Bool { monitor.locked { cancelledFlag } }

  /// Reports progress 0-100 (clamped). Cheap; call it as often as useful.
  public func progress(_ percent: Int) {
    reportProgress(id, min(100, max(0, percent)))
  }

  /// Sleeps for `duration` or until cancelled, whichever comes first. Returns false when woken
  /// by a cancel.
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

  func cancel() {
    monitor.locked {
      cancelledFlag = true
      monitor.broadcast()
    }
  }
}
