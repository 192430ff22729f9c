import DroverCore
import DroverSystem

/// Measures what one attempt used, for the outcome frame (``JobUsage``).
///
/// An `exec` attempt's figures are its command's, from `wait4` (``ChildUsage``). An in-process
/// handler's are the worker's own (``AttemptUsage``): the process's CPU time over the attempt
/// (every thread, so jobs running beside it on the same worker count too) and its peak RSS,
/// whose high-water mark is reset when the attempt starts alone on the worker (otherwise the
/// peak runs from the last reset, which a sibling job made). A tiny job costs two `getrusage`
/// calls, a write to `clear_refs` and a read of `/proc/self/statm` (both kept open); the
/// status is read only after a page fault.
struct AttemptMeter {
  /// The worker process's meter, shared by its executor threads.
  static let process = AttemptUsage()
  private let attempt: AttemptUsage.Attempt

  /// Call just before the handler. `alone`: no other job runs on this worker now.
  init(alone: Bool) {
    attempt = Self.process.start(alone: alone)
  }

  /// The in-process figures, read just after the handler returned.
  func finish() -> JobUsage? {
    Self.process.finish(attempt).map { JobUsage(cpu: $0.cpu, peakRSS: $0.peakRSS) }
  }

  /// An `exec` command's figures.
  static func usage(_ child: ChildUsage?) -> JobUsage? {
    child.map { JobUsage(cpu: $0.cpu, peakRSS: $0.peakRSS) }
  }
}

extension JobUsage {
  init(cpu: Duration, peakRSS: UInt64) {
    let (s, a) = max(.zero, cpu).components
    self.init(
      cpuSeconds: Double(s) + Double(a) / 1e18, peakRSS: Int64(clamping: peakRSS))
  }
}
