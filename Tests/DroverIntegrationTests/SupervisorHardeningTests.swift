import DroverCore
import DroverSystem
import DroverTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Clients that never read, descriptor exhaustion, a stopped supervisor, and commands that
  /// try to outlive their job.
  @Suite("hardening")
  struct Hardening {
    static let noopPool = poolTable("noop", #"handler = "noop""#, "min = 2", "max = 2")

    /// A client that pipelines requests and never reads its replies gets no more of the
    /// supervisor than its output bound: jobs keep their pace, others are answered, and the
    /// supervisor's memory stays flat.
    @Test func aClientThatNeverReadsCannotStallDispatchOrGrowTheSupervisor() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let serve = try h.start()
      let baseline = try Self.runJobs(h, count: 2000, tag: "a")

      let hostile = Self.pipelineWithoutReading(path: h.socketPath, requests: 200_000)
      // Let it fill the supervisor's buffers before measuring.
      SupervisorHarness.pause(.seconds(2))
      var peak = 0
      let started = ContinuousClock.now
      let during = try Self.runJobs(h, count: 2000, tag: "b") {
        peak = max(peak, Self.residentBytes(serve.pid))
      }
      // Another client is still answered at once.
      let statusStart = ContinuousClock.now
      #expect(try h.state() == "running")
      let statusTook = ContinuousClock.now - statusStart
      while ContinuousClock.now - started < .seconds(6) {
        peak = max(peak, Self.residentBytes(serve.pid))
        SupervisorHarness.pause(.milliseconds(200))
      }
      print(
        "2000 noop jobs: \(baseline) alone, \(during) beside a client that never reads; "
          + "status took \(statusTook); peak RSS \(peak >> 20) MiB; hostile sent \(hostile.sent()) bytes"
      )
      #expect(during < .seconds(20), "2000 jobs took \(during) beside the hostile client")
      #expect(statusTook < .seconds(5))
      #expect(peak < 100 << 20, "the supervisor grew to \(peak >> 20) MiB")
      #expect(serve.poll() == nil)
    }

    /// Past the connection cap, a new client is told so in one line and closed; the others
    /// are still served.
    @Test func connectionsPastTheCapAreToldAndClosed() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      try h.start()
      var held: [ControlSocket] = []
      for _ in 0..<260 { held.append(try ControlSocket(path: h.socketPath)) }
      // Every accepted connection still answers; those past the cap read the refusal.
      var refused = 0
      for c in held.suffix(10) {
        // A refused one was closed after its line: the send may fail, the line is there.
        try? c.send(#"{"cmd":"status"}"# + "\n")
        let line = try c.readLine(timeout: .seconds(10)) ?? ""
        if line.contains("too many control connections") { refused += 1 }
      }
      #expect(refused >= 4, "connections past 256 were served")
      let first = try #require(held.first)
      try first.send(#"{"cmd":"status"}"# + "\n")
      #expect(try first.readLine()?.contains(#""ok":true"#) == true)
    }

    /// At a low descriptor limit a flood of connections neither spins the supervisor nor
    /// keeps it from replacing a killed worker, and the pool is not taken for crash-looping.
    @Test func descriptorExhaustionNeitherSpinsNorStopsWorkers() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let serve = try h.start(shellPrefix: "ulimit -n 64")
      try h.waitUntil("two workers are up") { try h.workerPIDs("noop").count == 2 }
      let workers = try h.workerPIDs("noop")
      var held: [ControlSocket] = []
      for _ in 0..<100 {
        guard let c = try? ControlSocket(path: h.socketPath) else { break }
        held.append(c)
      }
      SupervisorHarness.pause(.milliseconds(500))
      let cpuBefore = Self.cpuSeconds(serve.pid)
      SupervisorHarness.pause(.seconds(3))
      let cpu = Self.cpuSeconds(serve.pid) - cpuBefore
      print("supervisor CPU over 3 s with \(held.count) connections held: \(cpu) s")
      #expect(cpu < 1.0, "the supervisor used \(cpu) CPU-seconds in 3 s")

      // The CLI writes the store itself, so jobs go in even while the socket refuses.
      let id = try h.enqueue("noop")
      try h.waitUntil("a job completes", timeout: .seconds(20)) {
        try h.jobState(id) == "completed"
      }
      kill(workers[0], SIGKILL)
      try h.waitUntil("the killed worker is replaced", timeout: .seconds(20)) {
        let now = SupervisorHarness.children(of: serve.pid)
        return now.count == 2 && !now.contains(workers[0])
      }
      held = []
      try h.waitUntil("the socket answers again", timeout: .seconds(10)) {
        try h.state() == "running"
      }
      let pool = try h.pool("noop")
      #expect(pool["crash_looping"]?.boolValue == false, "\(pool.render())")
      let again = try h.enqueue("noop")
      try h.waitUntil("another job completes", timeout: .seconds(20)) {
        try h.jobState(again) == "completed"
      }
      #expect(serve.poll() == nil)
    }

    /// A supervisor that was stopped (SIGSTOP, a paused VM) for longer than the heartbeat
    /// timeout does not blame its workers: none is killed and the running job spends one
    /// attempt.
    @Test func aStoppedSupervisorDoesNotKillItsWorkersAsHung() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1"))
      let serve = try h.start()
      let probe = try h.events()
      let id = try h.enqueue("sleepy", #"{"ms": 9000}"#)
      try h.waitUntil("the job runs") { try h.jobState(id) == "running" }
      let workers = try h.workerPIDs("sleepy")
      serve.kill(SIGSTOP)
      SupervisorHarness.pause(.seconds(5))
      serve.kill(SIGCONT)
      try probe.waitFor("job_completed", job: id, timeout: .seconds(30))
      #expect(probe.count("worker_exited") == 0, "\(probe.seen.map { $0.render() })")
      #expect(try h.workerPIDs("sleepy") == workers)
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 1, "\(job.render())")
      #expect(job["state"]?.stringValue == "completed")
    }

    /// An exec pool whose command starts a daemon (`setsid`) that writes its pid to
    /// `daemon.pid`, then runs for `seconds`.
    static func daemonHarness(seconds: String, _ lines: String...) throws -> SupervisorHarness {
      let h = try SupervisorHarness(pools: "")
      let script = try h.write(
        "daemon.sh",
        """
        #!/bin/sh
        dir=$(dirname "$0")
        setsid sh -c 'echo $$ > "$1/daemon.tmp"; mv "$1/daemon.tmp" "$1/daemon.pid"; exec sleep 300' sh "$dir" &
        echo started
        sleep \(seconds)

        """, mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: "[pools.ex]\n"
            + ([#"handler = "exec""#, #"command = ["\#(script)"]"#, "min = 1", "max = 1"] + lines)
            .joined(separator: "\n") + "\n", drainTimeout: "1s"))
      return h
    }

    /// The daemon's pid, once it wrote it.
    static func daemonPID(_ h: SupervisorHarness) throws -> Int32 {
      var pid: Int32?
      try h.waitUntil("the daemon wrote its pid", timeout: .seconds(20)) {
        pid = (try? String(contentsOfFile: h.dir.file("daemon.pid"), encoding: .utf8))
          .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return pid != nil
      }
      return pid!
    }

    /// Waits until the daemon is gone; SIGKILLs it either way so no test leaks it.
    static func expectGone(_ pid: Int32, _ h: SupervisorHarness, _ what: String) {
      defer {
        if SupervisorHarness.commandLine(pid)?.contains("300") == true { kill(pid, SIGKILL) }
      }
      #expect(
        (try? h.waitUntil("the daemon is gone (\(what))", timeout: .seconds(15)) {
          !SupervisorHarness.isAlive(pid)
        }) != nil, "the daemon \(pid) outlived \(what)")
    }

    @Test func aDaemonDiesWithTheJobThatCompleted() throws {
      let h = try Self.daemonHarness(seconds: "0.2")
      try h.start()
      let id = try h.enqueue("ex")
      let daemon = try Self.daemonPID(h)
      defer { kill(daemon, SIGKILL) }
      try h.waitUntil("the job completed", timeout: .seconds(20)) {
        try h.jobState(id) == "completed"
      }
      Self.expectGone(daemon, h, "its completed job")
    }

    @Test func aDaemonDiesWithTheJobThatTimedOut() throws {
      let h = try Self.daemonHarness(seconds: "30", #"timeout = "1s""#, "max_attempts = 1")
      try h.start()
      let id = try h.enqueue("ex")
      let daemon = try Self.daemonPID(h)
      defer { kill(daemon, SIGKILL) }
      try h.waitUntil("the job timed out", timeout: .seconds(30)) {
        try h.jobState(id) == "dead"
      }
      Self.expectGone(daemon, h, "its timed-out job")
    }

    @Test func aDaemonDiesWhenTheSupervisorStops() throws {
      let h = try Self.daemonHarness(seconds: "30")
      try h.start()
      _ = try h.enqueue("ex")
      let daemon = try Self.daemonPID(h)
      defer { kill(daemon, SIGKILL) }
      try h.stop()
      Self.expectGone(daemon, h, "the supervisor's SIGTERM")
    }

    @Test func aDaemonDiesWhenItsWorkerIsKilled() throws {
      let h = try Self.daemonHarness(seconds: "30")
      try h.start()
      let workers = try h.workerPIDs("ex")
      _ = try h.enqueue("ex")
      let daemon = try Self.daemonPID(h)
      defer { kill(daemon, SIGKILL) }
      for w in workers { kill(w, SIGKILL) }
      Self.expectGone(daemon, h, "its worker's SIGKILL")
    }

    // MARK: Helpers

    /// Enqueues `count` noop jobs in one batch and returns how long until all completed.
    static func runJobs(
      _ h: SupervisorHarness, count: Int, tag: String, sample: () -> Void = {}
    ) throws -> Duration {
      var text = ""
      for n in 0..<count { text += #"{"type": "noop", "payload": {"n": \#(n)}}"# + "\n" }
      let file = try h.write("batch-\(tag).ndjson", text)
      let before = try h.jobCounts()["completed"] ?? 0
      let start = ContinuousClock.now
      let r = try h.drover(["enqueue", "--batch", file])
      #expect(r.exitCode == 0, "enqueue --batch: \(r.stderrText)")
      try h.waitUntil("every job completed", timeout: .seconds(60), every: .milliseconds(50)) {
        sample()
        return try h.jobCounts()["completed"] == before + Int64(count)
      }
      return ContinuousClock.now - start
    }

    /// A background writer that pipelines `status` and `enqueue` requests and never reads.
    final class Hostile: Sendable {
      let counter = Mutex<Int>(0)
      func sent() -> Int { counter.withLock { $0 } }
    }

    static func pipelineWithoutReading(path: String, requests: Int) -> Hostile {
      let hostile = Hostile()
      guard let fd = try? UnixSocket.connect(path: path) else { return hostile }
      try? UnixSocket.setTimeouts(fd, receive: nil, send: .milliseconds(200))
      var text = ""
      for n in 0..<requests {
        text +=
          n % 10 == 0
          ? #"{"cmd":"enqueue","type":"nobody","payload":{}}"# + "\n" : #"{"cmd":"status"}"# + "\n"
      }
      let bytes = Array(text.utf8)
      Thread.detachNewThread {
        let deadline = ContinuousClock.now + .seconds(60)
        var off = 0
        while off < bytes.count, ContinuousClock.now < deadline {
          let n = bytes.withUnsafeBytes {
            send(fd, $0.baseAddress! + off, min(65536, $0.count - off), Int32(MSG_NOSIGNAL))
          }
          if n > 0 {
            off += n
            hostile.counter.withLock { $0 = off }
          } else if n < 0, errno != EAGAIN, errno != EINTR {
            break
          }
        }
        // Holds the connection open, unread, until the deadline.
        while ContinuousClock.now < deadline { SupervisorHarness.pause(.milliseconds(200)) }
        close(fd)
      }
      return hostile
    }

    /// Resident memory of `pid` from /proc/PID/statm.
    static func residentBytes(_ pid: Int32) -> Int {
      guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else {
        return 0
      }
      let fields = text.split(separator: " ")
      return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// User plus system CPU time of `pid` from /proc/PID/stat.
    static func cpuSeconds(_ pid: Int32) -> Double {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return 0 }
      // After "comm)": state is field 3; utime and stime are fields 14 and 15.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else {
        return 0
      }
      return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
  }
}
