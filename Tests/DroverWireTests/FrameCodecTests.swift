import DroverCore
import Testing

@testable import DroverWire

@Suite struct FrameCodecTests {
  @Test func everyWorkerMessageRoundTrips() throws {
    let t = Timestamp(micros: 1_796_000_000_123_456)
    let messages: [WorkerMessage] = [
      .hello(version: workerProtocolVersion, pid: 4121), .progress(7, 55), .heartbeat,
      .outcome(1, .completed, started: t), .outcome(2, .retryable("boom ✓"), started: t),
      .outcome(3, .permanent(""), started: Timestamp(micros: 0)),
      .outcome(4, .snooze(.milliseconds(1500)), started: t), .outcome(5, .cancelled, started: t),
      .released(9), .outcome(Int64.max, .completed, started: Timestamp(micros: Int64.max)),
      .outcome(6, .completed, started: t, usage: JobUsage(cpuSeconds: 0.31, peakRSS: 52_428_800)),
      .outcome(7, .retryable("x"), started: t, usage: JobUsage(cpuSeconds: 0, peakRSS: 0)),
    ]
    var bytes: [UInt8] = []
    for m in messages { FrameEncoder.append(m, to: &bytes) }
    var d = FrameDecoder()
    // Fed one byte at a time: frames split anywhere must still decode.
    var out: [WorkerMessage] = []
    for b in bytes {
      d.feed([b])
      while let m = try d.nextWorkerMessage() { out.append(m) }
    }
    #expect(out == messages)
    #expect(d.pendingBytes == 0)
  }

  @Test func everySupervisorMessageRoundTrips() throws {
    let messages: [SupervisorMessage] = [
      .assign(
        Assignment(id: 42, attempt: 3, maxAttempts: 5, type: "email", payload: #"{"to":"a@b"}"#)),
      .cancel(42), .release, .shutdown,
    ]
    var bytes: [UInt8] = []
    for m in messages { FrameEncoder.append(m, to: &bytes) }
    var d = FrameDecoder()
    d.feed(bytes)
    var out: [SupervisorMessage] = []
    while let m = try d.nextSupervisorMessage() { out.append(m) }
    #expect(out == messages)
  }

  @Test func oversizedLengthIsRefusedWithoutAllocating() {
    var d = FrameDecoder()
    d.feed([0xFF, 0xFF, 0xFF, 0x7F, 1])
    #expect(throws: FrameError.self) { try d.nextWorkerMessage() }
  }

  @Test func unknownTypeEmptyFrameAndTrailingBytesAreErrors() {
    var a = FrameDecoder()
    a.feed([1, 0, 0, 0, 99])
    #expect(throws: FrameError.self) { try a.nextWorkerMessage() }
    var b = FrameDecoder()
    b.feed([0, 0, 0, 0])
    #expect(throws: FrameError.self) { try b.nextWorkerMessage() }
    var c = FrameDecoder()
    c.feed([2, 0, 0, 0, 3, 0])  // heartbeat with a stray byte
    #expect(throws: FrameError.self) { try c.nextWorkerMessage() }
    var e = FrameDecoder()
    e.feed([1, 0, 0, 0, 10])  // an assign frame is not something a worker sends
    #expect(throws: FrameError.self) { try e.nextWorkerMessage() }
  }

  @Test func truncatedBodyAndBadUTF8AreErrors() {
    var a = FrameDecoder()
    a.feed([3, 0, 0, 0, 2, 1, 0])  // progress with 2 of 9 body bytes
    #expect(throws: FrameError.self) { try a.nextWorkerMessage() }
    var bytes: [UInt8] = []
    FrameEncoder.append(
      WorkerMessage.outcome(1, .retryable("ab"), started: Timestamp(micros: 1)), to: &bytes)
    // The message's last byte (the usage flag follows it).
    bytes[bytes.count - 2] = 0xFF
    var b = FrameDecoder()
    b.feed(bytes)
    #expect(throws: FrameError.self) { try b.nextWorkerMessage() }
  }

  @Test func badUsageInAnOutcomeIsAnError() {
    for usage in [JobUsage(cpuSeconds: -1, peakRSS: 1), JobUsage(cpuSeconds: .nan, peakRSS: 1)] {
      var bytes: [UInt8] = []
      FrameEncoder.append(
        WorkerMessage.outcome(1, .completed, started: Timestamp(micros: 1), usage: usage),
        to: &bytes)
      var d = FrameDecoder()
      d.feed(bytes)
      #expect(throws: FrameError.self) { try d.nextWorkerMessage() }
    }
    var bytes: [UInt8] = []
    FrameEncoder.append(
      WorkerMessage.outcome(1, .completed, started: Timestamp(micros: 1)), to: &bytes)
    bytes[bytes.count - 1] = 2  // neither 0 (none) nor 1 (figures follow)
    var d = FrameDecoder()
    d.feed(bytes)
    #expect(throws: FrameError.self) { try d.nextWorkerMessage() }
  }

  @Test func incompleteFrameWaitsForMoreBytes() throws {
    var bytes: [UInt8] = []
    FrameEncoder.append(WorkerMessage.progress(5, 10), to: &bytes)
    var d = FrameDecoder()
    d.feed(Array(bytes.dropLast()))
    #expect(try d.nextWorkerMessage() == nil)
    d.feed([bytes.last!])
    #expect(try d.nextWorkerMessage() == .progress(5, 10))
  }
}

@Suite struct ControlMessageTests {
  @Test func parsesEveryCommand() throws {
    #expect(try ControlRequest.parse(line: #"{"cmd":"status"}"#) == .status)
    #expect(try ControlRequest.parse(line: #"{"cmd":"reload"}"#) == .reload)
    #expect(
      try ControlRequest.parse(line: #"{"cmd":"scale","pool":"p","workers":3}"#)
        == .scale(pool: "p", target: .count(3)))
    #expect(
      try ControlRequest.parse(line: #"{"cmd":"scale","pool":"p","workers":"auto"}"#)
        == .scale(pool: "p", target: .auto))
    #expect(try ControlRequest.parse(line: #"{"cmd":"drain"}"#) == .drain(pool: nil))
    #expect(try ControlRequest.parse(line: #"{"cmd":"resume","pool":"x"}"#) == .resume(pool: "x"))
    let e = try ControlRequest.parse(
      line:
        #"{"cmd":"enqueue","type":"t","payload":{"a":1},"priority":5,"delay":"5s","unique_key":"k"}"#
    )
    guard case .enqueue(let r) = e else {
      Issue.record("not an enqueue")
      return
    }
    #expect(r.type == "t" && r.priority == 5 && r.delay == .seconds(5) && r.uniqueKey == "k")
    #expect(r.payload == ["a": 1])
  }

  @Test func linesRoundTrip() throws {
    let requests: [ControlRequest] = [
      .status, .reload, .wake, .drain(pool: nil), .drain(pool: "a"), .resume(pool: "b"),
      .scale(pool: "p", target: .count(2)), .scale(pool: "p", target: .auto),
      .enqueue(
        EnqueueRequest(
          type: "t", payload: ["x": "y"], priority: -3, delay: .milliseconds(250),
          maxAttempts: 4, uniqueKey: "u",
          backoff: BackoffPolicy(base: .seconds(1), cap: .seconds(60)))),
    ]
    for r in requests { #expect(try ControlRequest.parse(line: r.line) == r) }
  }

  @Test(arguments: [
    ("not json", "invalid JSON"),
    ("[1]", "JSON object"),
    (#"{"nocmd":1}"#, "missing \"cmd\""),
    (#"{"cmd":"explode"}"#, "unknown cmd"),
    (#"{"cmd":"scale","workers":2}"#, "needs \"pool\""),
    (#"{"cmd":"scale","pool":"p","workers":-1}"#, "workers"),
    (#"{"cmd":"scale","pool":"p","workers":"lots"}"#, "workers"),
    (#"{"cmd":"enqueue"}"#, "\"type\""),
    (#"{"cmd":"enqueue","type":"t","payload":[1]}"#, "payload"),
    (#"{"cmd":"enqueue","type":"t","delay":"soon"}"#, "delay"),
    (#"{"cmd":"enqueue","type":"t","delay":"1s","at":"2026-01-01T00:00:00Z"}"#, "not both"),
    (#"{"cmd":"enqueue","type":"t","max_attempts":0}"#, "max_attempts"),
    (#"{"cmd":"enqueue","type":"t","colour":"red"}"#, "unknown key"),
  ])
  func badRequestsNameWhatIsWrong(line: String, fragment: String) {
    do {
      _ = try ControlRequest.parse(line: line)
      Issue.record("accepted \(line)")
    } catch {
      #expect(error.message.contains(fragment), "\(error.message)")
    }
  }
}

@Suite struct JSONValueTests {
  @Test func parsesAndRendersWithKeyOrder() throws {
    let text = #"{"b":1,"a":[true,false,null],"s":"q\"\\\n\u00e9\ud83d\ude00","d":1.5,"n":-0}"#
    let v = try JSONValue.parse(text)
    #expect(v["b"] == .int(1))
    #expect(v["s"]?.stringValue == "q\"\\\né😀")
    #expect(v["d"]?.doubleValue == 1.5)
    #expect(v.render().hasPrefix(#"{"b":1,"a":[true,false,null],"#))
    #expect(try JSONValue.parse(v.render()) == v)
  }

  @Test(arguments: ["", "{", #"{"a"}"#, "[1,]", "01", "1.", "tru", #""\x""#, "\"\u{01}\"", "{} {}"])
  func rejectsMalformedText(text: String) {
    #expect(throws: JSONError.self) { try JSONValue.parse(text) }
  }

  @Test func refusesDeepNesting() {
    let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
    #expect(throws: JSONError.self) { try JSONValue.parse(deep) }
  }
}
