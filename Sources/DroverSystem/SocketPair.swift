import Glibc

/// A connected pair of Unix-domain stream sockets: the supervisor keeps one end and hands the
/// other to a worker as fd 3 (see ``ProcessSpawner``).
///
/// `SOCK_STREAM`, not `SOCK_SEQPACKET`: both measured the same, and a stream lets the caller
/// frame messages itself (length prefixes) with no per-message size limit.
public enum SocketPair {
  /// Creates the pair with `SOCK_CLOEXEC` on both ends, so neither leaks into unrelated
  /// children; dup2 onto fd 3 in the spawn file actions clears the flag on the child's copy
  /// only. Both ends are blocking; call ``FD/setNonBlocking(_:_:)`` on the end an event loop
  /// reads. After spawning, the parent must close its copy of the child's end, or it will
  /// never see end-of-file when the child dies.
  public static func make() throws(SystemError) -> (first: Int32, second: Int32) {
    var fds: [Int32] = [-1, -1]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw .current("socketpair") }
    return (fds[0], fds[1])
  }
}
