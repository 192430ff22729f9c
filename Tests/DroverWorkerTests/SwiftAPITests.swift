import DroverCore
import DroverTesting
import DroverWorker
import Synchronization
import Testing

/// The Swift handler API in testing mode: typed jobs, async handlers, thrown errors, cancel.
@Suite("Swift API")
struct SwiftAPITests {
  struct Resize: JobDefinition {
    static let type = "image.resize"
    struct Payload: Codable, Sendable {
      var width: Int
      var name: String
    }
    func run(_ payload: Payload, context: JobContext) async throws {
      context.progress(50)
      if payload.width <= 0 { throw DroverWorker.JobError.permanent("width must be positive") }
      if payload.width > 10_000 {
        throw DroverWorker.JobError.rateLimited(retryAfter: .seconds(30))
      }
      if payload.name == "flaky" { throw Flaky() }
      if payload.name == "slow" { try await Task.sleep(for: .seconds(60)) }
      context.progress(150)
      try context.setResult(Size(width: payload.width, height: payload.width / 2))
    }
  }
  struct Size: Codable, Sendable {
    var width: Int
    var height: Int
  }
  struct Flaky: Error, CustomStringConvertible { var description: String { "disk busy" } }

  @Test func aTypedJobRunsAndRecordsItsProgress() async {
    let test = TestJobContext(type: Resize.type)
    #expect(await test.run(Resize(), .init(width: 10, name: "a")) == .completed)
    #expect(test.progress == [50, 100])
  }

  @Test func aHandlersResultIsItsEncodedValue() async {
    let test = TestJobContext(type: Resize.type)
    #expect(await test.run(Resize(), .init(width: 10, name: "a")) == .completed)
    #expect(test.result?["width"] == 10 && test.result?["height"] == 5)
  }

  @Test func thrownErrorsSettleAsTheySay() async {
    #expect(
      await TestJobContext().run(Resize(), .init(width: 0, name: "a"))
        == .permanent("width must be positive"))
    #expect(
      await TestJobContext().run(Resize(), .init(width: 20_000, name: "a"))
        == .rateLimited(.seconds(30))
    )
    #expect(
      await TestJobContext().run(Resize(), .init(width: 1, name: "flaky"))
        == .retryable("disk busy"))
  }

  @Test func aPayloadThatDoesNotDecodeFailsPermanentlyWithTheReason() async {
    let missing = await TestJobContext(payload: #"{"width": 3}"#).run(Resize())
    #expect(missing == .permanent(#"payload does not decode as image.resize: missing key "name""#))
    let wrong = await TestJobContext(payload: #"{"width": "3", "name": "a"}"#).run(Resize())
    guard case .permanent(let why) = wrong else {
      Issue.record("\(wrong)")
      return
    }
    #expect(why.contains("at width"), "\(why)")
    let notJSON = await TestJobContext(payload: "{nope").run(Resize())
    guard case .permanent(let text) = notJSON else {
      Issue.record("\(notJSON)")
      return
    }
    #expect(text.hasPrefix("the payload is not a JSON object"), "\(text)")
  }

  @Test func cancelReachesAnAsyncHandlerAsTaskCancellation() async {
    let test = TestJobContext(type: Resize.type)
    async let outcome = test.run(Resize(), .init(width: 1, name: "slow"))
    // The cancel may come before or after the task starts; either way it must end it.
    test.cancel()
    #expect(await outcome == .cancelled)
  }

  @Test func cancelWakesASyncHandlersSleep() async {
    let test = TestJobContext()
    let handler: JobHandler = { ctx in
      ctx.sleep(for: .seconds(60)) ? .completed : .cancelled
    }
    async let outcome = test.run(handler)
    test.cancel()
    #expect(await outcome == .cancelled)
  }

  @Test func theContextCarriesAttemptsSnoozesAndLoggerMetadata() async {
    let test = TestJobContext(type: "t", id: 42, attempt: 2, maxAttempts: 5, snoozes: 3)
    let seen = await test.run(async: { ctx in
      let meta = ctx.logger[metadataKey: "job_id"].map { "\($0)" } ?? ""
      return .retryable("\(ctx.attempt)/\(ctx.maxAttempts) snoozes=\(ctx.snoozes) job_id=\(meta)")
    })
    #expect(seen == .retryable("2/5 snoozes=3 job_id=42"))
  }

  @Test func aRegistryRunsItsSetupHooksAndHandlersByName() async throws {
    var registry = HandlerRegistry()
    let calls = Counter()
    registry.onWorkerStart { _ in calls.add() }
    registry.register(
      "double",
      async: { ctx in
        let n = ctx.json["n"]?.intValue ?? 0
        return n * 2 == 8 ? .completed : .permanent("wrong")
      })
    registry.register(Resize())
    #expect(registry.names.contains("image.resize") && registry.names.contains("double"))
    try await TestJobContext.runSetups(registry)
    #expect(calls.value == 1)
    #expect(
      await TestJobContext(payload: #"{"n": 4}"#).run(registry, handler: "double") == .completed)
    // The sync view still works, for code that calls handlers itself.
    let sync = try #require(registry.handler(named: "double"))
    #expect(try sync(TestJobContext(payload: #"{"n": 5}"#).context) == .permanent("wrong"))
  }
}

/// A thread-safe count for hooks.
final class Counter: Sendable {
  private let n = Mutex(0)
  func add() { n.withLock { $0 += 1 } }
  var value: Int { n.withLock { $0 } }
}
