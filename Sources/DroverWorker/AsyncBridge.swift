package import DroverCore
import DroverSystem

/// Runs handlers, sync or async, on a worker's executor threads.
///
/// Each unit of `concurrency` is a thread of its own (blocking handlers are fine there). An
/// async handler runs as a detached task on Swift's global executor while that thread waits on
/// a condition variable: the waiting thread is ours, never one of the cooperative pool's, so
/// no pool thread is ever blocked on another task's result.
package enum AsyncBridge {
  /// One attempt of `body`, its thrown errors settled as `JobError.outcome(for:cancelled:)`.
  package static func run(_ body: HandlerRegistry.Body, _ ctx: JobContext) -> JobOutcome {
    switch body {
    case .sync(let handler):
      do { return try handler(ctx) } catch {
        return JobError.outcome(for: error, cancelled: ctx.isCancelled)
      }
    case .async(let handler):
      return wait(onCancel: ctx.onCancel) {
        do { return try await handler(ctx) } catch {
          return JobError.outcome(for: error, cancelled: ctx.isCancelled)
        }
      }
    }
  }

  /// Runs `operation` in a detached task and blocks the calling (non-pool) thread until it
  /// ends. `onCancel`, when given, is handed a hook that cancels the task.
  package static func wait<T: Sendable>(
    onCancel: ((@escaping @Sendable () -> Void) -> Void)? = nil,
    _ operation: @escaping @Sendable () async -> T
  ) -> T {
    let box = ResultBox<T>()
    let task = Task.detached { box.set(await operation()) }
    onCancel? { task.cancel() }
    return box.wait()
  }
}

/// One value handed from a task to a waiting thread.
final class ResultBox<T: Sendable>: @unchecked Sendable {
  // @unchecked: `value` is read and written only inside monitor.locked.
  private let monitor = Monitor()
  private var value: T?

  func set(_ v: T) {
    monitor.locked {
      value = v
      monitor.broadcast()
    }
  }

  func wait() -> T {
    monitor.locked {
      while value == nil { monitor.wait() }
      return value!
    }
  }
}

extension AsyncBridge {
  /// `run(_:_:)` from async code, as a worker would run it: the payload parsed first (one
  /// that does not parse fails permanently), then the handler on a thread of its own (a sync
  /// handler may block; an async one runs in its task), so the caller's task is never blocked.
  package static func attempt(_ body: HandlerRegistry.Body, _ ctx: JobContext) async
    -> JobOutcome
  {
    if ctx.isCancelled { return .cancelled }
    if let problem = payloadProblem(ctx.payload) { return .permanent(problem) }
    return await withCheckedContinuation { (done: CheckedContinuation<JobOutcome, Never>) in
      startThread { done.resume(returning: run(body, ctx)) }
    }
  }

  /// Why a payload cannot be handed to a handler, or nil: it must parse as JSON.
  package static func payloadProblem(_ payload: String) -> String? {
    do {
      _ = try JSONValue.parse(payload)
      return nil
    } catch {
      return "the payload is not a JSON object: \(error)"
    }
  }
}
