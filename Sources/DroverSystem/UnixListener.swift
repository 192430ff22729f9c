import Glibc

/// A listening Unix socket made by ``UnixSocket/listen(path:mode:group:backlog:)``.
public struct UnixListener: Sendable, Hashable {
  /// The listening descriptor (non-blocking, close-on-exec): add it to ``Epoll`` for
  /// `.readable` and call ``UnixSocket/accept(_:)`` until it returns `nil`.
  public let fd: Int32
  /// The socket file.
  public let path: String
  /// The socket file's group: with ``PeerPolicy``, members may use the socket.
  public let groupID: UInt32
  let identity: FileIdentity

  /// Closes the descriptor and removes the socket file, but only if the file at `path` is
  /// still the one this listener created (someone may have replaced it meanwhile). Identity
  /// is device, inode and change time: a file whose mode or owner was changed after `listen`
  /// is left behind, and the next `listen` replaces it as stale.
  public func close() {
    var info = stat()
    if lstat(path, &info) == 0, FileIdentity(info) == identity { unlink(path) }
    FD.close(fd)
  }
}

/// Which file a path named at some moment. The change time guards against a removed file's
/// inode number being reused at once by a new file (ext4 does that).
struct FileIdentity: Sendable, Hashable {
  var device: UInt64
  var inode: UInt64
  var changeSeconds: Int
  var changeNanoseconds: Int

  init(_ info: stat) {
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
    changeSeconds = info.st_ctim.tv_sec
    changeNanoseconds = info.st_ctim.tv_nsec
  }
}
