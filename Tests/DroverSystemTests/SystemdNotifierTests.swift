import Foundation
import Testing

@testable import DroverSystem

/// These tests set and unset environment variables, so they run one at a time and hold
/// `environmentLock` against spawns elsewhere that copy the environment.
@Suite(.serialized) struct SystemdNotifierTests {
  /// Binds a datagram socket in a temporary directory, points NOTIFY_SOCKET at it for the
  /// duration of `body`, and passes a function that returns the next message.
  func withNotifySocket(_ body: (() throws -> String) throws -> Void) throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/notify.sock"
      let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      try #require(fd >= 0)
      defer { FD.close(fd) }
      var (address, length) = try UnixSocket.socketAddress(path, call: "bind")
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
      }
      try #require(bound == 0)
      try environmentLock.withLock { (_) throws in
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        try body { try readSome(fd, timeout: .seconds(5)) }
      }
    }
  }

  @Test func readyReachesTheNotifySocket() throws {
    try withNotifySocket { (next) throws in
      #expect(SystemdNotifier.isEnabled)
      #expect(try SystemdNotifier.ready())
      #expect(try next() == "READY=1")
      #expect(try SystemdNotifier.ready(status: "3 pools up\nand more"))
      #expect(try next() == "READY=1\nSTATUS=3 pools up and more")
    }
  }

  @Test func everyHelperSendsItsAssignment() throws {
    try withNotifySocket { (next) throws in
      try SystemdNotifier.status("idle")
      #expect(try next() == "STATUS=idle")
      try SystemdNotifier.watchdog()
      #expect(try next() == "WATCHDOG=1")
      let before = Monotonic.microseconds()
      try SystemdNotifier.reloading()
      let reloading = try next()
      let after = Monotonic.microseconds()
      #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
      let usec = Int64(reloading.split(separator: "=").last ?? "") ?? -1
      #expect(usec >= before && usec <= after)
      try SystemdNotifier.stopping(status: "draining")
      #expect(try next() == "STOPPING=1\nSTATUS=draining")
      try SystemdNotifier.extendTimeout(.seconds(5))
      #expect(try next() == "EXTEND_TIMEOUT_USEC=5000000")
      try SystemdNotifier.notify("CUSTOM=1\nOTHER=2")
      #expect(try next() == "CUSTOM=1\nOTHER=2")
    }
  }

  @Test func everythingIsANoOpWithoutNotifySocket() throws {
    try environmentLock.withLock { (_) throws in
      unsetenv("NOTIFY_SOCKET")
      #expect(!SystemdNotifier.isEnabled)
      #expect(try !SystemdNotifier.ready())
      #expect(try !SystemdNotifier.watchdog())
      #expect(try !SystemdNotifier.notify("STATUS=x"))
    }
  }

  @Test func aBrokenNotifySocketIsAnError() throws {
    try environmentLock.withLock { (_) throws in
      setenv("NOTIFY_SOCKET", "/nonexistent/drover/notify.sock", 1)
      defer { unsetenv("NOTIFY_SOCKET") }
      let error = #expect(throws: SystemError.self) { try SystemdNotifier.ready() }
      #expect(error?.call == "sd_notify")
    }
  }

  @Test func watchdogIntervalFollowsTheEnvironment() {
    environmentLock.withLock { _ in
      defer {
        unsetenv("WATCHDOG_USEC")
        unsetenv("WATCHDOG_PID")
      }
      unsetenv("WATCHDOG_USEC")
      #expect(SystemdNotifier.watchdogInterval() == nil)
      setenv("WATCHDOG_USEC", "3000000", 1)
      #expect(SystemdNotifier.watchdogInterval() == .seconds(3))
      setenv("WATCHDOG_PID", String(getpid()), 1)
      #expect(SystemdNotifier.watchdogInterval() == .seconds(3))
      setenv("WATCHDOG_PID", "1", 1)  // meant for another process
      #expect(SystemdNotifier.watchdogInterval() == nil)
    }
  }
}
