import DroverClient
import DroverCore
import DroverTestSupport
import DroverWire
import Testing

/// `DroverClient` against a real `drover serve`: typed single and pipelined enqueues, options
/// on the stored job, typed errors.
@Suite("DroverClient")
struct DroverClientTests {
  struct Email: JobKind {
    static let type = "email.send"
    struct Payload: Codable, Sendable, Equatable {
      var to: String
      var retries: Int
    }
  }

  static func harness() throws -> SupervisorHarness {
    try SupervisorHarness(
      pools: """
        [pools.mail]
        types = ["email.send", "other"]
        handler = "noop"
        min = 1
        max = 1
        """)
  }

  /// Parents through the client: `EnqueueOptions.parents` for existing jobs, `enqueue(graph:)`
  /// for new ones naming each other by ref; a cycle is refused whole.
  @Test func enqueuesJobsAfterOthers() async throws {
    let h = try Self.harness()
    try h.start()
    let client = DroverClient(socketPath: h.dir.file("var/control.sock"))
    let graph = try await client.enqueue(graph: [
      EnqueueRequest(type: "other", ref: "second", after: [.ref("first")]),
      EnqueueRequest(type: "other", ref: "first"),
    ])
    #expect(graph.count == 2)
    let last = try await client.enqueue(
      Email.self, .init(to: "a@b.c", retries: 0),
      options: EnqueueOptions(parents: [graph[0].id], onParentFailure: .run))
    try h.waitUntil("all three completed", timeout: .seconds(20)) {
      try h.jobState(last.id) == "completed"
    }
    let shown = try h.job(last.id)
    #expect(shown["parents"]?.arrayValue?.first?["id"]?.intValue == graph[0].id)
    #expect(shown["on_parent_failure"]?.stringValue == "run")
    await #expect(throws: DroverClientError.self) {
      try await client.enqueue(graph: [
        EnqueueRequest(type: "other", ref: "x", after: [.ref("y")]),
        EnqueueRequest(type: "other", ref: "y", after: [.ref("x")]),
      ])
    }
    await client.close()
    #expect(try h.stop().exitCode == 0)
  }

  @Test func enqueuesTypedJobsWithTheirOptions() async throws {
    let h = try Self.harness()
    try h.start()
    let client = DroverClient(socketPath: h.dir.file("var/control.sock"))
    let job = try await client.enqueue(
      Email.self, .init(to: "a@b.c", retries: 2),
      options: EnqueueOptions(priority: 5, delay: .seconds(3600), maxAttempts: 3, uniqueKey: "k1"))
    let stored = try h.job(job.id)
    #expect(stored["type"]?.stringValue == "email.send")
    #expect(stored["state"]?.stringValue == "scheduled")
    #expect(stored["priority"]?.intValue == 5)
    #expect(stored["max_attempts"]?.intValue == 3)
    #expect(stored["unique_key"]?.stringValue == "k1")
    #expect(stored["payload"]?["to"]?.stringValue == "a@b.c")
    #expect(stored["payload"]?["retries"]?.intValue == 2)

    let again = try await client.enqueue(
      Email.self, .init(to: "x@y.z", retries: 0), options: EnqueueOptions(uniqueKey: "k1"))
    #expect(again == Enqueued(id: job.id, existed: true))

    let batch = try await client.enqueue(
      batch: Email.self, (0..<50).map { Email.Payload(to: "n\($0)@b.c", retries: $0) })
    let ids = try batch.map { try $0.get().id }
    #expect(Set(ids).count == 50 && ids == ids.sorted())
    try h.waitUntil("the batch completed", timeout: .seconds(20)) {
      try h.jobState(ids.last!) == "completed"
    }
    await client.close()
    #expect(try h.stop().exitCode == 0)
  }

  @Test func refusalsAndAMissingSupervisorAreTypedErrors() async throws {
    let h = try Self.harness()
    let client = DroverClient(socketPath: h.dir.file("var/control.sock"), timeout: .seconds(2))
    await #expect(throws: DroverClientError.self) {
      _ = try await client.enqueue(type: "other")
    }
    do {
      _ = try await client.enqueue(type: "other")
    } catch {
      guard case .connection(.cannotConnect) = error else {
        Issue.record("expected cannotConnect, got \(error)")
        return
      }
    }
    try h.start()
    // Reconnects on its own once a supervisor is there.
    let ok = try await client.enqueue(type: "other", payload: ["a": 1])
    #expect(ok.id > 0)
    let results = try await client.enqueue(batch: [
      EnqueueRequest(type: "other"), EnqueueRequest(type: ""), EnqueueRequest(type: "other"),
    ])
    #expect((try? results[0].get()) != nil)
    guard case .failure(.refused(let why)) = results[1] else {
      Issue.record("an empty type must be refused: \(results[1])")
      return
    }
    #expect(why.contains("type"), "\(why)")
    #expect((try? results[2].get()) != nil)
    #expect(try h.stop().exitCode == 0)
  }
}
