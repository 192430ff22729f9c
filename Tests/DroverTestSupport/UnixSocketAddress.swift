#if canImport(Glibc)
  import Glibc
#endif

/// Test-side Unix sockets: a socket of `type` bound to `path` (stand-ins for the control
/// socket or systemd's notify socket). Returns the descriptor, or an errno text on failure.
public func bindUnixSocket(path: String, type: Int32) -> Result<Int32, UnixSocketSetupError> {
  let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
  guard fd >= 0 else { return .failure(UnixSocketSetupError("socket", path)) }
  var addr = sockaddr_un()
  addr.sun_family = sa_family_t(AF_UNIX)
  let bytes = Array(path.utf8)
  guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
    close(fd)
    errno = ENAMETOOLONG
    return .failure(UnixSocketSetupError("bind", path))
  }
  withUnsafeMutableBytes(of: &addr.sun_path) { raw in
    raw.copyBytes(from: bytes)
    raw[bytes.count] = 0
  }
  let rc = withUnsafePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
    }
  }
  guard rc == 0 else {
    let e = UnixSocketSetupError("bind", path)
    close(fd)
    return .failure(e)
  }
  return .success(fd)
}

/// Why `bindUnixSocket` failed: the call, the path and the errno text.
public struct UnixSocketSetupError: Error, CustomStringConvertible {
  public var description: String
  init(_ call: String, _ path: String) {
    description = "\(call) \(path): \(String(cString: strerror(errno)))"
  }
}
