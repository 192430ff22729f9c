/// A point on the monotonic clock (CLOCK_MONOTONIC nanoseconds): what deadlines, timeouts and
/// "last heard" times are made of. Only differences and comparisons mean anything.
///
/// Arithmetic saturates instead of trapping: a deadline a thousand years out is simply never
/// reached.
public struct MonotonicInstant: Comparable, Hashable, Sendable {
  public var nanoseconds: Int64
  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  /// The instant that never comes (for "no deadline" arithmetic).
  public static let distantFuture = MonotonicInstant(nanoseconds: .max)

  public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

  public static func + (t: Self, d: Duration) -> Self {
    let (r, o) = t.nanoseconds.addingReportingOverflow(d.saturatingNanoseconds)
    return Self(nanoseconds: o ? (d > .zero ? .max : .min) : r)
  }

  public static func - (t: Self, d: Duration) -> Self { t + (.zero - d) }

  /// The time from `b` to `a`.
  public static func - (a: Self, b: Self) -> Duration {
    let (r, o) = a.nanoseconds.subtractingReportingOverflow(b.nanoseconds)
    return .nanoseconds(o ? (a > b ? Int64.max : Int64.min) : r)
  }
}

extension Duration {
  /// Whole nanoseconds, clamped to `Int64`.
  public var saturatingNanoseconds: Int64 {
    let (s, a) = components
    let (ns, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
    let (r, o2) = ns.addingReportingOverflow(a / 1_000_000_000)
    if o1 || o2 { return s >= 0 ? .max : .min }
    return r
  }
}

/// The supervisor's clocks, injected so that deadlines are values a test can drive.
public struct SupervisorClock: Sendable {
  /// Now on the monotonic clock: deadlines, timeouts, intervals.
  public var monotonic: @Sendable () -> MonotonicInstant
  /// Now on the wall clock: what the store records.
  public var wall: @Sendable () -> Timestamp

  public init(
    monotonic: @escaping @Sendable () -> MonotonicInstant,
    wall: @escaping @Sendable () -> Timestamp
  ) {
    self.monotonic = monotonic
    self.wall = wall
  }
}

/// A duty that runs every `interval`: `due(now)` answers true at most once per interval.
public struct Periodic: Sendable {
  public var interval: Duration
  public var last: MonotonicInstant?
  public init(every interval: Duration) { self.interval = interval }

  /// True (and restarts the interval) when `interval` has passed since the last true, or on
  /// the first call.
  public mutating func due(_ now: MonotonicInstant) -> Bool {
    if let last, now - last < interval { return false }
    last = now
    return true
  }
}
