import CDroverShim
import Glibc

/// Process file descriptors (Linux ≥ 5.3): a handle on one process that an epoll loop can
/// watch.
///
/// A pidfd becomes readable (`EPOLLIN`) once its process has exited (become a zombie) and
/// stays readable until closed; reap the pid with ``ProcessReaper/reap(_:)`` then, and close
/// the pidfd. Unlike SIGCHLD it names the child that exited and never coalesces.
public enum PidFD {
  /// Opens a pidfd for `pid` (always close-on-exec).
  ///
  /// Race-free for a child you have not reaped yet (its pid cannot be reused before that);
  /// for any other process the pid may already name a different one.
  /// - Throws: `ESRCH` if no such process exists; `ENOSYS` on kernels before 5.3.
  public static func open(_ pid: Int32) throws(SystemError) -> Int32 {
    let fd = drover_pidfd_open(pid, 0)
    guard fd >= 0 else { throw .current("pidfd_open", "pid \(pid)") }
    return fd
  }

  /// Sends `signal` to the process behind `pidfd` (pidfd_send_signal(2), Linux ≥ 5.1).
  ///
  /// Unlike kill(2) it cannot hit a stranger that reused a reaped pid. `signal` 0 only checks
  /// that the process exists.
  /// - Throws: `ESRCH` once the process has exited, even before it is reaped.
  public static func send(signal: Int32, to pidfd: Int32) throws(SystemError) {
    guard drover_pidfd_send_signal(pidfd, signal) == 0 else {
      throw .current("pidfd_send_signal", "signal \(signal)")
    }
  }
}
