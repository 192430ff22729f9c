import CDroverShim
import Glibc

/// Child-subreaper duty (PR_SET_CHILD_SUBREAPER): descendants whose parent died (a daemon that
/// called `setsid` and outlived the command that started it) are re-parented to the nearest
/// subreaper ancestor instead of init. A process that enabled it finds them among its own
/// children, where it can kill and reap them by pid (never `waitpid(-1)`).
///
/// Limits: a process that double-forks *after* its subreaper died goes to the next subreaper up
/// (or init); only a cgroup (systemd's per-unit kill) reaches everything.
public enum Subreaper {
  /// Makes the calling process a child subreaper (inherited by nothing: children start
  /// without it).
  public static func enable() throws(SystemError) {
    guard drover_set_child_subreaper() == 0 else { throw .current("prctl(PR_SET_CHILD_SUBREAPER)") }
  }

  /// The calling process's children, from `/proc/self/task/*/children` (each thread's list: a
  /// re-parented orphan lands on any live thread).
  public static func children() -> [Int32] {
    guard let dir = opendir("/proc/self/task") else { return [] }
    defer { closedir(dir) }
    var out: [Int32] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard let tid = Int32(name) else { continue }
      guard let text = readSmallFile("/proc/self/task/\(tid)/children") else { continue }
      out += text.split(separator: " ").compactMap { Int32($0) }
    }
    return out
  }

  /// SIGKILLs every child that `keep` does not claim, and reaps those already dead (without
  /// blocking: one that is still dying is reaped by the next call). Returns the pids signalled.
  @discardableResult
  public static func killStrays(keep: (Int32) -> Bool) -> [Int32] {
    var killed: [Int32] = []
    for pid in children() where !keep(pid) {
      // Already dead (killed by an earlier call): just reaped.
      if case .some(.some) = try? ProcessReaper.reap(pid) { continue }
      // Our child, unreaped: the pid cannot have been reused by a stranger.
      _ = kill(pid, SIGKILL)
      killed.append(pid)
      _ = try? ProcessReaper.reap(pid)
    }
    return killed
  }
}

extension Subreaper {
  /// At exit: until every process group in `groups` is empty and no stray child is left (or
  /// `timeout` passes), SIGKILLs the groups' members and the children `keep` does not claim,
  /// and reaps them. A killed group member's own orphans are re-parented here only once it
  /// has died, hence the repeated passes.
  public static func settle(groups: [Int32], keep: (Int32) -> Bool, timeout: Duration) {
    let deadline = Monotonic.now() + timeout
    while true {
      let live = groups.filter { groupHasMembers($0) }
      for g in live { _ = kill(-g, SIGKILL) }
      let strays = killStrays(keep: keep)
      if live.isEmpty && strays.isEmpty { return }
      if Monotonic.now() >= deadline { return }
      var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
      nanosleep(&ts, nil)
    }
  }

  /// Whether process group `group` still has a live (or unreaped) member.
  public static func groupHasMembers(_ group: Int32) -> Bool {
    kill(-group, 0) == 0 || errno == EPERM
  }
}
