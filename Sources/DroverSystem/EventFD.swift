import CDroverShim
import Glibc

/// An eventfd(2): the way another thread (or async task) wakes the epoll loop.
///
/// `Sendable`: the value is only a descriptor number, and the kernel object is safe to write
/// from any thread. Wake-ups coalesce into a counter; one ``drain()`` consumes them all.
public struct EventFD: Sendable, Hashable {
  /// The descriptor: non-blocking and close-on-exec. Add it to ``Epoll`` for `.readable`.
  public let fd: Int32

  /// Creates an eventfd with counter 0.
  public init() throws(SystemError) {
    let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard fd >= 0 else { throw .current("eventfd") }
    self.fd = fd
  }

  /// Adds 1 to the counter, making the fd readable. Never blocks: if the counter is at its
  /// maximum (2^64−2, impossible in practice) the fd is readable anyway and the write is
  /// dropped.
  public func signal() throws(SystemError) {
    var one: UInt64 = 1
    let n = retryOnInterrupt { write(fd, &one, 8) }
    if n == 8 || (n < 0 && errno == EAGAIN) { return }
    throw .current("write", "eventfd \(fd)")
  }

  /// Reads and resets the counter.
  ///
  /// - Returns: how many ``signal()`` calls happened since the last drain; 0 when none.
  public func drain() throws(SystemError) -> UInt64 {
    var value: UInt64 = 0
    let n = retryOnInterrupt { read(fd, &value, 8) }
    if n == 8 { return value }
    if n < 0 && errno == EAGAIN { return 0 }
    throw .current("read", "eventfd \(fd)")
  }

  /// Closes the descriptor; no thread may call ``signal()`` afterwards.
  public func close() { FD.close(fd) }
}
