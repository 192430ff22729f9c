import CDroverShim
import Glibc

/// The worker side of "a worker dies with its supervisor": prctl(PR_SET_PDEATHSIG).
public enum ParentDeath {
  /// Asks the kernel to send `signal` (default SIGKILL) to this process when its parent dies,
  /// then checks that the parent has not died already.
  ///
  /// Call it first thing in the worker. Edge cases:
  /// - The signal fires when the parent *thread* that spawned us exits, not the parent
  ///   process; see ``ProcessSpawner`` for the consequence on the supervisor side.
  /// - If the parent died between our spawn and this call, no signal will ever come: we have
  ///   already been re-parented. That is what the returned value is for: pass the
  ///   supervisor's pid (``CurrentProcess/id`` there, handed over in an argument or the
  ///   environment) as `expectedParent` and exit when this returns `false`. Without it, the
  ///   check is only "the parent is not pid 1", which a subreaper defeats.
  /// - The setting survives execve (except of set-uid programs) and is cleared in a fork.
  ///
  /// - Returns: `true` if the parent is still alive (`getppid() == expectedParent`, or
  ///   `getppid() != 1` without `expectedParent`); `false` means exit now.
  @discardableResult
  public static func arm(signal: Int32 = Signals.kill, expectedParent: Int32? = nil)
    throws(SystemError) -> Bool
  {
    guard drover_set_parent_death_signal(signal) == 0 else {
      throw .current("prctl(PR_SET_PDEATHSIG)", "signal \(signal)")
    }
    let parent = getppid()
    if let expectedParent { return parent == expectedParent }
    return parent != 1
  }

  /// Clears the parent-death signal.
  public static func disarm() throws(SystemError) {
    guard drover_set_parent_death_signal(0) == 0 else {
      throw .current("prctl(PR_SET_PDEATHSIG)", "signal 0")
    }
  }

  /// The signal currently armed, or 0 if none.
  public static func armedSignal() throws(SystemError) -> Int32 {
    let signal = drover_parent_death_signal()
    guard signal >= 0 else { throw .current("prctl(PR_GET_PDEATHSIG)") }
    return signal
  }
}
