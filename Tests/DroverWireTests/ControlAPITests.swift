import DroverCore
import Testing

@testable import DroverWire

@Suite struct ControlAPITests {
  @Test func newRequestsParseAndRoundTrip() throws {
    let requests: [ControlRequest] = [
      .jobs(state: .dead, type: "email", limit: 5), .jobs(state: nil, type: nil, limit: 100),
      .job(42), .events(type: "email", replay: true), .events(type: nil, replay: false),
    ]
    for r in requests { #expect(try ControlRequest.parse(line: r.line) == r, "\(r.line)") }
  }

  @Test func badNewRequestsNameTheKey() {
    let cases: [(String, String)] = [
      (#"{"cmd":"jobs","state":"nope"}"#, "state"),
      (#"{"cmd":"jobs","limit":0}"#, "limit"),
      (#"{"cmd":"jobs","type":""}"#, "type"),
      (#"{"cmd":"job"}"#, "id"),
      (#"{"cmd":"job","id":-3}"#, "id"),
      (#"{"cmd":"events","type":5}"#, "type"),
      (#"{"cmd":"frobnicate"}"#, "events"),
    ]
    for (line, key) in cases {
      do {
        _ = try ControlRequest.parse(line: line)
        Issue.record("\(line) parsed")
      } catch {
        #expect(error.message.contains(key), "\(line): \(error.message)")
      }
    }
  }

  @Test func repliesRenderTheContractShapes() {
    #expect(
      ControlReply.enqueued(id: 7, existed: false, warning: nil).line == #"{"ok":true,"id":7}"#)
    #expect(
      ControlReply.enqueued(id: 7, existed: true, warning: "w").line
        == #"{"ok":true,"id":7,"existed":true,"warning":"w"}"#)
    #expect(ControlReply.failure("no").line == #"{"ok":false,"error":"no"}"#)
    #expect(ControlReply.pools(["a"]).line == #"{"ok":true,"pools":["a"]}"#)
    #expect(
      ControlReply.scaled(pool: "a", target: 2, auto: false).line
        == #"{"ok":true,"auto":false,"pool":"a","target":2}"#)
    let status = StatusSnapshot(
      pid: 9, state: "running",
      pools: [
        .init(
          name: "p", target: 1, min: 1, max: 2, auto: true, paused: false, crashLooping: false,
          types: ["p"],
          workers: [
            .init(
              pid: 10, busy: true, jobsDone: 3, ready: true, retiring: false, currentJob: 5,
              runningFor: .milliseconds(1500), claimed: [6, 7]),
            .init(pid: 11, busy: false, jobsDone: 0, ready: true, retiring: false, currentJob: nil),
          ])
      ],
      jobs: [.queued: 2], loop: .init(turnMax: .milliseconds(3), lastCommit: .zero, turns: 4))
    let v = ControlReply.status(status).json
    #expect(v["ok"]?.boolValue == true)
    #expect(v["pid"]?.intValue == 9)
    #expect(v["jobs"]?["queued"]?.intValue == 2)
    #expect(v["jobs"]?["dead"]?.intValue == 0)
    let workers = v["pools"]?.arrayValue?.first?["workers"]?.arrayValue
    #expect(workers?.first?["job"]?.intValue == 5)
    #expect(workers?.first?["job_running_ms"]?.doubleValue == 1500)
    #expect(workers?.last?["job_running_ms"] == .null, "an idle worker runs nothing")
    #expect(workers?.first?["claimed"] == .array([.int(6), .int(7)]))
    #expect(workers?.last?["claimed"] == .array([]))
    #expect(v["loop"]?["turn_max_ms"]?.doubleValue == 3)
  }

  @Test func eventsRenderOneObjectWithTheirName() {
    let at = Timestamp(micros: 1_800_000_000_123_456)
    let e = LifecycleEvent(
      at: at,
      .failed(
        id: 3, type: "t", attempt: 2, pool: "p", workerPID: 11, error: "boom", retryAt: at))
    let v = e.json
    #expect(v["event"]?.stringValue == "job_failed")
    #expect(v["id"]?.intValue == 3)
    #expect(v["retry_at"]?.stringValue == at.rfc3339)
    #expect(e.jobType == "t")
    #expect(LifecycleEvent(at: at, .workerSpawned(pool: "p", pid: 1)).jobType == nil)
  }
}
