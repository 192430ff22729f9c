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
    try wait(pid, options: WNOHANG)
  }

  /// Blocks until child `pid` exits and reaps it. For the worker's own children and tests;
  /// the supervisor's loop uses ``reap(_:)`` when a pidfd turns readable.
  ///
  /// - Throws: `ECHILD` as for ``reap(_:)``.
  public static func waitForExit(_ pid: Int32) throws(SystemError) -> ExitStatus {
    while true {
      if let status = try wait(pid, options: 0) { return status }
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
    if let status = try reap(pid) { return status }
    guard timeout > .zero else { return nil }
    let deadline = Monotonic.now() + timeout
    // Race-free: an un-reaped child's pid cannot name another process.
    let pidfd = try PidFD.open(pid)
    defer { FD.close(pidfd) }
    while true {
      let remaining = deadline - Monotonic.now()
      guard remaining > .zero, try FD.waitUntilReadable(pidfd, timeout: remaining) else {
        return try reap(pid)
      }
      if let status = try reap(pid) { return status }
    }
  }

  private static func wait(_ pid: Int32, options: Int32) throws(SystemError) -> ExitStatus? {
    var status: Int32 = 0
    let result = retryOnInterrupt { waitpid(pid, &status, options) }
    if result == 0 { return nil }
    guard result == pid else { throw .current("waitpid", "pid \(pid)") }
    return ExitStatus(waitStatus: status)
  }
}
