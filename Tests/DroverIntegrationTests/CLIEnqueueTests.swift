import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

@Suite("CLI enqueue")
struct CLIEnqueueTests {
  @Test func enqueuePrintsTheIdAndShowHasEveryContractKey() throws {
    let f = try CLIFixture()
    let r = try f.drover([
      "enqueue", "email", #"{"to": "a@example.com", "n": 3}"#, "--priority", "3",
    ])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.stdoutText.wholeMatch(of: /[0-9]+\n/) != nil, "stdout: \(r.stdoutText)")
    #expect(r.stderrText.isEmpty, "stderr: \(r.stderrText)")
    let id = try #require(JobID(r.trimmedStdout))

    let job = try f.show(id)
    let keys = try #require(job.objectValue).map(\.key)
    let contract = [
      "id", "type", "state", "priority", "attempts", "max_attempts", "payload", "progress",
      "errors", "created_at", "run_at", "started_at", "finished_at",
    ]
    #expect(Array(keys.prefix(contract.count)) == contract)
    #expect(job["id"] == .int(id))
    #expect(job["type"] == "email")
    #expect(job["state"] == "queued")
    #expect(job["priority"] == 3)
    #expect(job["attempts"] == 0)
    #expect(job["max_attempts"] == 5, "the email pool's max_attempts")
    #expect(job["payload"] == ["to": "a@example.com", "n": 3])
    #expect(job["progress"] == 0)
    #expect(job["errors"] == [])
    #expect(job["started_at"] == .null)
    #expect(job["finished_at"] == .null)
    for key in ["created_at", "run_at"] {
      let text = try #require(job[key]?.stringValue, "\(key)")
      #expect(
        text.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil, "\(key): \(text)")
      let t = try #require(Timestamp.parse(text))
      #expect(abs(t.micros - Timestamp.now().micros) < 60_000_000)
    }
    #expect(job["unique_key"] == .null)
  }

  @Test func showTextAndListTable() throws {
    let f = try CLIFixture()
    let id = try f.enqueue(["email", #"{"to":"x"}"#])
    let show = try f.drover(["jobs", "show", String(id)])
    #expect(show.exitCode == 0)
    #expect(show.stdoutText.contains("state:"))
    #expect(show.stdoutText.contains("queued"))
    #expect(show.stdoutText.contains(#"{"to":"x"}"#))
    let list = try f.drover(["jobs", "list"])
    #expect(list.exitCode == 0)
    let lines = list.stdoutText.split(separator: "\n")
    #expect(lines.first?.hasPrefix("ID") == true)
    #expect(lines.count == 2)
    #expect(lines.last?.contains("email") == true)
  }

  @Test func delayedAndAtJobsAreScheduled() throws {
    let f = try CLIFixture()
    let before = Timestamp.now()
    let delayed = try f.enqueue(["email", "--delay", "1h"])
    let job = try f.show(delayed)
    #expect(job["state"] == "scheduled")
    let runAt = try #require(job["run_at"]?.stringValue.flatMap(Timestamp.parse))
    let expected = before.adding(.seconds(3600))
    #expect(abs(runAt.micros - expected.micros) < 60_000_000, "run_at \(runAt)")

    let at = try f.enqueue(["email", "--at", "2030-01-02T03:04:05Z"])
    let atJob = try f.show(at)
    #expect(atJob["state"] == "scheduled")
    #expect(atJob["run_at"] == "2030-01-02T03:04:05.000000Z")

    let now = try f.enqueue(["email", "--delay", "0"])
    #expect(try f.show(now)["state"] == "queued")
  }

  @Test(arguments: [
    (["email", "--delay", "5s", "--at", "2030-01-01T00:00:00Z"], "--delay and --at"),
    (["email", "--delay", "soon"], "--delay"),
    (["email", "--at", "tomorrow"], "--at"),
    (["email", "[1, 2]"], "JSON object"),
    (["email", "{bad"], "not valid JSON"),
    (["email", "--max-attempts", "0"], "--max-attempts"),
    (["email", "--unique-key", ""], "--unique-key"),
    (["", "{}"], "type"),
  ])
  func badArgumentsFailWithOneLine(args: [String], mentions: String) throws {
    let f = try CLIFixture()
    let r = try f.drover(["enqueue"] + args)
    #expect(r.exitCode == 64, "\(args): \(r.status) \(r.stderrText)")
    #expect(r.stdoutText.isEmpty)
    #expect(r.stderrLines.count == 1, "\(r.stderrText)")
    #expect(r.stderrText.hasPrefix("drover: "))
    #expect(r.stderrText.contains(mentions), "\(r.stderrText)")
    #expect(try f.stats().values.reduce(0, +) == 0)
  }

  @Test func aTypeNoPoolRunsIsAcceptedWithAWarning() throws {
    let f = try CLIFixture()
    let r = try f.drover(["enqueue", "nobody-runs-this"])
    #expect(r.exitCode == 0)
    let id = try #require(JobID(r.trimmedStdout))
    #expect(r.stderrText.contains("warning"))
    #expect(r.stderrText.contains("nobody-runs-this"))
    let job = try f.show(id)
    #expect(job["max_attempts"] == 20)
    #expect(job["state"] == "queued")
    // A type of a multi-type pool takes that pool's defaults, without a warning.
    let report = try f.drover(["enqueue", "export", "--max-attempts", "7"])
    #expect(report.exitCode == 0)
    #expect(report.stderrText.isEmpty, "\(report.stderrText)")
    #expect(try f.show(#require(JobID(report.trimmedStdout)))["max_attempts"] == 7)
  }

  @Test func aLiveUniqueKeyReturnsTheExistingJob() throws {
    let f = try CLIFixture()
    let first = try f.drover(["enqueue", "email", "--unique-key", "welcome-42"])
    #expect(first.exitCode == 0)
    #expect(first.stderrText.isEmpty)
    let second = try f.drover([
      "enqueue", "email", #"{"other": true}"#, "--unique-key", "welcome-42",
    ])
    #expect(second.exitCode == 0)
    #expect(second.trimmedStdout == first.trimmedStdout)
    #expect(
      second.stderrText.contains(
        "job \(first.trimmedStdout) with unique key welcome-42 already exists"),
      "\(second.stderrText)")
    #expect(try f.stats()["queued"] == 1)
    #expect(try f.show(#require(JobID(first.trimmedStdout)))["unique_key"] == "welcome-42")
  }

  @Test func twoProcessesRacingOneUniqueKeyMakeOneJob() throws {
    let f = try CLIFixture()
    _ = try f.stats()  // create the store first: the race is about the key, not the schema
    for round in 0..<6 {
      let key = "race-\(round)"
      let a = try f.start(["enqueue", "email", "--unique-key", key])
      let b = try f.start(["enqueue", "email", "--unique-key", key])
      let ra = try a.waitForExit(timeout: .seconds(60))
      let rb = try b.waitForExit(timeout: .seconds(60))
      #expect(ra.exitCode == 0, "\(ra.stderrText)")
      #expect(rb.exitCode == 0, "\(rb.stderrText)")
      #expect(ra.trimmedStdout == rb.trimmedStdout, "round \(round)")
      #expect(!ra.trimmedStdout.isEmpty)
    }
    #expect(try f.stats()["queued"] == 6)
  }

  @Test func batchFromAFile() throws {
    let f = try CLIFixture()
    let path = try f.write(
      "jobs.ndjson",
      """
      {"type": "email", "payload": {"to": "a"}, "priority": 2}

      {"type": "email", "delay": "1h", "max_attempts": 9}
      {"type": "report", "at": "2030-01-01T00:00:00Z", "unique_key": "r1", "backoff": {"base": "1s", "cap": "1m"}}\r
      {"type": "report", "unique_key": "r1"}
      {"type": "email", "payload": null, "priority": null}

      """)
    let r = try f.drover(["enqueue", "--batch", path])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.trimmedStdout == "5")
    #expect(r.stderrText.contains("1 of 5"), "\(r.stderrText)")
    #expect(
      try f.stats() == [
        "waiting": 0, "scheduled": 2, "queued": 2, "running": 0, "completed": 0, "cancelled": 0,
        "dead": 0,
      ])
    let store = try f.openStore()
    let jobs = try store.list(ListParams(limit: 10)).sorted { $0.id < $1.id }
    #expect(jobs.count == 4)
    #expect(jobs[0].priority == 2)
    #expect(jobs[0].payload == #"{"to":"a"}"#)
    #expect(jobs[0].maxAttempts == 5)
    #expect(jobs[1].maxAttempts == 9)
    #expect(jobs[1].state == .scheduled)
    #expect(jobs[2].uniqueKey == "r1")
    #expect(jobs[2].maxAttempts == 20)
    #expect(jobs[2].backoff == BackoffPolicy(base: .seconds(1), cap: .seconds(60)))
    #expect(jobs[2].runAt == Timestamp.parse("2030-01-01T00:00:00Z"))
    #expect(jobs[3].payload == "{}")
  }

  @Test func batchFromStdin() throws {
    let f = try CLIFixture()
    let lines = (1...50).map { #"{"type": "email", "payload": {"n": \#($0)}}"# }
    let r = try f.drover(["enqueue", "--batch", "-"], stdin: lines.joined(separator: "\n"))
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.trimmedStdout == "50")
    #expect(try f.stats()["queued"] == 50)
    let empty = try f.drover(["enqueue", "--batch", "-"], stdin: "\n\n")
    #expect(empty.exitCode == 0)
    #expect(empty.trimmedStdout == "0")
  }

  @Test(arguments: [
    (#"{"type": "email", "payload": {"#, "invalid JSON"),
    (#"{"payload": {}}"#, "type"),
    (#"{"type": "email", "payload": [1]}"#, "payload"),
    (#"{"type": "email", "prioritty": 1}"#, "prioritty"),
    (#"{"type": "email", "delay": "5s", "at": "2030-01-01T00:00:00Z"}"#, "delay"),
    (#"{"type": "email", "max_attempts": 0}"#, "max_attempts"),
    (#"[{"type": "email"}]"#, "object"),
  ])
  func aBadBatchLineEnqueuesNothing(line: String, mentions: String) throws {
    let f = try CLIFixture()
    let text = """
      {"type": "email"}
      {"type": "email", "payload": {"ok": 1}}
      \(line)
      {"type": "email"}
      """
    let fromFile = try f.drover(["enqueue", "--batch", f.write("bad.ndjson", text)])
    let fromStdin = try f.drover(["enqueue", "--batch", "-"], stdin: text)
    for r in [fromFile, fromStdin] {
      #expect(r.exitCode != 0 && r.exitCode != nil, "\(r.status)")
      #expect(r.stdoutText.isEmpty)
      #expect(r.stderrLines.count == 1, "\(r.stderrText)")
      #expect(r.stderrText.contains("line 3"), "\(r.stderrText)")
      #expect(r.stderrText.contains(mentions), "\(r.stderrText)")
      #expect(r.stderrText.contains("nothing was enqueued"))
    }
    #expect(try f.stats().values.reduce(0, +) == 0)
  }

  @Test func batchRefusesJobFlagsAndAMissingFile() throws {
    let f = try CLIFixture()
    let r = try f.drover(["enqueue", "email", "--batch", "-"])
    #expect(r.exitCode == 64)
    let missing = try f.drover(["enqueue", "--batch", f.dir.file("nope.ndjson")])
    #expect(missing.exitCode == 1)
    #expect(missing.stderrText.contains("nope.ndjson"))
    #expect(missing.stderrLines.count == 1)
  }

  @Test func enqueueWakesAListeningSupervisor() throws {
    let f = try CLIFixture()
    try FileManager.default.createDirectory(
      atPath: f.dir.file("var"), withIntermediateDirectories: true)
    let listener = try UnixListener(path: f.socketPath)
    let id = try f.enqueue(["email"])
    #expect(id > 0)
    #expect(try listener.acceptLine(timeoutMilliseconds: 10_000) == #"{"cmd":"wake"}"#)
    _ = try f.drover(["enqueue", "--batch", "-"], stdin: #"{"type": "email"}"#)
    #expect(try listener.acceptLine(timeoutMilliseconds: 10_000) == #"{"cmd":"wake"}"#)
  }

  @Test func enqueueIgnoresAStaleSocketFile() throws {
    let f = try CLIFixture()
    try FileManager.default.createDirectory(
      atPath: f.dir.file("var"), withIntermediateDirectories: true)
    // A socket file nobody listens on any more.
    do { _ = try UnixListener(path: f.socketPath) }
    let r = try f.drover(["enqueue", "email"], timeout: .seconds(20))
    #expect(r.exitCode == 0)
    #expect(r.stderrText.isEmpty)
  }
}

/// A bare Unix stream listener standing in for the supervisor's control socket.
final class UnixListener {
  let fd: Int32

  init(path: String) throws {
    switch bindUnixSocket(path: path, type: Int32(SOCK_STREAM.rawValue)) {
    case .success(let bound): fd = bound
    case .failure(let e): throw ChildProcessError("cannot listen on \(path): \(e)")
    }
    guard listen(fd, 8) == 0 else {
      close(fd)
      throw ChildProcessError("cannot listen on \(path): \(String(cString: strerror(errno)))")
    }
  }

  deinit { close(fd) }

  /// Accepts one connection and reads its first line (without the newline), each step
  /// bounded by `timeoutMilliseconds`.
  func acceptLine(timeoutMilliseconds: Int32) throws -> String {
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&pfd, 1, timeoutMilliseconds) == 1 else {
      throw ChildProcessError("nobody connected")
    }
    let conn = accept(fd, nil, nil)
    guard conn >= 0 else { throw ChildProcessError("accept failed") }
    defer { close(conn) }
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while true {
      var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, timeoutMilliseconds) == 1 else { throw ChildProcessError("no line") }
      guard read(conn, &byte, 1) == 1, byte != 0x0A else { break }
      line.append(byte)
    }
    return String(decoding: line, as: UTF8.self)
  }
}
