import CDroverShim
import Glibc

/// Unix-domain stream sockets on a filesystem path: the control socket.
///
/// Paths are limited to ``maxPathBytes`` UTF-8 bytes (the size of `sun_path` minus its NUL);
/// abstract-namespace names are not supported. Every descriptor is close-on-exec.
public enum UnixSocket {
  /// The longest usable socket path in bytes: 107 on Linux.
  public static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

  /// Creates the socket file at `path` and listens on it.
  ///
  /// - If `path` exists and is a socket nobody answers on (a crashed server's leftover), it is
  ///   removed and replaced. If a live server answers (or its backlog is full), nothing is
  ///   touched and this throws `EADDRINUSE` saying a live server answers. If `path` exists but
  ///   is not a socket, it is left alone and this throws `EADDRINUSE` saying so.
  /// - The file gets exactly `mode` (default 0o660: owner and group may connect), whatever the
  ///   umask; it never exists with wider permissions than `mode`, even briefly. With `group`,
  ///   the file's group is changed to it (needs membership or privilege).
  /// - Two servers starting at the same moment on one stale file can race (both see it stale);
  ///   hold a lock (the store's owner lock, systemd's single instance) around startup.
  ///
  /// - Parameters:
  ///   - backlog: connections the kernel queues before ``accept(_:)``.
  /// - Returns: the listener; its descriptor is non-blocking. Close it with
  ///   ``UnixListener/close()``, which also removes the file.
  /// - Throws: `ENAMETOOLONG` for a path over ``maxPathBytes``; bind/chmod/listen errors.
  public static func listen(
    path: String, mode: UInt32 = 0o660, group: UInt32? = nil, backlog: Int32 = 128
  ) throws(SystemError) -> UnixListener {
    var (address, length) = try socketAddress(path, call: "bind")
    let fd = socket(
      AF_UNIX,
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
      0)
    guard fd >= 0 else { throw .current("socket") }
    var bound = false
    var done = false
    defer {
      if !done {
        if bound { unlink(path) }
        FD.close(fd)
      }
    }
    // Linux creates the socket file with the socket inode's mode minus the umask, so setting
    // the mode before bind closes the window in which the file would be more open than `mode`.
    _ = fchmod(fd, mode)
    if bindAddress(fd, &address, length) != 0 {
      guard errno == EADDRINUSE else { throw .current("bind", path) }
      try removeStaleSocket(at: path)
      guard bindAddress(fd, &address, length) == 0 else { throw .current("bind", path) }
    }
    bound = true
    guard chmod(path, mode) == 0 else { throw .current("chmod", path) }
    if let group, chown(path, UInt32.max, group) != 0 {
      throw .current("chown", "\(path) to group \(group)")
    }
    guard Glibc.listen(fd, backlog) == 0 else { throw .current("listen", path) }
    var info = stat()
    guard lstat(path, &info) == 0 else { throw .current("lstat", path) }
    done = true
    return UnixListener(fd: fd, path: path, groupID: info.st_gid, identity: FileIdentity(info))
  }

  /// Closes the sending half of a connected socket (`shutdown(SHUT_WR)`): the peer reads what
  /// was written, then EOF, while its own writes still land. Errors are ignored (the peer may
  /// be gone already).
  public static func shutdownWrite(_ fd: Int32) {
    _ = shutdown(fd, Int32(SHUT_WR))
  }

  /// Accepts one pending connection on a listening descriptor.
  ///
  /// - Returns: the connection, non-blocking and close-on-exec; `nil` when none is pending.
  ///   Connections that were aborted before being accepted are skipped.
  /// - Throws: `EMFILE`/`ENFILE` when out of descriptors. The connection then stays queued and
  ///   a level-triggered epoll keeps reporting the listener: back off before retrying.
  public static func accept(_ listenerFD: Int32) throws(SystemError) -> Int32? {
    while true {
      let fd = drover_accept_nonblocking(listenerFD)
      if fd >= 0 { return fd }
      switch errno {
      case EINTR, ECONNABORTED: continue
      case EAGAIN, EWOULDBLOCK: return nil
      default: throw .current("accept4", "fd \(listenerFD)")
      }
    }
  }

  /// Connects to the server at `path`, waiting as long as its backlog is full.
  ///
  /// - Returns: a blocking, close-on-exec descriptor.
  /// - Throws: `ECONNREFUSED` when the file exists but nobody listens; `ENOENT` when there is
  ///   no file; `EACCES` when its mode keeps us out; `ENAMETOOLONG` for a long path.
  public static func connect(path: String) throws(SystemError) -> Int32 {
    try connect(path: path, limit: nil)
  }

  /// Connects to the server at `path`, giving up after `timeout` if its backlog stays full.
  ///
  /// A Unix connect either completes at once or waits for room in the server's backlog; the
  /// wait is bounded with `SO_SNDTIMEO`, which is reset to "none" on the returned descriptor.
  /// - Returns: a blocking, close-on-exec descriptor.
  /// - Throws: `ETIMEDOUT` when the timeout passed; otherwise as ``connect(path:)``.
  public static func connect(path: String, timeout: Duration) throws(SystemError) -> Int32 {
    try connect(path: path, limit: timeout)
  }

  /// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO` on a blocking socket: a read or write that waits
  /// longer fails with `EAGAIN` (``FD``'s
  /// `read` returns `nil`). `nil` means wait forever; durations are rounded down to microseconds,
  /// with at least 1 µs (a zero would mean "forever" to the kernel).
  public static func setTimeouts(_ fd: Int32, receive: Duration?, send: Duration?)
    throws(SystemError)
  {
    try setTimeout(fd, SO_RCVTIMEO, receive, "setsockopt(SO_RCVTIMEO)")
    try setTimeout(fd, SO_SNDTIMEO, send, "setsockopt(SO_SNDTIMEO)")
  }

  private static func setTimeout(_ fd: Int32, _ option: Int32, _ value: Duration?, _ call: String)
    throws(SystemError)
  {
    var time = value.map { Swift.max($0, .microseconds(1)).timevalValue } ?? timeval()
    guard setsockopt(fd, SOL_SOCKET, option, &time, socklen_t(MemoryLayout<timeval>.size)) == 0
    else { throw .current(call, "fd \(fd)") }
  }

  private static func connect(path: String, limit: Duration?) throws(SystemError) -> Int32 {
    var (address, length) = try socketAddress(path, call: "connect")
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .current("socket") }
    var done = false
    defer { if !done { FD.close(fd) } }
    if let limit { try setTimeouts(fd, receive: nil, send: limit) }
    while connectAddress(fd, &address, length) != 0 {
      let code = errno
      if code == EINTR { continue }
      if code == EISCONN { break }  // an interrupted attempt completed after all
      if let limit, code == EAGAIN || code == EINPROGRESS {
        throw SystemError(
          call: "connect", code: ETIMEDOUT, detail: "\(path): no answer within \(limit)")
      }
      throw SystemError(call: "connect", code: code, detail: path)
    }
    if limit != nil { try setTimeouts(fd, receive: nil, send: nil) }
    done = true
    return fd
  }

  /// Removes `path` if it is a socket file nobody answers on; throws if it is anything else.
  private static func removeStaleSocket(at path: String) throws(SystemError) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      if errno == ENOENT { return }  // gone meanwhile: just bind again
      throw .current("lstat", path)
    }
    guard info.st_mode & S_IFMT == S_IFSOCK else {
      throw SystemError(
        call: "bind", code: EADDRINUSE,
        detail: "\(path) exists and is not a socket; not removing it")
    }
    do {
      let probe = try connect(path: path, timeout: .seconds(1))
      FD.close(probe)
    } catch  where error.code == ECONNREFUSED || error.code == ENOENT {
      // Nobody listens: a leftover of a server that died without cleaning up.
      guard unlink(path) == 0 || errno == ENOENT else { throw .current("unlink", path) }
      return
    } catch  where error.code != ETIMEDOUT {
      throw error
    }
    throw SystemError(
      call: "bind", code: EADDRINUSE,
      detail: "\(path): a live server already answers on this socket; refusing to replace it")
  }

  static func socketAddress(_ path: String, call: String) throws(SystemError) -> (
    sockaddr_un, socklen_t
  ) {
    let bytes = Array(path.utf8)
    guard !bytes.isEmpty, !bytes.contains(0) else {
      throw SystemError(
        call: call, code: EINVAL, detail: "socket path \"\(path)\" is empty or has NUL")
    }
    guard bytes.count <= maxPathBytes else {
      throw SystemError(
        call: call, code: ENAMETOOLONG,
        detail: "socket path is \(bytes.count) bytes, the limit is \(maxPathBytes): \(path)")
    }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let length = MemoryLayout<sa_family_t>.size + bytes.count + 1
    return (address, socklen_t(length))
  }

  private static func bindAddress(_ fd: Int32, _ address: inout sockaddr_un, _ length: socklen_t)
    -> Int32
  {
    withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
  }

  private static func connectAddress(
    _ fd: Int32, _ address: inout sockaddr_un, _ length: socklen_t
  ) -> Int32 {
    withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
    }
  }
}
