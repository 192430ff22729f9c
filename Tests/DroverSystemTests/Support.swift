import Foundation
import Synchronization
import Testing

@testable import DroverSystem

/// Serializes tests that change the process environment against tests that read it (a spawn
/// that inherits the environment walks `environ`, which setenv may reallocate underneath).
let environmentLock = Mutex<Void>(())

struct TimedOut: Error, CustomStringConvertible {
  var what: String
  var description: String { "timed out: \(what)" }
}

/// A spawned child that is SIGKILLed and reaped when the test lets go of it without having
/// reaped it, so a failing test never leaks a process.
final class Child {
  let pid: Int32
  private(set) var status: ExitStatus?

  init(pid: Int32) { self.pid = pid }

  /// `/bin/sh -c script`, with `childFD` as fd 3.
  static func sh(
    _ script: String, childFD: Int32? = nil, environment: SpawnEnvironment = .inherit,
    standardInput: StandardStream = .inherit, standardOutput: StandardStream = .inherit,
    standardError: StandardStream = .inherit, workingDirectory: String? = nil,
    processGroup: ProcessGroupOption = .inherit
  ) throws -> Child {
    let pid = try environmentLock.withLock { (_) throws in
      try ProcessSpawner.spawn(
        executable: "/bin/sh", arguments: ["-c", script], environment: environment,
        childFD: childFD, standardInput: standardInput, standardOutput: standardOutput,
        standardError: standardError, workingDirectory: workingDirectory,
        processGroup: processGroup)
    }
    return Child(pid: pid)
  }

  /// Waits (bounded) for the child to exit and reaps it; on timeout kills it and throws.
  @discardableResult
  func wait(timeout: Duration = .seconds(10)) throws -> ExitStatus {
    if let status { return status }
    let deadline = Monotonic.now() + timeout
    while Monotonic.now() < deadline {
      if let result = try ProcessReaper.reap(pid) {
        status = result
        return result
      }
      usleep(1_000)
    }
    kill()
    throw TimedOut(what: "child \(pid) to exit")
  }

  /// Records a status reaped outside this helper (``ProcessReaper/reap(_:)`` in the test).
  func reaped(_ status: ExitStatus) { self.status = status }

  /// SIGKILLs and reaps the child if it has not been reaped yet.
  func kill() {
    guard status == nil else { return }
    try? Signals.send(signal: Signals.kill, to: pid)
    status = try? ProcessReaper.waitForExit(pid)
  }

  deinit { kill() }
}

/// Reads `fd` until end-of-file, failing after `timeout`.
func readToEnd(_ fd: Int32, timeout: Duration = .seconds(10)) throws -> String {
  let deadline = Monotonic.now() + timeout
  var result: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let remaining = deadline - Monotonic.now()
    guard remaining > .zero, try FD.waitUntilReadable(fd, timeout: remaining) else {
      throw TimedOut(what: "EOF on fd \(fd); got \(String(decoding: result, as: UTF8.self))")
    }
    guard let n = try FD.read(fd, into: &buffer) else { continue }
    if n == 0 { return String(decoding: result, as: UTF8.self) }
    result += buffer[..<n]
  }
}

/// Reads whatever arrives on `fd` within `timeout` (at least one byte), as text.
func readSome(_ fd: Int32, timeout: Duration = .seconds(10)) throws -> String {
  guard try FD.waitUntilReadable(fd, timeout: timeout) else {
    throw TimedOut(what: "data on fd \(fd)")
  }
  var buffer = [UInt8](repeating: 0, count: 4096)
  let n = try FD.read(fd, into: &buffer) ?? 0
  return String(decoding: buffer[..<n], as: UTF8.self)
}

/// A fresh directory with a short path (socket paths are limited to 107 bytes), removed at
/// the end of `body`.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
  var template = Array("/tmp/drv.XXXXXX".utf8CString)
  guard let made = mkdtemp(&template) else { throw TimedOut(what: "mkdtemp failed") }
  let path = String(cString: made)
  defer { try? FileManager.default.removeItem(atPath: path) }
  return try body(path)
}

/// Fields of /proc/PID/stat after the command name: index 0 is the state, 2 the process
/// group, 3 the session.
func procStatFields(_ pid: Int32) throws -> [String] {
  let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
  guard let close = text.lastIndex(of: ")") else { return [] }
  return text[text.index(after: close)...].split(separator: " ").map(String.init)
}

/// Swift Testing has an `ExitStatus` of its own (for exit tests); in this target the name
/// means DroverSystem's.
typealias ExitStatus = DroverSystem.ExitStatus
