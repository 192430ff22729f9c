import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Socket activation outside systemd, with systemd's own `systemd-socket-activate`: it binds
  /// the socket, waits for the first connection, then execs `drover serve` in its own process
  /// with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, as systemd does for a `.socket` unit.
  /// (SystemdDeploymentTests checks the same under a real systemd.)
  @Suite("socket activation")
  struct SocketActivation {
    static let activator = "/usr/bin/systemd-socket-activate"
    static let pool = poolTable("p", #"handler = "noop""#, "min = 1", "max = 1")

    /// A client connects before any supervisor runs; its request is answered by the
    /// supervisor that then takes the socket (same pid as the launcher: exec in place). At
    /// exit the socket file stays: it is systemd's.
    @Test func aClientConnectedBeforeTheStartIsAnsweredAndTheSocketFileStays() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      try FileManager.default.createDirectory(
        atPath: h.dir.file("var"), withIntermediateDirectories: true)
      let child = try h.start(
        launcher: [Self.activator, "-l", h.socketPath, "--fdname=control"],
        waitUntilRunning: false)
      // The activator binds first; nothing has answered yet when this client connects.
      try h.waitUntil("the activator listens") {
        FileManager.default.fileExists(atPath: h.socketPath)
      }
      let early = try ControlSocket(path: h.socketPath)
      try early.send(#"{"cmd":"status"}"# + "\n")
      let reply = try JSONValue.parse(
        try #require(try early.readLine(timeout: .seconds(20)), "no reply; log:\n\(h.logTail())"))
      #expect(reply["ok"]?.boolValue == true)
      #expect(reply["pid"]?.intValue == Int64(child.pid))
      try h.waitUntil("the supervisor is running", timeout: .seconds(20)) {
        try h.state() == "running"
      }
      #expect(h.log().contains("control socket taken from systemd"))
      #expect(try h.stop().exitCode == 0)
      var info = stat()
      #expect(lstat(h.socketPath, &info) == 0, "the activated socket file was removed")
    }

    /// A socket unit listening on another path than `[control] socket` still serves (the
    /// descriptor is what counts) but the log says `drover ctl` will not find it.
    @Test func aSocketAtAnotherPathServesAndIsWarnedAbout() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      let other = h.dir.file("other.sock")
      try h.start(
        launcher: [Self.activator, "-l", other, "--fdname=control"], waitUntilRunning: false)
      try h.waitUntil("the activator listens") { FileManager.default.fileExists(atPath: other) }
      let client = try ControlSocket(path: other)
      try client.send(#"{"cmd":"status"}"# + "\n")
      let line = try #require(try client.readLine(timeout: .seconds(20)), "\(h.logTail())")
      #expect(try JSONValue.parse(line)["ok"]?.boolValue == true)
      #expect(h.log().contains("`drover ctl` will not find this supervisor"), "\(h.logTail())")
      #expect(try h.stop().exitCode == 0)
    }

    /// A passed socket nothing takes (a name other than `control` and `http`) is named in a
    /// warning; the control socket beside it works.
    @Test func anUnusedPassedSocketIsWarnedAbout() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      try FileManager.default.createDirectory(
        atPath: h.dir.file("var"), withIntermediateDirectories: true)
      try h.start(
        launcher: [
          Self.activator, "-l", h.socketPath, "-l", h.dir.file("extra.sock"),
          "--fdname=control:extra",
        ])
      // logfmt escapes the quotes inside the message.
      #expect(h.log().contains(#"systemd passed a socket named \"extra\" that nothing uses"#))
      #expect(try h.stop().exitCode == 0)
    }

    /// A descriptor named `control` that is not a Unix stream listener (here a TCP socket on
    /// loopback) is refused before anything starts: exit non-zero, naming the descriptor.
    @Test func aControlDescriptorThatIsNotAUnixListenerIsRefused() throws {
      let h = try SupervisorHarness(pools: Self.pool)
      let port = Int.random(in: 20_000..<60_000)
      try h.start(
        launcher: [Self.activator, "-l", "127.0.0.1:\(port)", "--fdname=control"],
        waitUntilRunning: false)
      // The first connection makes the activator exec the supervisor.
      try h.waitUntil("the activator accepts a connection", timeout: .seconds(20)) {
        try ChildProcess.run(
          "/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"], timeout: .seconds(5)
        ).exitCode == 0
      }
      let out = try h.waitForExit(timeout: .seconds(20))
      #expect(out.exitCode != 0)
      #expect(
        out.stderrText.contains("not a listening Unix stream socket"), "\(out.stderrText)")
    }
  }
}
