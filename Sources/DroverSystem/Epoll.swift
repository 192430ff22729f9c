import CDroverShim
import Glibc

/// An epoll(7) instance: the supervisor's single wait point for sockets, pidfds, the signalfd,
/// the eventfd and the timerfd.
///
/// Owned by one thread (not `Sendable`); other threads wake it through an ``EventFD``. The
/// event buffer is allocated once, so a wait allocates nothing. The descriptor is closed when
/// the instance is deallocated.
public final class Epoll {
  /// What to wait for on a descriptor.
  public struct Interest: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Data to read, a connection to accept, a pidfd's process exited, EOF.
    public static let readable = Interest(rawValue: EPOLLIN.rawValue)
    /// Room to write.
    public static let writable = Interest(rawValue: EPOLLOUT.rawValue)
  }

  /// How readiness is reported.
  public enum Trigger: Sendable, Hashable {
    /// Reported on every wait while the condition holds (the default; forgiving: a partial
    /// read just shows up again).
    case level
    /// Reported once per change; the caller must read/write until `EAGAIN` each time.
    case edge
  }

  /// What happened on a descriptor.
  public struct Events: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Readable (includes EOF, which then reads as 0 bytes).
    public static let readable = Events(rawValue: EPOLLIN.rawValue)
    /// Writable.
    public static let writable = Events(rawValue: EPOLLOUT.rawValue)
    /// The peer shut down its writing side (`EPOLLRDHUP`; always requested for sockets).
    public static let readHangup = Events(rawValue: EPOLLRDHUP.rawValue)
    /// Both directions are closed (`EPOLLHUP`; always reported).
    public static let hangup = Events(rawValue: EPOLLHUP.rawValue)
    /// An error is pending, e.g. `ECONNRESET` (`EPOLLERR`; always reported). The next read or
    /// write returns it.
    public static let error = Events(rawValue: EPOLLERR.rawValue)

    public var description: String {
      let names: [(Events, String)] = [
        (.readable, "readable"), (.writable, "writable"), (.readHangup, "readHangup"),
        (.hangup, "hangup"), (.error, "error"),
      ]
      return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
  }

  /// The epoll descriptor itself (close-on-exec).
  public let fd: Int32
  private let capacity: Int
  private let buffer: UnsafeMutablePointer<epoll_event>

  /// Creates an epoll instance that reports at most `maxEvents` ready descriptors per wait
  /// (more stay ready for the next one).
  public init(maxEvents: Int = 64) throws(SystemError) {
    let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard fd >= 0 else { throw .current("epoll_create1") }
    self.fd = fd
    self.capacity = Swift.max(1, maxEvents)
    self.buffer = .allocate(capacity: capacity)
  }

  deinit {
    buffer.deallocate()
    FD.close(fd)
  }

  /// Starts watching `fd`. Level-triggered unless `trigger` is `.edge`. `.readHangup`,
  /// `.hangup` and `.error` are always reported.
  ///
  /// - Throws: `EEXIST` if `fd` is already watched; `EPERM` for a regular file.
  public func add(_ fd: Int32, interest: Interest, trigger: Trigger = .level) throws(SystemError) {
    try control(EPOLL_CTL_ADD, fd, interest, trigger, "epoll_ctl(ADD)")
  }

  /// Changes what `fd` is watched for (e.g. add `.writable` while output is queued).
  ///
  /// With `reportPeerShutdown: false`, `.readHangup` is not requested: a level-triggered
  /// watcher that stopped reading (backpressure) would otherwise be woken on every wait once
  /// the peer shut its writing side. `.hangup` and `.error` are still reported.
  /// - Throws: `ENOENT` if `fd` is not watched.
  public func modify(
    _ fd: Int32, interest: Interest, trigger: Trigger = .level, reportPeerShutdown: Bool = true
  ) throws(SystemError) {
    try control(EPOLL_CTL_MOD, fd, interest, trigger, "epoll_ctl(MOD)", hangup: reportPeerShutdown)
  }

  /// Stops watching `fd`. Call it *before* closing `fd`: epoll tracks the open file, not the
  /// number, so a closed descriptor that still has a duplicate elsewhere (say in a child
  /// being spawned) would keep reporting events for a number that may be reused.
  /// - Throws: `ENOENT` if `fd` is not watched.
  public func remove(_ fd: Int32) throws(SystemError) {
    guard epoll_ctl(self.fd, EPOLL_CTL_DEL, fd, nil) == 0 else {
      throw .current("epoll_ctl(DEL)", "fd \(fd)")
    }
  }

  private func control(
    _ op: Int32, _ fd: Int32, _ interest: Interest, _ trigger: Trigger, _ call: String,
    hangup: Bool = true
  ) throws(SystemError) {
    var event = epoll_event()
    event.events = interest.rawValue | (hangup ? EPOLLRDHUP.rawValue : 0)
    if trigger == .edge { event.events |= EPOLLET.rawValue }
    event.data.fd = fd
    guard epoll_ctl(self.fd, op, fd, &event) == 0 else { throw .current(call, "fd \(fd)") }
  }

  /// Waits until at least one watched descriptor is ready or `timeout` passes (`nil`: no
  /// limit; `.zero`: just check) and calls `body` with each ready descriptor (the number given
  /// to ``add(_:interest:trigger:)``) and what happened on it, in kernel order. Allocates
  /// nothing.
  ///
  /// The timeout has millisecond resolution, rounded up. A wait interrupted by a signal
  /// returns 0 without calling `body`, as does a timeout: the caller's loop recomputes its
  /// deadline either way.
  ///
  /// - Returns: how many descriptors were reported.
  @discardableResult
  public func wait(timeout: Duration?, _ body: (_ fd: Int32, _ events: Events) -> Void)
    throws(SystemError) -> Int
  {
    let count = try waitRaw(timeout: timeout)
    for index in 0..<count {
      let event = buffer[index]
      body(event.data.fd, Events(rawValue: event.events))
    }
    return count
  }

  /// ``wait(timeout:_:)`` returning the ready descriptors as an array (one allocation per
  /// wait that reports something): `for (fd, events) in try epoll.wait(timeout: t) { … }`.
  public func wait(timeout: Duration?) throws(SystemError) -> [(fd: Int32, events: Events)] {
    let count = try waitRaw(timeout: timeout)
    return (0..<count).map { index in
      let event = buffer[index]
      return (event.data.fd, Events(rawValue: event.events))
    }
  }

  private func waitRaw(timeout: Duration?) throws(SystemError) -> Int {
    let n = epoll_wait(fd, buffer, Int32(clamping: capacity), Int32(milliseconds: timeout))
    if n >= 0 { return Int(n) }
    if errno == EINTR { return 0 }
    throw .current("epoll_wait")
  }
}
