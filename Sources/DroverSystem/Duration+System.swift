import Glibc

extension Duration {
  /// Whole nanoseconds, saturating at the bounds of Int64 (about ±292 years).
  var saturatingNanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
    if overflow2 { return seconds < 0 ? .min : .max }
    return sum
  }

  /// Whole microseconds (truncated), saturating.
  var saturatingMicroseconds: Int64 { saturatingNanoseconds / 1_000 }

  /// A `timespec` for a non-negative duration; negative durations become zero.
  var timespecValue: timespec {
    let ns = Swift.max(0, saturatingNanoseconds)
    return timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
  }

  /// The duration a `timeval` holds (rusage times).
  init(_ tv: timeval) {
    self = .seconds(Int64(tv.tv_sec)) + .microseconds(Int64(tv.tv_usec))
  }

  /// A `timeval` for a non-negative duration; negative durations become zero.
  var timevalValue: timeval {
    let us = Swift.max(0, saturatingMicroseconds)
    return timeval(tv_sec: Int(us / 1_000_000), tv_usec: Int(us % 1_000_000))
  }
}

extension Int32 {
  /// A poll/epoll timeout in milliseconds: `nil` → -1 (forever); negative → 0; otherwise
  /// rounded *up* so a 0.3 ms wait does not become a busy 0 ms poll; capped at Int32.max.
  init(milliseconds duration: Duration?) {
    guard let duration else {
      self = -1
      return
    }
    let ns = duration.saturatingNanoseconds
    if ns <= 0 {
      self = 0
      return
    }
    let ms = ns / 1_000_000 + (ns % 1_000_000 == 0 ? 0 : 1)
    self = Int32(clamping: ms)
  }
}
