/// The environment a spawned child starts with.
public enum SpawnEnvironment: Sendable, Hashable {
  /// The parent's environment, unchanged.
  ///
  /// This and ``inheritWith(overrides:removing:)`` read the process environment at spawn
  /// time; like every exec, that is unsafe while another thread calls setenv/unsetenv.
  case inherit
  /// The parent's environment with `overrides` set (replacing same-named variables) and every
  /// variable named in `removing` dropped. Overrides win over removals. Pass
  /// ``SystemdNotifier/environmentKeys`` in `removing` so a worker does not think it talks to
  /// systemd itself.
  case inheritWith(overrides: [String: String], removing: [String] = [])
  /// Exactly these variables and no others (not even `PATH`).
  case exactly([String: String])
}

/// What one of a child's standard streams (fd 0, 1 or 2) is connected to.
public enum StandardStream: Sendable, Hashable {
  /// The parent's descriptor with the same number.
  case inherit
  /// `/dev/null`, opened read-write.
  case null
  /// A duplicate of this parent descriptor (its close-on-exec flag does not matter).
  case fd(Int32)
}

/// Which process group and session a spawned child joins.
public enum ProcessGroupOption: Sendable, Hashable {
  /// The parent's group and session. A terminal's Ctrl-C (SIGINT to the foreground group)
  /// then reaches the child too.
  case inherit
  /// A new process group whose id is the child's pid, so `Signals.send(signal:toGroup:)`
  /// reaches the child and everything it starts, and terminal signals do not.
  case newGroup
  /// A new session (setsid): a new group as well, and no controlling terminal.
  case newSession
}
