import CDroverShim
import Glibc

/// Who is on the other end of a Unix socket, from `SO_PEERCRED`.
///
/// The kernel records the peer's credentials when it called connect(2) (or socketpair(2));
/// they cannot be forged, but they do not follow later setuid calls.
public struct PeerCredentials: Sendable, Hashable {
  /// The peer's process id (in our pid namespace; 0 if it is outside it).
  public var pid: Int32
  /// The peer's effective user id.
  public var uid: UInt32
  /// The peer's effective (primary) group id. Supplementary groups: ``groups(of:)``.
  public var gid: UInt32

  /// Makes a value; mainly for tests of policy code.
  public init(pid: Int32, uid: UInt32, gid: UInt32) {
    self.pid = pid
    self.uid = uid
    self.gid = gid
  }

  /// The credentials of the peer connected to `fd`.
  /// - Throws: `ENOTSOCK`, `ENOTCONN`-like errors for a descriptor that is not a connected
  ///   Unix socket.
  public static func of(_ fd: Int32) throws(SystemError) -> PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    guard drover_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
      throw .current("getsockopt(SO_PEERCRED)", "fd \(fd)")
    }
    return PeerCredentials(pid: pid, uid: uid, gid: gid)
  }

  /// The peer's supplementary groups (`SO_PEERGROUPS`, Linux ≥ 4.13), as of connect(2).
  ///
  /// Needed because most users reach a shared group (say `drover`) as a *supplementary*
  /// group: their primary group is their own. A file mode of 0660 lets them connect, so a
  /// policy that looked only at ``gid`` would refuse people the file system let in.
  public static func groups(of fd: Int32) throws(SystemError) -> [UInt32] {
    var groups = [UInt32](repeating: 0, count: 64)
    while true {
      var length = socklen_t(groups.count * MemoryLayout<UInt32>.size)
      if getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &groups, &length) == 0 {
        return Array(groups.prefix(Int(length) / MemoryLayout<UInt32>.size))
      }
      // ERANGE reports the size needed in `length`.
      guard errno == ERANGE, Int(length) > groups.count * MemoryLayout<UInt32>.size else {
        throw .current("getsockopt(SO_PEERGROUPS)", "fd \(fd)")
      }
      groups = [UInt32](repeating: 0, count: Int(length) / MemoryLayout<UInt32>.size + 1)
    }
  }
}
