import DroverCore
import DroverTestSupport
import DroverWire
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("hostile peers and the OS")
  struct Safety {
    static let noopPool = poolTable("noop", #"handler = "noop""#, "min = 1", "max = 1")

    /// Garbage on the control socket gets error replies or a hang-up, never a dead supervisor.
    @Test func garbageOnTheControlSocketNeverStopsTheSupervisor() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let serve = try h.start()

      // Lines that are not requests: one error reply each, on a connection that stays usable.
      let c = try ControlSocket(path: h.socketPath)
      let garbage: [[UInt8]] = [
        Array("not json\n".utf8), Array("{\"cmd\":\"nope\"}\n".utf8), Array("[1,2,3]\n".utf8),
        Array("{\"cmd\":\"scale\",\"pool\":\"noop\",\"workers\":-1}\n".utf8),
        Array("{\"cmd\":\"enqueue\",\"type\":\"\",\"payload\":{}}\n".utf8),
        [0xFF, 0xFE, 0x00, 0x80, 0xC3, 0x28, 0x0A], Array("{\"cmd\":\n".utf8),
      ]
      for g in garbage {
        try c.send(g)
        let line = try #require(try c.readLine(), "no reply to \(g)")
        let reply = try JSONValue.parse(line)
        #expect(reply["ok"]?.boolValue == false, "reply to \(g): \(line)")
        #expect(reply["error"]?.stringValue?.isEmpty == false)
      }
      try c.send(#"{"cmd":"status"}"# + "\n")
      #expect(try JSONValue.parse(try #require(try c.readLine()))["ok"]?.boolValue == true)

      // Random binary noise, newlines and all.
      var rng = SystemRandomNumberGenerator()
      let noise = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let n = try ControlSocket(path: h.socketPath)
      try n.send(noise + [0x0A])
      n.shutdownWrite()
      var replies = 0
      while let line = try n.readLine(timeout: .seconds(10)) {
        let reply = try? JSONValue.parse(line)
        #expect(reply?["ok"]?.boolValue == false, "a noise line got \(line.prefix(200))")
        replies += 1
      }
      #expect(replies > 0)

      // A line over the limit (8 MiB + 64 KiB: room for the largest max_payload): an error or a
      // hang-up, and the supervisor stays up.
      let huge = try ControlSocket(path: h.socketPath)
      let big = [UInt8](repeating: UInt8(ascii: "a"), count: 9 << 20) + [0x0A]
      try? huge.send(big, timeout: .seconds(10))
      if let line = try? huge.readLine(timeout: .seconds(10)) {
        #expect(line.contains("\"ok\":false") && line.contains("longer"), "\(line.prefix(200))")
      }

      // Half a line, then gone; connect and leave at once.
      let half = try ControlSocket(path: h.socketPath)
      try half.send(#"{"cmd":"sta"#)
      _ = consume half
      _ = try ControlSocket(path: h.socketPath)

      #expect(serve.poll() == nil, "the supervisor died: \(h.logTail())")
      #expect(try h.state() == "running")
      let id = try h.enqueue("noop")
      try h.waitUntil("a job still completes") { try h.jobState(id) == "completed" }
      #expect(try h.stop().exitCode == 0)
    }

    /// A peer with another uid and no group link is refused with a reason, even when the file
    /// system lets it connect; root and the socket's group are served.
    @Test func aControlPeerWithAnotherUIDIsRefused() throws {
      guard geteuid() == 0, access("/usr/bin/setpriv", X_OK) == 0,
        access("/usr/bin/python3", X_OK) == 0
      else {
        Issue.record("needs root, /usr/bin/setpriv and /usr/bin/python3")
        return
      }
      let h = try SupervisorHarness(pools: Self.noopPool)
      try h.start()
      // Let uid 65534 reach the socket: the folders and the socket file itself.
      chmod(h.dir.path, 0o755)
      chmod(h.dir.file("var"), 0o755)
      chmod(h.configPath, 0o644)
      #expect(chmod(h.socketPath, 0o666) == 0)
      // A careful client: it reads the reply even when its write finds the door shut.
      let probe = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(sys.argv[1])
        try:
            s.sendall(b'{"cmd":"status"}\\n')
        except OSError:
            pass
        data = b''
        while not data.endswith(b'\\n'):
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        print(data.decode())
        """
      func run(uid: Int, gid: Int, _ argv: [String]) throws -> ProcessOutput {
        try ChildProcess.run(
          "/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups"] + argv,
          environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], timeout: .seconds(20))
      }
      let stranger = try run(
        uid: 65534, gid: 65534, ["/usr/bin/python3", "-I", "-c", probe, h.socketPath])
      #expect(stranger.exitCode == 0, "probe failed: \(stranger.stderrText)")
      let refused = try JSONValue.parse(stranger.trimmedStdout)
      #expect(refused["ok"]?.boolValue == false, "\(stranger.stdoutText)")
      #expect(refused["error"]?.stringValue?.contains("permission denied") == true)
      #expect(refused["pools"] == nil, "a refused peer learns nothing")
      #expect(h.log().contains("refused a control connection from uid 65534"))

      // An ordinary client that is slow to send (it writes, then reads) must not find the
      // door shut before it could ask: the refusal waits for its request.
      let slow = """
        import socket, sys, time
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(sys.argv[1])
        time.sleep(0.3)
        s.sendall(b'{"cmd":"status"}\\n')
        print(s.recv(65536).decode())
        """
      let late = try run(
        uid: 65534, gid: 65534, ["/usr/bin/python3", "-I", "-c", slow, h.socketPath])
      #expect(late.exitCode == 0, "a slow client got: \(late.stderrText)")
      #expect(late.stdoutText.contains("permission denied"), "\(late.stdoutText)")

      // What the operator sees: the real CLI names the refusal (not a broken pipe).
      let cli = try run(
        uid: 65534, gid: 65534, [h.binary, "ctl", "status", "--config", h.configPath])
      #expect(cli.exitCode != 0)
      #expect(cli.stdoutText.isEmpty)
      #expect(
        cli.stderrText.contains("permission denied"), "ctl status as uid 65534: \(cli.stderrText)")

      // The socket's group (root's, 0) is let in.
      let member = try run(
        uid: 65534, gid: 0, [h.binary, "ctl", "status", "--json", "--config", h.configPath])
      #expect(member.exitCode == 0, "ctl status as a group member: \(member.stderrText)")
      #expect(try JSONValue.parse(member.trimmedStdout)["state"]?.stringValue == "running")
      #expect(try h.state() == "running")
      #expect(try h.stop().exitCode == 0)
    }

    /// sd_notify: READY=1 once up, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then
    /// READY=1 around a reload, STOPPING=1 with EXTEND_TIMEOUT_USEC on SIGTERM.
    @Test func systemdNotificationsComeInOrder() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let listener = try NotifyListener(path: h.dir.file("notify.sock"))
      defer { listener.stop() }
      let serve = try h.start(environment: [
        "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000",
      ])
      func index(_ key: String, after start: Int = -1) -> Int? {
        listener.messages.indices.first { $0 > start && listener.messages[$0].fields[key] != nil }
      }
      try h.waitUntil("READY=1 arrived") { index("READY") != nil }
      SupervisorHarness.pause(.milliseconds(1300))
      let ready = try #require(index("READY"))
      let pings = listener.messages.enumerated().filter {
        $0.offset > ready && $0.element.fields["WATCHDOG"] == "1"
      }.map(\.element.at)
      #expect(pings.count >= 4, "WATCHDOG=1 in 1.3 s after READY: \(pings.count)")
      #expect(pings.count <= 8, "WATCHDOG=1 is sent at half the interval, not every tick")
      let gaps = zip(pings, pings.dropFirst()).map { $1 - $0 }
      #expect(gaps.allSatisfy { $0 < .milliseconds(400) }, "a gap reached WATCHDOG_USEC: \(gaps)")

      serve.kill(SIGHUP)
      try h.waitUntil("RELOADING=1 then READY=1") {
        guard let reloading = index("RELOADING", after: ready) else { return false }
        return listener.messages[reloading].fields["MONOTONIC_USEC"] != nil
          && index("READY", after: reloading) != nil
      }

      let out = try h.stop(signal: SIGTERM)
      #expect(out.exitCode == 0)
      SupervisorHarness.pause(.milliseconds(200))
      let all = listener.messages
      let stopping = try #require(index("STOPPING"), "messages: \(all.map(\.text))")
      #expect(all[stopping].fields["STOPPING"] == "1")
      #expect(
        all[stopping...].contains {
          Int($0.fields["EXTEND_TIMEOUT_USEC"] ?? "") ?? 0 >= 10_000_000
        },
        "EXTEND_TIMEOUT_USEC covers drain_timeout (10 s): \(all[stopping...].map(\.text))")
      #expect(stopping > ready)
      #expect(index("READY", after: stopping) == nil, "no READY=1 after STOPPING=1")
      #expect(index("READY") == all.firstIndex { $0.fields["READY"] != nil })
      #expect(
        all[..<ready].allSatisfy { $0.fields["READY"] == nil && $0.fields["STOPPING"] == nil })
    }

    /// Workers (and the commands exec runs) must not see systemd's variables: a child that
    /// speaks sd_notify would pass for the service's main process.
    @Test func workersDoNotInheritSystemdVariables() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let listener = try NotifyListener(path: h.dir.file("notify.sock"))
      defer { listener.stop() }
      try h.start(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "5000000"])
      let pid = try #require(try h.workerPIDs("noop").first)
      let environ = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/environ"))
      let names = environ.split(separator: 0).map {
        String(decoding: $0.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self)
      }
      #expect(!names.contains("NOTIFY_SOCKET"), "worker \(pid) has NOTIFY_SOCKET")
      #expect(!names.contains("WATCHDOG_USEC"), "worker \(pid) has WATCHDOG_USEC")
      #expect(try h.stop().exitCode == 0)
    }

    /// Ctrl-C in a terminal sends SIGINT to the whole foreground process group: it must drain
    /// like SIGTERM (the running job completes), not kill the workers mid-job.
    @Test func ctrlCToTheProcessGroupDrainsLikeSigterm() throws {
      let h = try SupervisorHarness(
        pools: poolTable("sleepy", #"handler = "sleep""#, "min = 1", "max = 1", "max_attempts = 3"))
      let serve = try h.start()
      let id = try h.enqueue("sleepy", #"{"ms": 1500}"#)
      try h.waitUntil("the job is running") {
        try h.workers("sleepy").first?["busy"]?.boolValue == true
      }
      serve.killGroup(SIGINT)
      let out = try h.waitForExit(timeout: .seconds(15))
      #expect(out.exitCode == 0, "serve exit: \(out.status)")
      let job = try h.job(id)
      #expect(job["state"]?.stringValue == "completed", "\(job.render())")
      let errors = try h.jobErrors(id)
      #expect(errors.isEmpty, "errors: \(errors)")
    }

    /// One supervisor per store: a second `serve` on the same config is refused, naming the
    /// first, and the first keeps running.
    @Test func aSecondSupervisorOnTheSameStoreIsRefused() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let first = try h.start()
      let second = try h.drover(["serve"], timeout: .seconds(15))
      #expect(second.exitCode != 0)
      #expect(second.stderrText.contains("pid \(first.pid)"), "\(second.stderrText)")
      #expect(try h.state() == "running")
      #expect(FileManager.default.fileExists(atPath: h.socketPath))
      #expect(try h.stop().exitCode == 0)
    }
  }
}
