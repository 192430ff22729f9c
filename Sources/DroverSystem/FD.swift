import Glibc

/// Thin helpers over raw file descriptors (`Int32`).
///
/// Descriptors stay plain integers so the supervisor's epoll loop can keep them in its own
/// tables; whoever created one closes it exactly once. Every call retries on `EINTR`.
/// "Would block" (`EAGAIN`/`EWOULDBLOCK`) is reported as `nil`, never as an error.
public enum FD {
  /// Closes `fd`, ignoring errors.
  ///
  /// On Linux the descriptor is released even when close(2) fails (including `EINTR`), so
  /// retrying could close a descriptor another thread just opened; there is nothing useful to
  /// do with the error. Closing a descriptor twice is a bug this cannot detect.
  public static func close(_ fd: Int32) {
    _ = Glibc.close(fd)
  }

  /// Turns `O_NONBLOCK` on (default) or off for `fd`. The flag belongs to the open file
  /// description, so it also affects every duplicate of `fd`, including a child's copy.
  public static func setNonBlocking(_ fd: Int32, _ on: Bool = true) throws(SystemError) {
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0 else { throw .current("fcntl(F_GETFL)", "fd \(fd)") }
    let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
    if wanted != flags, fcntl(fd, F_SETFL, wanted) != 0 {
      throw .current("fcntl(F_SETFL)", "fd \(fd)")
    }
  }

  /// Turns `FD_CLOEXEC` on (default) or off for `fd` (this descriptor only, not duplicates).
  public static func setCloseOnExec(_ fd: Int32, _ on: Bool = true) throws(SystemError) {
    let flags = fcntl(fd, F_GETFD)
    guard flags >= 0 else { throw .current("fcntl(F_GETFD)", "fd \(fd)") }
    let wanted = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
    if wanted != flags, fcntl(fd, F_SETFD, wanted) != 0 {
      throw .current("fcntl(F_SETFD)", "fd \(fd)")
    }
  }

  /// Whether `FD_CLOEXEC` is set on `fd`.
  public static func isCloseOnExec(_ fd: Int32) throws(SystemError) -> Bool {
    let flags = fcntl(fd, F_GETFD)
    guard flags >= 0 else { throw .current("fcntl(F_GETFD)", "fd \(fd)") }
    return flags & FD_CLOEXEC != 0
  }

  /// Reads at most `buffer.count` bytes into `buffer`.
  ///
  /// - Returns: the number of bytes read; `0` means end of file (the peer closed its end, or
  ///   `buffer` is empty); `nil` means a non-blocking `fd` has nothing to read now (`EAGAIN`),
  ///   or a receive timeout set with ``UnixSocket/setTimeouts(_:receive:send:)`` expired.
  /// - Throws: any other error, e.g. `ECONNRESET` when a peer died with unread data.
  public static func read(
    _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer
  ) throws(SystemError) -> Int? {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    let n = retryOnInterrupt { Glibc.read(fd, base, buffer.count) }
    if n >= 0 { return n }
    if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
    throw .current("read", "fd \(fd)")
  }

  /// Reads at most `buffer.count` bytes into the start of `buffer` (its count is the capacity;
  /// bytes past the returned count are left as they were). Same results as
  /// the raw-buffer `read(_:into:)`.
  public static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int? {
    // The stdlib's withUnsafe* closures rethrow untyped errors; Result keeps the type.
    try buffer.withUnsafeMutableBytes { raw in
      Result { () throws(SystemError) in
        try read(fd, into: raw)
      }
    }.get()
  }

  /// Writes as much of `bytes` as `fd` takes now, at most once (a partial write is normal).
  ///
  /// Sockets are written with `send(MSG_NOSIGNAL)`, so a peer that went away yields `EPIPE` as
  /// an error instead of killing the process with SIGPIPE; other descriptors (pipes, files)
  /// use write(2) and still raise SIGPIPE unless ``Signals/ignoreBrokenPipe()`` was called.
  ///
  /// - Returns: the number of bytes written (`0` only for empty input); `nil` when a
  ///   non-blocking `fd` cannot take any byte now (`EAGAIN`) or a send timeout expired.
  public static func write(_ fd: Int32, from bytes: UnsafeRawBufferPointer) throws(SystemError)
    -> Int?
  {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    var n = retryOnInterrupt { send(fd, base, bytes.count, Int32(MSG_NOSIGNAL)) }
    if n < 0 && errno == ENOTSOCK {
      n = retryOnInterrupt { Glibc.write(fd, base, bytes.count) }
    }
    if n >= 0 { return n }
    if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
    throw .current("write", "fd \(fd)")
  }

  /// ``write(_:from:)`` for an array.
  public static func write(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> Int? {
    try bytes.withUnsafeBytes { raw in
      Result { () throws(SystemError) in
        try write(fd, from: raw)
      }
    }.get()
  }

  /// Writes all of `bytes`, looping over partial writes.
  ///
  /// On a non-blocking `fd` it waits with poll(2) whenever the descriptor is full, so this
  /// blocks the calling thread until everything is written or an error occurs: use it in the
  /// worker, the CLI and tests, never on the supervisor's event loop. A send timeout on a
  /// socket (``UnixSocket/setTimeouts(_:receive:send:)``) makes it throw `EAGAIN`.
  public static func writeAll(_ fd: Int32, from bytes: UnsafeRawBufferPointer)
    throws(SystemError)
  {
    var offset = 0
    var nonBlocking: Bool?
    while offset < bytes.count {
      let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
      if let n = try write(fd, from: rest) {
        offset += n
        continue
      }
      if nonBlocking == nil { nonBlocking = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0 }
      // EAGAIN on a blocking descriptor can only be an expired SO_SNDTIMEO.
      guard nonBlocking == true else {
        throw SystemError(call: "write", code: EAGAIN, detail: "fd \(fd): send timeout expired")
      }
      _ = try wait(fd, events: Int16(POLLOUT), timeout: nil)
    }
  }

  /// ``writeAll(_:from:)`` for an array.
  public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
    try bytes.withUnsafeBytes { raw in
      Result { () throws(SystemError) in
        try writeAll(fd, from: raw)
      }
    }.get()
  }

  /// ``writeAll(_:from:)`` for the UTF-8 bytes of `text`.
  public static func writeAll(_ fd: Int32, _ text: String) throws(SystemError) {
    try writeAll(fd, Array(text.utf8))
  }

  /// Waits with poll(2) until `fd` is readable, has hung up or has an error, or `timeout`
  /// passes (`nil` waits forever). Returns `false` on timeout. For blocking clients and
  /// tests; the supervisor uses ``Epoll``.
  public static func waitUntilReadable(_ fd: Int32, timeout: Duration?) throws(SystemError)
    -> Bool
  {
    try wait(fd, events: Int16(POLLIN), timeout: timeout)
  }

  /// Like ``waitUntilReadable(_:timeout:)``, for writability.
  public static func waitUntilWritable(_ fd: Int32, timeout: Duration?) throws(SystemError)
    -> Bool
  {
    try wait(fd, events: Int16(POLLOUT), timeout: timeout)
  }

  static func wait(_ fd: Int32, events: Int16, timeout: Duration?) throws(SystemError) -> Bool {
    let deadline = timeout.map { Monotonic.now() + $0 }
    while true {
      var pfd = pollfd(fd: fd, events: events, revents: 0)
      let remaining = deadline.map { $0 - Monotonic.now() }
      let n = poll(&pfd, 1, Int32(milliseconds: remaining))
      if n > 0 {
        if pfd.revents & Int16(POLLNVAL) != 0 {
          throw SystemError(call: "poll", code: EBADF, detail: "fd \(fd)")
        }
        return true
      }
      if n == 0 {
        // poll rounds to milliseconds; only report a timeout once the deadline really passed.
        if let deadline, Monotonic.now() >= deadline { return false }
        continue
      }
      if errno != EINTR { throw .current("poll", "fd \(fd)") }
    }
  }
}
