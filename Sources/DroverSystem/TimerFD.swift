import CDroverShim
import Glibc

/// A timerfd(2) on CLOCK_MONOTONIC: a deadline an epoll loop can watch.
///
/// The supervisor keeps one, armed for its earliest deadline (next retry, watchdog ping, kill
/// grace period) and re-armed after every pass.
public struct TimerFD: Sendable, Hashable {
  /// The descriptor: non-blocking and close-on-exec. Add it to ``Epoll`` for `.readable`.
  public let fd: Int32

  /// Creates a disarmed timer.
  public init() throws(SystemError) {
    let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
    guard fd >= 0 else { throw .current("timerfd_create") }
    self.fd = fd
  }

  /// Arms the timer to fire once, `delay` from now, replacing any earlier setting.
  ///
  /// A zero or negative `delay` fires as soon as possible (1 ns): a zero time would disarm the
  /// timer instead. With `interval`, it then fires every `interval`.
  public func arm(after delay: Duration, interval: Duration? = nil) throws(SystemError) {
    var value = Swift.max(delay, .nanoseconds(1)).timespecValue
    if value.tv_sec == 0 && value.tv_nsec == 0 { value.tv_nsec = 1 }
    let repeating = interval.map { Swift.max($0, .nanoseconds(1)).timespecValue } ?? timespec()
    var spec = itimerspec(it_interval: repeating, it_value: value)
    guard timerfd_settime(fd, 0, &spec, nil) == 0 else { throw .current("timerfd_settime") }
  }

  /// Disarms the timer. An expiration that already happened stays readable until
  /// ``expirations()`` reads it.
  public func disarm() throws(SystemError) {
    var spec = itimerspec()
    guard timerfd_settime(fd, 0, &spec, nil) == 0 else { throw .current("timerfd_settime") }
  }

  /// Reads and resets the expiration count.
  ///
  /// - Returns: how many times the timer fired since the last read; 0 if it has not.
  public func expirations() throws(SystemError) -> UInt64 {
    var value: UInt64 = 0
    let n = retryOnInterrupt { read(fd, &value, 8) }
    if n == 8 { return value }
    if n < 0 && errno == EAGAIN { return 0 }
    throw .current("read", "timerfd \(fd)")
  }

  /// Closes the descriptor.
  public func close() { FD.close(fd) }
}
