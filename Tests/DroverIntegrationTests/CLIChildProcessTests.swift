import DroverTestSupport
import Foundation
import Testing

/// The test helpers the CLI tests (and the supervisor tests) stand on.
@Suite("Child process helper")
struct CLIChildProcessTests {
  private func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

  @Test func runFeedsStdinAndCapturesBothStreams() throws {
    let r = try ChildProcess.run(
      "/bin/sh", ["-c", #"cat; echo "to stderr $GREETING" >&2; exit 3"#],
      environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"], stdin: Array("in\n".utf8),
      timeout: .seconds(10))
    #expect(r.status == .exited(3))
    #expect(r.stdoutText == "in\n")
    #expect(r.stderrText == "to stderr hello\n")
  }

  @Test func runInAWorkingDirectory() throws {
    let r = try ChildProcess.run("/bin/pwd", [], workingDirectory: "/tmp", timeout: .seconds(10))
    #expect(r.trimmedStdout == "/tmp")
  }

  @Test func aChildPastItsDeadlineIsKilledWithItsGroup() throws {
    let dir = try TempDirectory(prefix: "drover-child")
    let pidFile = dir.file("grandchild.pid")
    let start = ContinuousClock.now
    #expect(throws: ChildProcessError.self) {
      try ChildProcess.run(
        "/bin/sh", ["-c", "sleep 30 & echo $! > \(pidFile); wait"], timeout: .milliseconds(500))
    }
    #expect(ContinuousClock.now - start < .seconds(10))
    let grandchild = try #require(
      Int32(
        String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(
          in: .whitespacesAndNewlines)))
    // The grandchild was SIGKILLed with the group; it may linger as a zombie until init
    // reaps it, so poll briefly.
    let deadline = ContinuousClock.now + .seconds(5)
    while ContinuousClock.now < deadline, isRunning(grandchild) { usleep(10_000) }
    #expect(!isRunning(grandchild))
  }

  @Test func droppingAHandleKillsTheChild() throws {
    var pid: Int32 = 0
    do {
      let child = try ChildProcess.start("/bin/sleep", ["30"])
      pid = child.pid
      #expect(alive(pid))
      #expect(child.poll() == nil)
    }
    #expect(!alive(pid), "reaped, so not even a zombie")
  }

  @Test func signalsAndStatus() throws {
    let child = try ChildProcess.start("/bin/sleep", ["30"])
    child.kill(SIGTERM)
    let r = try child.waitForExit(timeout: .seconds(10))
    #expect(r.status == .signaled(SIGTERM))
    #expect(r.exitCode == nil)
    child.kill(SIGKILL)  // harmless after the reap
  }

  @Test func theDroverBinaryIsFound() throws {
    let path = try DroverBinary.path()
    #expect(path.hasSuffix("/drover"))
    let r = try ChildProcess.run(path, ["--help"], timeout: .seconds(30))
    #expect(r.exitCode == 0)
    #expect(r.stdoutText.contains("enqueue"))
  }

  /// True while `pid` exists and is not a zombie.
  private func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
      return false
    }
    // The state letter follows the parenthesized command name.
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
  }
}
