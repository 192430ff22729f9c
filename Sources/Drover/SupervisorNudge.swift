import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// Wakes a running supervisor after the CLI changed the store, so new work is picked up at once
/// instead of at the supervisor's next timer.
///
/// Best effort by design: no supervisor, a stale socket file, a full backlog or a slow peer are
/// all fine and silent: the job is already durable, and a supervisor that starts later finds
/// it in the store.
enum SupervisorNudge {
  /// How long to wait for the supervisor's reply before hanging up.
  static let replyWaitMilliseconds: Int32 = 5

  /// Connects to the control socket at `socketPath` without blocking, sends
  /// `{"cmd":"wake"}\n`, reads the reply if it comes within a few ms, and closes.
  static func wake(socketPath: String) {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(socketPath.utf8)
    // sun_path must hold the path and its terminating NUL.
    guard !pathBytes.isEmpty, pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
      return
    }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      raw.copyBytes(from: pathBytes)
      raw[pathBytes.count] = 0
    }

    let fd = socket(
      AF_UNIX,
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }

    let connected = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    // A Unix stream connect either succeeds at once or fails (EAGAIN: backlog full); there is
    // no in-progress state worth waiting for here.
    guard connected == 0 else { return }

    let request = Array((ControlRequest.wake.line + "\n").utf8)
    // MSG_NOSIGNAL: a supervisor that dies between connect and send must not SIGPIPE us.
    let sent = request.withUnsafeBytes {
      send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
    }
    guard sent == request.count else { return }

    // Give the reply a moment so the supervisor is not writing to a closed socket; whatever it
    // says is not needed.
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    if poll(&pfd, 1, replyWaitMilliseconds) > 0 {
      var sink = [UInt8](repeating: 0, count: 512)
      _ = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    }
  }
}
