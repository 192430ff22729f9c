import Glibc

/// Collects the exit status of one known child at a time, by pid.
///
/// Never `waitpid(-1)`: that would steal statuses from whoever else owns children in this
/// process. Reaping by pid is race-free for your own child: its pid cannot be reused until it
/// has been reaped. A child that has exited but is not reaped stays a zombie (holding its pid
/// and, for a pidfd, staying readable), so reap every child whose pidfd became readable or,
/// after a SIGCHLD, every child you own: SIGCHLDs coalesce, one may stand for many exits.
public enum ProcessReaper {
  /// Reaps `pid` if it has exited, without blocking (`waitpid(pid, WNOHANG)`).
  ///
  /// - Returns: the exit status, or `nil` while the child is still running.
  /// - Throws: `ECHILD` if `pid` is not an un-reaped child of this process (already reaped,
  ///   or never ours).
  public static func reap(_ pid: Int32) throws(SystemError) -> ExitStatus? {
    var ignored: ChildUsage?
    return try wait(pid, options: WNOHANG, usage: &ignored)
  }

  /// ``reap(_:)``, and when it reaped the child, what the child used into `usage`.
  public static func reap(_ pid: Int32, usage: inout ChildUsage?) throws(SystemError)
    -> ExitStatus?
  {
    try wait(pid, options: WNOHANG, usage: &usage)
  }

  /// Blocks until child `pid` exits and reaps it. For the worker's own children and tests;
  /// the supervisor's loop uses ``reap(_:)`` when a pidfd turns readable.
  ///
  /// - Throws: `ECHILD` as for ``reap(_:)``.
  public static func waitForExit(_ pid: Int32) throws(SystemError) -> ExitStatus {
    var ignored: ChildUsage?
    while true {
      if let status = try wait(pid, options: 0, usage: &ignored) { return status }
    }
  }

  /// Waits at most `timeout` for child `pid` to exit and reaps it if it did.
  ///
  /// The wait sleeps in poll(2) on a pidfd (``PidFD/open(_:)``, readable once the child is a
  /// zombie), so it wakes when the child exits rather than on a polling interval, and a
  /// thread with other work (the `exec` handler checking for a cancel) can bound each wait.
  /// A child that already exited is reaped at once, without opening a pidfd.
  ///
  /// - Parameter timeout: how long to wait; `.zero` or less only checks, like ``reap(_:)``.
  /// - Returns: the exit status, or `nil` if the child is still running after `timeout`.
  /// - Throws: `ECHILD` as for ``reap(_:)``; `ENOSYS` from pidfd_open on kernels before 5.3.
  public static func waitForExit(_ pid: Int32, timeout: Duration) throws(SystemError)
    -> ExitStatus?
  {
    var ignored: ChildUsage?
    return try waitForExit(pid, timeout: timeout, usage: &ignored)
  }

  /// ``waitForExit(_:timeout:)``, and when it reaped the child, what the child used into
  /// `usage`.
  public static func waitForExit(
    _ pid: Int32, timeout: Duration, usage: inout ChildUsage?
  ) throws(SystemError) -> ExitStatus? {
    if let status = try reap(pid, usage: &usage) { return status }
    guard timeout > .zero else { return nil }
    let deadline = Monotonic.now() + timeout
    // Race-free: an un-reaped child's pid cannot name another process.
    let pidfd = try PidFD.open(pid)
    defer { FD.close(pidfd) }
    while true {
      let remaining = deadline - Monotonic.now()
      guard remaining > .zero, try FD.waitUntilReadable(pidfd, timeout: remaining) else {
        return try reap(pid, usage: &usage)
      }
      if let status = try reap(pid, usage: &usage) { return status }
    }
  }

  private static func wait(_ pid: Int32, options: Int32, usage: inout ChildUsage?)
    throws(SystemError) -> ExitStatus?
  {
    var status: Int32 = 0
    var ru = rusage()
    // wait4 is waitpid that also fills in the child's rusage: no extra syscall.
    let result = retryOnInterrupt { wait4(pid, &status, options, &ru) }
    if result == 0 { return nil }
    guard result == pid else { throw .current("waitpid", "pid \(pid)") }
    usage = ChildUsage(ru)
    return ExitStatus(waitStatus: status)
  }
}

/// What a reaped child used, from `wait4(2)`: the child and the descendants it waited for.
public struct ChildUsage: Sendable, Hashable {
  /// User + system CPU time.
  public var cpu: Duration
  /// Peak resident set size in bytes (`ru_maxrss`). posix_spawn's vfork makes the kernel seed
  /// a spawned child's figure with its parent's peak at the exec: a child smaller than its
  /// parent reads as about the parent's size.
  public var peakRSS: UInt64

  public init(cpu: Duration, peakRSS: UInt64) {
    self.cpu = cpu
    self.peakRSS = peakRSS
  }

  init(_ ru: rusage) {
    cpu = Duration(ru.ru_utime) + Duration(ru.ru_stime)
    peakRSS = UInt64(max(0, ru.ru_maxrss)) * 1024  // kilobytes on Linux
  }
}
