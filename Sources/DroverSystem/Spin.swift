import Glibc

/// A short busy wait before sleeping, for a reply or a request that usually comes within tens
/// of microseconds over a local socket.
///
/// A process asleep in `poll`/`epoll_wait` must be woken by its peer's write: on this project's
/// VMs that is an interrupt between virtual CPUs, paid by the writer (measured: about 30 µs of
/// the supervisor's CPU per single enqueue to a client that sleeps) and again by the sleeper
/// (the context switch back in). Polling without sleeping for a moment first finds most replies
/// without either. Between polls the CPU is yielded, so a runnable process on the same core
/// (a worker, the peer itself) runs instead of waiting for the spin to end.
public enum Spin {
  /// How long one spin lasts at most: longer than a single enqueue's round trip as the
  /// supervisor sees it (its reply out, the client's next request in: 30-80 µs measured on a
  /// loaded 2-core VM; 50 µs gave 12-13k enqueues/s, 100 µs 14-15k), short enough that a spin
  /// that finds nothing wastes little.
  public static let budget: Duration = .microseconds(100)

  /// Calls `ready` (a check that does not block) until it returns true or `budget` passed,
  /// yielding the CPU between calls; returns whether `ready` did.
  public static func until<E: Error>(
    budget: Duration = Spin.budget, _ ready: () throws(E) -> Bool
  ) throws(E) -> Bool {
    let end = Monotonic.nanoseconds() + budget.saturatingNanoseconds
    repeat {
      if try ready() { return true }
      sched_yield()
    } while Monotonic.nanoseconds() < end
    return false
  }
}

/// When a loop that spins before it sleeps (`Spin`) may spin, so that spins which find nothing
/// cost little: after two of them in a row, none for `quiet` (requests one by one, far apart);
/// and at most `waste` of every `window` goes to them (traffic too irregular for a spin to pay).
/// Spins that find something are not counted: they replace a sleep and a wake-up, which cost
/// the CPU as much. Times are `Monotonic.nanoseconds` readings.
public struct SpinGovernor: Sendable {
  public var quiet: Duration = .milliseconds(10)
  public var window: Duration = .milliseconds(100)
  public var waste: Duration = .milliseconds(5)

  private var quietUntil: Int64 = .min
  private var missedLast = false
  private var windowStart: Int64 = .min
  private var windowMissed: Int64 = 0

  public init() {}

  /// Whether a spin may start at `now`.
  public mutating func maySpin(now: Int64) -> Bool {
    if windowStart == .min || now - windowStart >= window.saturatingNanoseconds {
      windowStart = now
      windowMissed = 0
    }
    return now >= quietUntil && windowMissed < waste.saturatingNanoseconds
  }

  /// `Spin.until(ready)` when a spin may start now, recorded; false at once when it may not.
  public mutating func spin<E: Error>(_ ready: () throws(E) -> Bool) throws(E) -> Bool {
    let start = Monotonic.nanoseconds()
    guard maySpin(now: start) else { return false }
    let found = try Spin.until(ready)
    spun(found: found, start: start, end: Monotonic.nanoseconds())
    return found
  }

  /// Records a spin from `start` to `end` that found something or not.
  public mutating func spun(found: Bool, start: Int64, end: Int64) {
    if !found {
      windowMissed += end - start
      if missedLast { quietUntil = end + quiet.saturatingNanoseconds }
    }
    missedLast = !found
  }
}
