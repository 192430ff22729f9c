public import DroverCore

extension SupervisorClock {
  /// CLOCK_MONOTONIC and the system's wall clock.
  public static let system = SupervisorClock(
    monotonic: { MonotonicInstant(nanoseconds: Monotonic.nanoseconds()) }, wall: { .now() })
}
