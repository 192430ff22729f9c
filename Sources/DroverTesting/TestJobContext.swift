public import DroverCore
import DroverSystem
public import DroverWorker
import FoundationEssentials
public import Logging

/// A job context for unit tests: handlers run in-process, with no supervisor or worker.
///
/// Progress reports are recorded in `progress`; `cancel()` does what the supervisor's cancel
/// does (sets `isCancelled`, wakes `sleep`, cancels an async handler's task).
///
/// ```swift
/// let test = TestJobContext(type: SendEmail.type)
/// let outcome = await test.run(SendEmail(), SendEmail.Payload(to: "a@b.c"))
/// #expect(outcome == .completed)
/// #expect(test.progress == [50, 100])
/// ```
public final class TestJobContext: Sendable {
  /// The context handed to the handler.
  public let context: JobContext
  private let recorder: Recorder

  /// A context for one attempt of a job with this payload text (need not be valid JSON: a
  /// test of what the worker does with a bad payload).
  public init(
    type: String = "test", payload: String = "{}", id: JobID = 1, attempt: Int = 1,
    maxAttempts: Int = 20, snoozes: Int = 0,
    logger: Logger = Logger(label: "drover.test")
  ) {
    let recorder = Recorder()
    self.recorder = recorder
    context = JobContext(
      id: id, type: type, attempt: attempt, maxAttempts: maxAttempts, snoozes: snoozes,
      payload: payload, parsed: try? JSONValue.parse(payload), logger: logger,
      reportProgress: { _, pct in recorder.record(pct) })
  }

  /// Every progress report so far, in order (clamped to 0-100 as the worker sends them).
  public var progress: [Int] { recorder.values }

  /// The result the handler set (`JobContext.setResult`), if any.
  public var result: JSONValue? { context.result.flatMap { try? JSONValue.parse($0) } }

  /// Cancels the attempt, as `jobs cancel` or a timeout would.
  public func cancel() { context.cancel() }

  /// Runs `job` with `payload` (encoded and decoded as the real path does), returning the
  /// outcome the worker would report.
  public func run<J: JobDefinition>(_ job: J, _ payload: J.Payload) async -> JobOutcome {
    do {
      let data = try JSONEncoder().encode(payload)
      let text = String(decoding: data, as: UTF8.self)
      let inner = TestJobContext(
        type: context.type, payload: text, id: context.id, attempt: context.attempt,
        maxAttempts: context.maxAttempts, snoozes: context.snoozes, logger: context.logger,
        sharing: self)
      let outcome = await inner.run(job)
      if let r = inner.result { context.setResult(json: r) }
      return outcome
    } catch {
      return .permanent("the payload does not encode: \(error)")
    }
  }

  /// Runs `job` on this context's payload text (to test payloads that do not decode).
  public func run<J: JobDefinition>(_ job: J) async -> JobOutcome {
    var registry = HandlerRegistry()
    registry.register(job)
    return await run(registry, handler: J.type)
  }

  /// Runs a sync handler on a thread of its own (it may block), as a worker would.
  public func run(_ handler: @escaping JobHandler) async -> JobOutcome {
    await AsyncBridge.attempt(.sync(handler), context)
  }

  /// Runs an async handler in a task of its own, as a worker would.
  public func run(async handler: @escaping AsyncJobHandler) async -> JobOutcome {
    await AsyncBridge.attempt(.async(handler), context)
  }

  /// Runs the handler registered as `name` (nil when there is none).
  public func run(_ registry: HandlerRegistry, handler name: String) async -> JobOutcome {
    guard let body = registry.handlers[name] else {
      return .permanent("no handler named \"\(name)\"")
    }
    return await AsyncBridge.attempt(body, context)
  }

  /// Runs a registry's per-worker setup hooks, as a worker does before its first job.
  public static func runSetups(
    _ registry: HandlerRegistry, pool: String = "test", handler: String = "test",
    logger: Logger = Logger(label: "drover.test")
  ) async throws {
    let ctx = WorkerSetupContext(pool: pool, handler: handler, logger: logger)
    for setup in registry.setups { try await setup(ctx) }
  }

  /// A context on another payload that records into (and is cancelled with) `other`.
  private init(
    type: String, payload: String, id: JobID, attempt: Int, maxAttempts: Int, snoozes: Int,
    logger: Logger, sharing other: TestJobContext
  ) {
    recorder = other.recorder
    let recorder = other.recorder
    context = JobContext(
      id: id, type: type, attempt: attempt, maxAttempts: maxAttempts, snoozes: snoozes,
      payload: payload, parsed: try? JSONValue.parse(payload), logger: logger,
      reportProgress: { _, pct in recorder.record(pct) })
    let mine = context
    other.context.onCancel { mine.cancel() }
  }
}

/// Progress reports, from any thread.
final class Recorder: @unchecked Sendable {
  // @unchecked: `reports` is read and written only inside monitor.locked.
  private let monitor = Monitor()
  private var reports: [Int] = []

  func record(_ pct: Int) { monitor.locked { reports.append(pct) } }
  var values: [Int] { monitor.locked { reports } }
}
