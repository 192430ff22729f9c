import DroverSystem
import DroverWire

/// Wakes a running supervisor after the CLI changed the store, so new work is picked up at once
/// instead of at the supervisor's next timer.
///
/// Best effort by design: no supervisor, a stale socket file, a full backlog or a slow peer are
/// all fine and silent: the job is already durable, and a supervisor that starts later finds
/// it in the store.
enum SupervisorNudge {
  /// How long to wait for the supervisor's reply before hanging up.
  static let replyWaitMilliseconds: Int64 = 5

  /// Connects to the control socket at `socketPath` (giving up at once if it is not there or
  /// its backlog is full), sends `{"cmd":"wake"}\n`, reads the reply if it comes within a few
  /// ms, and closes.
  static func wake(socketPath: String) {
    guard let fd = try? UnixSocket.connect(path: socketPath, timeout: .milliseconds(5)) else {
      return
    }
    defer { FD.close(fd) }
    // Socket writes use MSG_NOSIGNAL: a supervisor dying meanwhile cannot SIGPIPE us.
    guard (try? FD.writeAll(fd, ControlRequest.wake.line + "\n")) != nil else { return }
    // Give the reply a moment so the supervisor is not writing to a closed socket; whatever it
    // says is not needed.
    if (try? FD.waitUntilReadable(fd, timeout: .milliseconds(replyWaitMilliseconds))) == true {
      var sink = [UInt8](repeating: 0, count: 512)
      _ = try? FD.read(fd, into: &sink)
    }
  }
}
