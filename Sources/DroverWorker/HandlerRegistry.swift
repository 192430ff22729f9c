public import DroverCore

/// A job handler: runs one attempt on a worker thread and says how it went.
///
/// Handlers run on the worker's own threads (one per unit of `concurrency`), so blocking
/// calls are fine. Throwing is a retryable failure with the error's description.
public typealias JobHandler = @Sendable (JobContext) throws -> JobOutcome

/// The handlers a worker can run, by name: the built-ins plus any an embedding application
/// registers before calling `DroverCLI.main`.
public struct HandlerRegistry: Sendable {
  var handlers: [String: JobHandler] = [:]

  /// The built-in handlers only: `noop`, `sleep`, `fail`, `crash` (`exec` is configured per
  /// pool and handled by the worker itself).
  public init() {
    handlers = BuiltinHandlers.all
  }

  /// Adds (or replaces) a handler. Pools name it with `handler = "NAME"`.
  public mutating func register(_ name: String, _ handler: @escaping JobHandler) {
    handlers[name] = handler
  }

  /// The handler for `name`, if registered.
  public func handler(named name: String) -> JobHandler? { handlers[name] }

  /// Every registered name, sorted.
  public var names: [String] { handlers.keys.sorted() }
}
