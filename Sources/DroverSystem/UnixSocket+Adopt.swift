import Glibc

extension UnixSocket {
  /// Wraps a listening Unix stream socket someone else bound (systemd's socket unit, see
  /// ``SocketActivation``) as a ``UnixListener``.
  ///
  /// - Returns: the listener, with the path it is bound to (from `getsockname`) and that
  ///   file's group. Do not ``UnixListener/close()`` it at exit if the socket file should stay
  ///   (systemd keeps listening on it); close the descriptor alone.
  /// - Throws: `ENOTSOCK` when `fd` is not a listening `AF_UNIX` stream socket bound to a path.
  public static func adopt(_ fd: Int32) throws(SystemError) -> UnixListener {
    var type: Int32 = 0
    var listening: Int32 = 0
    var size = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 else {
      throw .current("getsockopt(SO_TYPE)", "fd \(fd)")
    }
    size = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 else {
      throw .current("getsockopt(SO_ACCEPTCONN)", "fd \(fd)")
    }
    var address = sockaddr_un()
    var length = socklen_t(MemoryLayout<sockaddr_un>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw .current("getsockname", "fd \(fd)") }
    let path = withUnsafeBytes(of: address.sun_path) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    guard address.sun_family == sa_family_t(AF_UNIX), type == Int32(SOCK_STREAM.rawValue),
      listening == 1, !path.isEmpty
    else {
      throw SystemError(
        call: "adopt", code: ENOTSOCK,
        detail: "fd \(fd) is not a listening Unix stream socket bound to a path")
    }
    var info = stat()
    guard lstat(path, &info) == 0 else { throw .current("lstat", path) }
    return UnixListener(fd: fd, path: path, groupID: info.st_gid, identity: FileIdentity(info))
  }
}
