import CDroverShim
import Glibc

/// A worker leads its own process group (the supervisor spawns it with `.newGroup`); whatever
/// it starts (exec commands) stays in that group. These make sure none of it outlives the
/// worker.
public enum OwnProcessGroup {
  /// True when this process leads its process group (pgid == pid). Group-wide kills are only
  /// safe then: otherwise the group is someone else's (a shell's, say).
  public static var isLeader: Bool { getpgrp() == getpid() }

  /// On `signal`, SIGKILL the whole group, this process included (an async-signal-safe handler
  /// written in C). Does nothing unless `isLeader`; returns whether it was installed.
  @discardableResult
  public static func killAllOn(signal: Int32) -> Bool {
    guard isLeader else { return false }
    return drover_kill_group_on_signal(signal) == 0
  }

  /// SIGKILLs the whole group now, this process included, when it leads the group; otherwise
  /// returns and the caller exits as it meant to. For a worker whose supervisor is gone.
  public static func killAll() {
    guard isLeader else { return }
    kill(0, SIGKILL)
  }
}
