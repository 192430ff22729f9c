import Glibc
import Synchronization

/// What in-process attempts used: the process's CPU time over each attempt and the peak RSS
/// it reached, for a worker that runs its handlers in its own process.
///
/// The peak is the high-water mark `VmHWM` of `/proc/self/status`, reset by a `5` written to
/// `/proc/self/clear_refs` when the attempt starts alone. Opening both files and rendering the
/// status's 55 lines for every attempt was 85 % of a worker's CPU per tiny job (`perf` of a
/// drain). The resident set grows only by page faults, and `getrusage`, read for the CPU time
/// anyway, counts them; so an attempt without a fault peaked at the RSS it started with, read
/// from `/proc/self/statm` (a few numbers). The status is read only after a fault. The
/// `clear_refs` and `statm` files stay open (a `pwrite` and a `pread` per attempt).
public final class AttemptUsage: Sendable {
  private let clearRefs: Int32
  private let statm: Int32
  private let statusReads = Atomic<Int>(0)

  public init() {
    clearRefs = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
    statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
  }

  deinit {
    if clearRefs >= 0 { FD.close(clearRefs) }
    if statm >= 0 { FD.close(statm) }
  }

  /// One attempt's start: the fault count (minor + major) and CPU time from one `getrusage`,
  /// and the RSS then (nil when unreadable).
  public struct Attempt: Sendable {
    let faults: Int
    let cpu: Duration
    let rss: UInt64?
  }

  static func rusageNow() -> (faults: Int, cpu: Duration)? {
    var ru = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &ru) == 0 else { return nil }
    return (ru.ru_minflt + ru.ru_majflt, Duration(ru.ru_utime) + Duration(ru.ru_stime))
  }

  /// Call just before the handler. `alone`: no other job runs in this process now, so the
  /// high-water mark is reset for this attempt (otherwise it runs from the last reset, which
  /// a sibling made).
  public func start(alone: Bool) -> Attempt {
    if alone { resetPeak() }
    let r = Self.rusageNow()
    return Attempt(faults: r?.faults ?? -1, cpu: r?.cpu ?? .zero, rss: residentNow())
  }

  /// Call just after the handler returned: the CPU time since ``start(alone:)`` and the peak
  /// RSS; nil when `/proc` could not be read.
  public func finish(_ a: Attempt) -> (cpu: Duration, peakRSS: UInt64)? {
    let r = Self.rusageNow()
    let cpu = max(.zero, (r?.cpu ?? a.cpu) - a.cpu)
    if let r, a.faults >= 0, r.faults == a.faults, let rss = a.rss { return (cpu, rss) }
    statusReads.add(1, ordering: .relaxed)
    return ResourceUsage.selfPeakRSS().map { (cpu, $0) }
  }

  /// Resets this process's peak RSS mark to its current RSS (`5` into `/proc/self/clear_refs`),
  /// so the next ``ResourceUsage/selfPeakRSS()`` is the peak since now. False when the kernel
  /// refused.
  @discardableResult
  public func resetPeak() -> Bool {
    clearRefs >= 0 && retryOnInterrupt { pwrite(clearRefs, "5", 1, 0) } == 1
  }

  /// The resident set size now, from `/proc/self/statm`.
  func residentNow() -> UInt64? {
    guard statm >= 0 else { return nil }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buf -> UInt64? in
      let n = retryOnInterrupt { pread(statm, buf.baseAddress!, buf.count, 0) }
      guard n > 0 else { return nil }
      return ResourceUsage.residentBytes(statm: UnsafeBufferPointer(rebasing: buf[..<n]))
    }
  }

  /// How many attempts read `/proc/self/status` (those with a page fault).
  package var statusReadCount: Int { statusReads.load(ordering: .relaxed) }
}
