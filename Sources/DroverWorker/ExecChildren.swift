import DroverSystem

/// The exec commands this worker runs now, and the sweep of what they leave behind.
///
/// The worker is a child subreaper: a command's descendants whose parent died (a `setsid`
/// daemon, a double fork) are re-parented to it. Once no command runs, every child of the
/// worker is such a leftover, and `sweepIfIdle` kills and reaps them. While another command
/// runs (concurrency > 1), an orphan cannot be told apart from a part of that job, so the sweep
/// waits until the worker is idle of commands (or exits). Spawning and the sweep share one
/// lock, so a command being started is never mistaken for a leftover.
final class ExecChildren: @unchecked Sendable {
  // @unchecked: `running` is read and written only while `monitor` is held.
  private let monitor = Monitor()
  private var running: Set<Int32> = []

  static let shared = ExecChildren()

  /// Runs `spawn` under the lock and records the pid it returns.
  func start(_ spawn: () throws(SystemError) -> Int32) throws(SystemError) -> Int32 {
    let result: Result<Int32, SystemError> = monitor.locked {
      let r = Result { () throws(SystemError) -> Int32 in try spawn() }
      if case .success(let pid) = r { running.insert(pid) }
      return r
    }
    return try result.get()
  }

  /// The command `pid` was reaped.
  func ended(_ pid: Int32) {
    monitor.locked { _ = running.remove(pid) }
  }

  /// Kills and reaps every child of this process when no command runs; returns how many.
  @discardableResult
  func sweepIfIdle() -> Int {
    monitor.locked {
      guard running.isEmpty else { return 0 }
      return Subreaper.killStrays(keep: { _ in false }).count
    }
  }

  /// At exit: kills every child but the running commands (the caller kills those with its
  /// process group).
  func sweepAll() {
    monitor.locked { _ = Subreaper.killStrays(keep: { running.contains($0) }) }
  }
}
