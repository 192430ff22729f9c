import Glibc

/// CLOCK_MONOTONIC, the clock that timerfd, epoll timeouts and systemd's `MONOTONIC_USEC` use.
///
/// Swift's `ContinuousClock` reads CLOCK_BOOTTIME on Linux and `SuspendingClock` reads
/// CLOCK_MONOTONIC; this helper names the clock explicitly and costs one vDSO call.
public enum Monotonic {
  /// Time since an arbitrary point (boot, not counting suspend). Never goes backwards; only
  /// differences between two readings in the same boot mean anything.
  public static func now() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
  }

  /// ``now()`` in whole nanoseconds.
  public static func nanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
  }

  /// ``now()`` in whole microseconds (the unit of systemd's `MONOTONIC_USEC`).
  public static func microseconds() -> Int64 { nanoseconds() / 1_000 }
}
