import Glibc

/// Signal numbers, process-wide blocking and sending.
///
/// The supervisor's recipe: call ``blockForProcess(_:)`` with
/// `[Signals.terminate, Signals.interrupt, Signals.hangup, Signals.child]` as the first thing
/// in `main`, then read them from a ``SignalFD`` in its epoll loop. Never set SIGCHLD to
/// SIG_IGN: the kernel then reaps children itself and their exit statuses are lost.
public enum Signals {
  /// SIGTERM (15): polite stop; systemd's stop signal.
  public static let terminate: Int32 = SIGTERM
  /// SIGINT (2): Ctrl-C.
  public static let interrupt: Int32 = SIGINT
  /// SIGHUP (1): reload the configuration.
  public static let hangup: Int32 = SIGHUP
  /// SIGCHLD (17): a child changed state. Coalesces: one may stand for several exits.
  public static let child: Int32 = SIGCHLD
  /// SIGKILL (9): cannot be caught, blocked or ignored.
  public static let kill: Int32 = SIGKILL
  /// SIGQUIT (3).
  public static let quit: Int32 = SIGQUIT
  /// SIGUSR1 (10).
  public static let user1: Int32 = SIGUSR1
  /// SIGUSR2 (12).
  public static let user2: Int32 = SIGUSR2
  /// SIGPIPE (13): write to a pipe or socket nobody reads any more.
  public static let brokenPipe: Int32 = SIGPIPE

  /// Blocks `signals` in the calling thread (pthread_sigmask `SIG_BLOCK`), so they stay
  /// pending for a ``SignalFD`` instead of running their default action.
  ///
  /// **Call it in `main` before any other thread exists.** New threads inherit the mask of
  /// the thread that creates them, which is the only way every thread ends up blocking the
  /// signals. A process-directed signal (kill(2) on the pid, systemd's SIGTERM) is delivered to
  /// *any* thread that does not block it; if one such thread exists, the signal runs its
  /// default action there (SIGTERM/SIGINT/SIGHUP terminate the process, SIGCHLD is discarded)
  /// and the signalfd never sees it. Swift concurrency and Dispatch start their threads lazily,
  /// so the top of `main` (before the first `await`, Task or Dispatch call) is early enough.
  /// SIGKILL and SIGSTOP cannot be blocked and are silently left out.
  public static func blockForProcess(_ signals: [Int32]) throws(SystemError) {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    let result = pthread_sigmask(SIG_BLOCK, &set, nil)
    guard result == 0 else {
      throw SystemError(call: "pthread_sigmask", code: result, detail: "signals \(signals)")
    }
  }

  /// Unblocks `signals` in the calling thread. A signal pending for the thread or process runs
  /// its disposition immediately, so drain the ``SignalFD`` first.
  public static func unblock(_ signals: [Int32]) throws(SystemError) {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    let result = pthread_sigmask(SIG_UNBLOCK, &set, nil)
    guard result == 0 else {
      throw SystemError(call: "pthread_sigmask", code: result, detail: "signals \(signals)")
    }
  }

  /// Whether `signal` is blocked in the calling thread.
  public static func isBlocked(_ signal: Int32) -> Bool {
    var set = sigset_t()
    pthread_sigmask(SIG_BLOCK, nil, &set)
    return sigismember(&set, signal) == 1
  }

  /// Sends `signal` to process `pid` (kill(2)). Signal 0 checks that it exists.
  ///
  /// A child that exited but is not reaped yet still accepts signals (nothing happens), so
  /// this only fails for a pid you no longer own. Prefer ``PidFD/send(signal:to:)`` where a
  /// pidfd is at hand.
  /// - Throws: `ESRCH` (no such process), `EPERM`. `pid` must be positive: 0 and negative
  ///   values (process groups, "everyone") are refused with `EINVAL` to keep a zero pid bug
  ///   from signalling the supervisor's own group; use ``send(signal:toGroup:)`` for groups.
  public static func send(signal: Int32, to pid: Int32) throws(SystemError) {
    guard pid > 0 else { throw SystemError(call: "kill", code: EINVAL, detail: "pid \(pid)") }
    guard Glibc.kill(pid, signal) == 0 else { throw .current("kill", "pid \(pid)") }
  }

  /// Sends `signal` to every process in process group `group` (kill(-group)), e.g. a child
  /// spawned with ``ProcessGroupOption/newGroup`` and everything it started.
  /// - Throws: `EINVAL` unless `group` > 1; `ESRCH` when the group is empty.
  public static func send(signal: Int32, toGroup group: Int32) throws(SystemError) {
    guard group > 1 else { throw SystemError(call: "kill", code: EINVAL, detail: "group \(group)") }
    guard Glibc.kill(-group, signal) == 0 else { throw .current("kill", "group \(group)") }
  }

  /// Sets SIGPIPE to SIG_IGN for the whole process, so a write to a closed pipe fails with
  /// `EPIPE` instead of killing the process. (Socket writes through ``FD/write(_:from:)`` use
  /// `MSG_NOSIGNAL` and need no help.) Children spawned by ``ProcessSpawner`` get SIGPIPE back
  /// at its default, as shell pipelines expect.
  public static func ignoreBrokenPipe() {
    _ = signal(SIGPIPE, SIG_IGN)
  }
}
