import DroverCore
import DroverTesting
import DroverWorker
import ExampleJobs
import Synchronization
import Testing

/// The app's handlers in Drover's testing mode: in-process, no supervisor.
@Suite struct ExampleJobsTests {
  /// A mailer that throttles the first call and records what it sent.
  final class FakeMailer: Mailer {
    let sent = Mutex<[String]>([])
    let throttleFirst: Bool
    init(throttleFirst: Bool = false) { self.throttleFirst = throttleFirst }
    func send(to: String, subject: String) async throws -> MailResult {
      sent.withLock { list in
        list.append(to)
        return throttleFirst && list.count == 1 ? .throttled(.seconds(60)) : .sent
      }
    }
  }

  @Test func anEmailIsSent() async {
    let mailer = FakeMailer()
    let test = TestJobContext(type: SendEmail.type)
    let outcome = await test.run(SendEmail(mailer: mailer), .init(to: "a@b.c", subject: "hi"))
    #expect(outcome == .completed)
    #expect(mailer.sent.withLock { $0 } == ["a@b.c"])
    #expect(test.progress == [100])
  }

  @Test func aThrottledEmailComesBackLaterWithoutSpendingAnAttempt() async {
    let job = SendEmail(mailer: FakeMailer(throttleFirst: true))
    let outcome = await TestJobContext().run(job, .init(to: "a@b.c", subject: "hi"))
    #expect(outcome == .rateLimited(.seconds(60)))
  }

  @Test func aBadAddressOrPayloadFailsPermanently() async {
    let job = SendEmail(mailer: FakeMailer())
    #expect(
      await TestJobContext().run(job, .init(to: "nobody", subject: "hi"))
        == .permanent("not an email address: nobody"))
    #expect(
      await TestJobContext(payload: #"{"to": "a@b.c"}"#).run(job)
        == .permanent(#"payload does not decode as email.send: missing key "subject""#))
  }

  @Test func aResizeReportsProgressAndStopsOnCancel() async {
    let done = TestJobContext(type: ResizeImage.type)
    #expect(await done.run(ResizeImage(), .init(path: "a.png", width: 100)) == .completed)
    #expect(done.progress == [25, 50, 75, 100])

    let stopped = TestJobContext(type: ResizeImage.type)
    async let outcome = stopped.run(ResizeImage(), .init(path: "a.png", width: 100, stepMS: 60_000))
    stopped.cancel()
    #expect(await outcome == .cancelled)
  }

  @Test func theRegistryHasBothJobsAndItsSetupRuns() async throws {
    let handlers = exampleHandlers(mailer: FakeMailer())
    #expect(handlers.names.contains(SendEmail.type) && handlers.names.contains(ResizeImage.type))
    try await TestJobContext.runSetups(handlers)
    let outcome = await TestJobContext(payload: #"{"path": "x", "width": 0}"#)
      .run(handlers, handler: ResizeImage.type)
    #expect(outcome == .permanent("width must be positive"))
  }
}
