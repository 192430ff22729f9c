import DroverClient
import DroverCore
import ExampleJobs
import Foundation
import Testing

/// The app end to end: its own binary as the supervisor and as the worker processes running
/// the registered Swift handlers, fed by the typed client over the control socket.
@Suite struct ExampleAppTests {
  /// `example-app`, built beside this test bundle.
  static var binary: String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var dir = bundle
    // The test runner may be inside `…/debug/X.xctest/…`: walk up to the folder holding the app.
    for _ in 0..<4 {
      let candidate = dir.appendingPathComponent("example-app").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    return bundle.appendingPathComponent("example-app").path
  }

  /// Runs `example-app ARGS` to the end; returns its stdout.
  static func app(_ args: [String]) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func typedJobsRunInTheAppsOwnWorkers() async throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("drover-example-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("drover.toml").path
    let socket = dir.appendingPathComponent("control.sock").path
    try """
    [store]
    path = "jobs.db"

    [control]
    socket = "control.sock"

    [pools.mail]
    types = ["email.send"]
    handler = "email.send"
    min = 1
    max = 1
    max_attempts = 3

    [pools.images]
    types = ["image.resize"]
    handler = "image.resize"
    min = 1
    max = 1
    """.write(toFile: config, atomically: true, encoding: .utf8)

    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: Self.binary)
    serve.arguments = ["serve", "--config", config]
    serve.standardError = FileHandle.nullDevice
    try serve.run()
    defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }

    let client = DroverClient(socketPath: socket)
    // The socket appears once the supervisor is up.
    var good: Enqueued?
    let deadline = ContinuousClock.now + .seconds(60)
    while good == nil, ContinuousClock.now < deadline {
      good = try? await client.enqueue(SendEmail.self, .init(to: "a@b.c", subject: "Hi"))
      if good == nil { try await Task.sleep(for: .milliseconds(100)) }
    }
    let sent = try #require(good, "the supervisor never answered on \(socket)")
    let bad = try await client.enqueue(SendEmail.self, .init(to: "nobody", subject: "Hi"))
    let resize = try await client.enqueue(
      ResizeImage.self, .init(path: "a.png", width: 64, stepMS: 10))
    await client.close()

    func show(_ id: JobID) throws -> JSONValue? {
      let r = try Self.app(["jobs", "show", String(id), "--json", "--config", config])
      return r.status == 0 ? try JSONValue.parse(r.out) : nil
    }
    var final: [JobID: JSONValue] = [:]
    while final.count < 3, ContinuousClock.now < deadline {
      for id in [sent.id, bad.id, resize.id] where final[id] == nil {
        if let job = try show(id),
          ["completed", "dead", "cancelled"].contains(job["state"]?.stringValue ?? "")
        {
          final[id] = job
        }
      }
      if final.count < 3 { try await Task.sleep(for: .milliseconds(100)) }
    }
    #expect(final[sent.id]?["state"] == "completed")
    #expect(final[sent.id]?["progress"]?.intValue == 100)
    #expect(final[resize.id]?["state"] == "completed")
    // A permanent JobError: dead at once, with the handler's reason, no retries spent.
    #expect(final[bad.id]?["state"] == "dead")
    #expect(final[bad.id]?["attempts"]?.intValue == 1)
    let errors = final[bad.id]?["errors"]?.arrayValue ?? []
    #expect(errors.first?["message"]?.stringValue == "not an email address: nobody")
    // They ran in worker processes, not in the supervisor.
    let worker = final[sent.id]?["worker_pid"]?.intValue
    #expect(worker != nil && worker != Int64(serve.processIdentifier))

    kill(serve.processIdentifier, SIGTERM)
    serve.waitUntilExit()
    #expect(serve.terminationStatus == 0, "SIGTERM drains and exits 0")
  }
}
