import DroverCore
import DroverTestSupport
import DroverWire
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Misbehaving workers, played by a shell script given to `serve --worker-executable`: it
  /// gets the supervisor's socket on fd 3 like `drover worker` and does what a test needs.
  @Suite("misbehaving workers")
  struct FakeWorkers {
    /// A harness whose workers run `/bin/sh -c` with `afterFirstAssign` once the script has
    /// said hello and received its first assignment.
    static func harness(afterFirstAssign: String, heartbeatTimeoutMS: Int = 3000) throws -> (
      SupervisorHarness, [String]
    ) {
      let h = try SupervisorHarness(
        pools: poolTable("fake", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 1"))
      var hello: [UInt8] = []
      FrameEncoder.append(WorkerMessage.hello(version: workerProtocolVersion, pid: 0), to: &hello)
      var heartbeat: [UInt8] = []
      FrameEncoder.append(WorkerMessage.heartbeat, to: &heartbeat)
      let helloPath = h.dir.file("hello.bin")
      let heartbeatPath = h.dir.file("heartbeat.bin")
      try Data(hello).write(to: URL(fileURLWithPath: helloPath))
      try Data(heartbeat).write(to: URL(fileURLWithPath: heartbeatPath))
      // Heartbeats from a background loop ($hb) while idle; `head -c 1 <&3` returns once the
      // first frame (an assignment) starts arriving.
      let script = try h.write(
        "fake-worker",
        """
        #!/bin/sh
        cat \(helloPath) >&3
        ( while cat \(heartbeatPath) >&3; do sleep 0.2; done ) &
        hb=$!
        head -c 1 <&3 >/dev/null
        \(afterFirstAssign)
        """, mode: 0o755)
      let flags = [
        "--worker-executable", script, "--heartbeat-ms", "200", "--heartbeat-timeout-ms",
        String(heartbeatTimeoutMS), "--stop-grace-ms", "300", "--log-level", "debug",
      ]
      return (h, flags)
    }

    /// A garbage frame from a worker mid-job: the worker is killed, its job fails saying so,
    /// and the supervisor carries on.
    @Test func aGarbageFrameKillsTheWorkerAndFailsItsJob() throws {
      let (h, flags) = try Self.harness(
        afterFirstAssign: #"printf '\377\377\377\177garbage' >&3; exec sleep 30"#)
      let serve = try h.start(flags: flags)
      let id = try h.enqueue("fake", #"{"ms": 100}"#)
      try h.waitUntil("the job is dead", timeout: .seconds(10), every: .milliseconds(100)) {
        try h.jobState(id) == "dead"
      }
      let errors = try h.jobErrors(id)
      #expect(errors.first?.contains("protocol") == true, "errors: \(errors)")
      #expect(serve.poll() == nil, "the supervisor died: \(h.logTail())")
      #expect(try h.state() == "running")
      let firstWorker = try #require(
        h.seenWorkers.first { pid in errors.first?.contains("\(pid)") == true })
      #expect(!SupervisorHarness.isAlive(firstWorker), "the worker that sent garbage is killed")
    }

    /// A worker that stops sending heartbeats mid-job is killed as hung after the heartbeat
    /// timeout, and its job fails saying so.
    @Test func aWorkerWithoutHeartbeatsIsKilledAsHung() throws {
      let (h, flags) = try Self.harness(
        afterFirstAssign: "kill $hb; exec sleep 30", heartbeatTimeoutMS: 1000)
      let serve = try h.start(flags: flags)
      let t0 = ContinuousClock.now
      let id = try h.enqueue("fake", #"{"ms": 100}"#)
      try h.waitUntil("the job is dead", timeout: .seconds(10), every: .milliseconds(100)) {
        try h.jobState(id) == "dead"
      }
      let took = seconds(since: t0)
      // The last heartbeat may precede the assignment by up to 200 ms.
      #expect(took > 0.7, "killed after \(took) s, before the 1 s heartbeat timeout")
      let errors = try h.jobErrors(id)
      #expect(errors.first?.contains("heartbeat") == true, "errors: \(errors)")
      #expect(serve.poll() == nil, "the supervisor died: \(h.logTail())")
    }
  }
}
