import CDroverShim
import Glibc

/// Starts child processes with posix_spawn(3); the only way Drover creates a process.
///
/// posix_spawn (clone with `CLONE_VFORK` in glibc) is safe in a threaded parent, unlike a
/// bare fork(). The caller owns the returned pid: track it with ``PidFD/open(_:)``, reap it
/// with ``ProcessReaper/reap(_:)`` and never with `waitpid(-1)`.
public enum ProcessSpawner {
  /// The descriptor number that `childFD` gets in the child.
  public static let childFDNumber: Int32 = 3

  /// Spawns `executable` and returns the child's pid.
  ///
  /// The child starts with:
  /// - `argv` = `[argv0 ?? executable] + arguments`;
  /// - fds 0–2 as `standardInput`/`standardOutput`/`standardError` say, `childFD` (if any) as
  ///   fd 3 with close-on-exec cleared, and **every other descriptor closed**, whether or not
  ///   it was close-on-exec in the parent;
  /// - an empty signal mask and every signal at its default disposition. The supervisor blocks
  ///   SIGTERM/SIGINT/SIGHUP/SIGCHLD for its signalfd and may ignore SIGPIPE; a child must not
  ///   inherit either, since blocked and ignored signals survive exec.
  ///
  /// Any parent descriptor may be passed for any slot, including one whose number collides
  /// with another slot's target (say `childFD` is already 3, or `standardOutput` is fd 3):
  /// each source is first duplicated above the targets, then moved into place in the child.
  ///
  /// The caller must close its own copy of `childFD` (and of pipe ends given to the child)
  /// afterwards, or it will not see end-of-file when the child exits.
  ///
  /// The child's parent-death signal (``ParentDeath/arm(signal:expectedParent:)``) fires when
  /// the *thread* that called `spawn` exits, not the process: spawn from a thread that lives
  /// as long as the supervisor (its event loop), never from a short-lived one.
  ///
  /// - Parameters:
  ///   - executable: the program. An absolute path, unless `searchPath` is true. To re-run the
  ///     current program, pass `"/proc/self/exe"`: it names the very binary that is running
  ///     even after a package upgrade replaced the file on disk.
  ///   - argv0: the child's `argv[0]` (what `ps` shows); defaults to `executable`.
  ///   - workingDirectory: the child's current directory; `nil` keeps the parent's. A relative
  ///     `executable` is resolved after this change.
  ///   - searchPath: look `executable` up in `PATH` like a shell (posix_spawnp). glibc reads
  ///     the *parent's* `PATH` for this, not the one in `environment`.
  /// - Throws: the error posix_spawn reports, including the child's exec failure (glibc reports
  ///   exec errors such as `ENOENT` or `EACCES` synchronously); no child exists then.
  public static func spawn(
    executable: String,
    arguments: [String] = [],
    argv0: String? = nil,
    environment: SpawnEnvironment = .inherit,
    childFD: Int32? = nil,
    standardInput: StandardStream = .inherit,
    standardOutput: StandardStream = .inherit,
    standardError: StandardStream = .inherit,
    workingDirectory: String? = nil,
    processGroup: ProcessGroupOption = .inherit,
    searchPath: Bool = false
  ) throws(SystemError) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }

    var staged: [Int32] = []
    defer { for fd in staged { FD.close(fd) } }

    func check(_ result: Int32, _ call: String) throws(SystemError) {
      if result != 0 { throw SystemError(call: call, code: result, detail: executable) }
    }
    // Move `source` to `target` in the child via a close-on-exec duplicate numbered above every
    // target, so no dup2 can overwrite a descriptor a later action still needs.
    func place(_ source: Int32, at target: Int32) throws(SystemError) {
      let copy = fcntl(source, F_DUPFD_CLOEXEC, childFDNumber + 1)
      guard copy >= 0 else { throw .current("fcntl(F_DUPFD_CLOEXEC)", "fd \(source)") }
      staged.append(copy)
      try check(
        posix_spawn_file_actions_adddup2(&actions, copy, target),
        "posix_spawn_file_actions_adddup2")
    }
    func connect(_ stream: StandardStream, at target: Int32) throws(SystemError) {
      switch stream {
      case .inherit: break
      case .fd(let source): try place(source, at: target)
      case .null:
        try check(
          posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0),
          "posix_spawn_file_actions_addopen")
      }
    }
    try connect(standardInput, at: 0)
    try connect(standardOutput, at: 1)
    try connect(standardError, at: 2)
    if let childFD { try place(childFD, at: childFDNumber) }
    if let workingDirectory {
      try check(
        drover_spawn_file_actions_addchdir(&actions, workingDirectory),
        "posix_spawn_file_actions_addchdir_np")
    }
    try check(
      drover_spawn_file_actions_addclosefrom(&actions, childFD == nil ? 3 : childFDNumber + 1),
      "posix_spawn_file_actions_addclosefrom_np")

    var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
    switch processGroup {
    case .inherit: break
    case .newGroup:
      flags |= Int32(POSIX_SPAWN_SETPGROUP)
      try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
    case .newSession:
      flags |= Int32(drover_spawn_flag_setsid())
    }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    try check(posix_spawnattr_setsigmask(&attributes, &emptyMask), "posix_spawnattr_setsigmask")
    // Every signal back to SIG_DFL: only ignored ones matter (exec resets handled ones), and
    // the set of signals someone may have ignored is open-ended. SIGKILL/SIGSTOP cannot be set.
    var defaults = sigset_t()
    sigfillset(&defaults)
    sigdelset(&defaults, SIGKILL)
    sigdelset(&defaults, SIGSTOP)
    try check(
      posix_spawnattr_setsigdefault(&attributes, &defaults), "posix_spawnattr_setsigdefault")
    try check(posix_spawnattr_setflags(&attributes, Int16(flags)), "posix_spawnattr_setflags")

    let argv = CStringArray([argv0 ?? executable] + arguments)
    defer { argv.free() }
    let envp: CStringArray? =
      switch environment {
      case .inherit: nil
      case .inheritWith(let overrides, let removing):
        CStringArray(inheritedEnvironment(overrides: overrides, removing: removing))
      case .exactly(let variables): CStringArray(variables.map { "\($0.key)=\($0.value)" })
      }
    defer { envp?.free() }

    var pid: pid_t = 0
    let result = argv.withPointer { argvPointer in
      let spawn = searchPath ? posix_spawnp : posix_spawn
      if let envp {
        return envp.withPointer { spawn(&pid, executable, &actions, &attributes, argvPointer, $0) }
      }
      return spawn(&pid, executable, &actions, &attributes, argvPointer, environ)
    }
    try check(result, searchPath ? "posix_spawnp" : "posix_spawn")
    return pid
  }

  /// The current environment as `NAME=value` strings, minus `removing` and the names in
  /// `overrides`, plus `overrides`.
  static func inheritedEnvironment(overrides: [String: String], removing: [String]) -> [String] {
    let dropped = Set(removing).union(overrides.keys)
    var result: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
      let variable = String(cString: pointer)
      let name = variable.split(separator: "=", maxSplits: 1).first.map(String.init) ?? variable
      if !dropped.contains(name) { result.append(variable) }
      entry += 1
    }
    for (name, value) in overrides { result.append("\(name)=\(value)") }
    return result
  }
}

/// A NULL-terminated array of C strings (argv/envp) that lives until ``free()``.
struct CStringArray {
  private let pointers: [UnsafeMutablePointer<CChar>?]

  init(_ strings: [String]) {
    pointers = strings.map { strdup($0) } + [nil]
  }

  func withPointer<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }

  func free() {
    for pointer in pointers { Glibc.free(pointer) }
  }
}
