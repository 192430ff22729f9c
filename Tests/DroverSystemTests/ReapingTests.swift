import Foundation
import Testing

@testable import DroverSystem

@Suite struct ReapingTests {
  @Test func pidfdBecomesReadableInEpollWhenTheChildExits() throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("read line <&3; exit 7", childFD: child)
    FD.close(child)
    let pidfd = try PidFD.open(process.pid)
    defer { FD.close(pidfd) }
    let epoll = try Epoll()
    try epoll.add(pidfd, interest: .readable)

    #expect(try epoll.wait(timeout: .zero).isEmpty)
    #expect(try ProcessReaper.reap(process.pid) == nil)

    try FD.writeAll(parent, "go\n")
    let ready = try epoll.wait(timeout: .seconds(10))
    try #require(ready.count == 1)
    #expect(ready[0].fd == pidfd)
    #expect(ready[0].events.contains(.readable))
    // Readable means exited: the reap cannot come back empty now.
    let status = try ProcessReaper.reap(process.pid)
    #expect(status == .exited(7))
    if let status { process.reaped(status) }
  }

  @Test func pidfdSendSignal() throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("read line <&3", childFD: child)
    FD.close(child)
    let pidfd = try PidFD.open(process.pid)
    defer { FD.close(pidfd) }
    try PidFD.send(signal: 0, to: pidfd)
    try PidFD.send(signal: Signals.terminate, to: pidfd)
    #expect(try process.wait() == .signaled(SIGTERM, coreDumped: false))
    let error = #expect(throws: SystemError.self) {
      try PidFD.send(signal: Signals.terminate, to: pidfd)
    }
    #expect(error?.code == ESRCH)
  }

  @Test func pidfdOpenOfNoProcessFails() {
    let error = #expect(throws: SystemError.self) { try PidFD.open(Int32.max) }
    #expect(error?.code == ESRCH)
  }

  @Test func reapingSomeoneElsesPidIsAnError() {
    // pid 1 is never our child: ECHILD, not a hang and not a stolen status.
    let error = #expect(throws: SystemError.self) { try ProcessReaper.reap(1) }
    #expect(error?.code == ECHILD)
  }

  @Test func sendRefusesGroupsAndZero() {
    #expect(throws: SystemError.self) { try Signals.send(signal: 0, to: 0) }
    #expect(throws: SystemError.self) { try Signals.send(signal: 0, to: -1) }
    #expect(throws: SystemError.self) { try Signals.send(signal: 0, toGroup: 1) }
    #expect(throws: Never.self) { try Signals.send(signal: 0, to: getpid()) }
  }

  @Test func waitForExitBlocksUntilExit() throws {
    let process = try Child.sh("exit 0")
    #expect(try ProcessReaper.waitForExit(process.pid) == .exited(0))
  }

  @Test func waitForExitWithATimeoutReturnsNilWhileTheChildRuns() throws {
    let (parent, child) = try SocketPair.make()
    defer { FD.close(parent) }
    let process = try Child.sh("read line <&3; exit 4", childFD: child)
    FD.close(child)

    #expect(try ProcessReaper.waitForExit(process.pid, timeout: .zero) == nil)
    let t0 = Monotonic.now()
    #expect(try ProcessReaper.waitForExit(process.pid, timeout: .milliseconds(50)) == nil)
    #expect(Monotonic.now() - t0 >= .milliseconds(50), "the wait is bounded, not skipped")

    try FD.writeAll(parent, "go\n")
    let t1 = Monotonic.now()
    let status = try ProcessReaper.waitForExit(process.pid, timeout: .seconds(10))
    #expect(status == .exited(4))
    #expect(Monotonic.now() - t1 < .seconds(5), "woken by the exit, not by the timeout")
    if let status { process.reaped(status) }
    // Reaped: the pid is no longer ours to wait for.
    let error = #expect(throws: SystemError.self) {
      try ProcessReaper.waitForExit(process.pid, timeout: .milliseconds(10))
    }
    #expect(error?.code == ECHILD)
  }

  @Test func waitForExitWithATimeoutReapsAnAlreadyExitedChild() throws {
    let process = try Child.sh("exit 9")
    // Let it become a zombie first: the reap must not need the pidfd's wakeup.
    let deadline = Monotonic.now() + .seconds(10)
    while try procStatFields(process.pid).first != "Z" {
      try #require(Monotonic.now() < deadline, "child \(process.pid) never exited")
      usleep(1_000)
    }
    let status = try ProcessReaper.waitForExit(process.pid, timeout: .zero)
    #expect(status == .exited(9))
    if let status { process.reaped(status) }
  }
}

@Suite struct ExitStatusTests {
  @Test(arguments: [
    (Int32(0x0300), ExitStatus.exited(3), "exited with status 3"),
    (0x0000, .exited(0), "exited with status 0"),
    (0xff00, .exited(255), "exited with status 255"),
    (0x0009, .signaled(9, coreDumped: false), "exited on signal 9"),
    (0x008b, .signaled(11, coreDumped: true), "exited on signal 11 (core dumped)"),
  ])
  func decodesWaitStatuses(raw: Int32, status: ExitStatus, text: String) {
    #expect(ExitStatus(waitStatus: raw) == status)
    #expect(status.description == text)
  }

  @Test func stopAndContinueReportsAreNotExits() {
    #expect(ExitStatus(waitStatus: 0x137f) == nil)  // stopped by SIGSTOP
    #expect(ExitStatus(waitStatus: 0xffff) == nil)  // continued
  }

  @Test func onlyExitZeroIsSuccess() {
    #expect(ExitStatus.exited(0).isSuccess)
    #expect(!ExitStatus.exited(1).isSuccess)
    #expect(!ExitStatus.signaled(15, coreDumped: false).isSuccess)
  }
}
