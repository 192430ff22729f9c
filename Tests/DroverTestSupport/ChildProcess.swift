import Foundation
import Synchronization

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
  /// `exit(code)`.
  case exited(Int32)
  /// Killed by this signal.
  case signaled(Int32)

  public var description: String {
    switch self {
    case .exited(let c): "exit \(c)"
    case .signaled(let s): "signal \(s)"
    }
  }
}

/// What a finished child printed and how it ended.
public struct ProcessOutput: Sendable {
  public var status: ExitStatus
  public var stdout: [UInt8]
  public var stderr: [UInt8]

  /// The exit code, or nil when a signal ended the process.
  public var exitCode: Int32? {
    if case .exited(let c) = status { return c }
    return nil
  }

  /// stdout as UTF-8 text.
  public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
  /// stderr as UTF-8 text.
  public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
  /// stdout without its trailing newline(s), the usual shape of a one-value answer.
  public var trimmedStdout: String {
    var s = stdoutText
    while s.last == "\n" { s.removeLast() }
    return s
  }
}

/// A child process that could not be started or did not finish in time.
public struct ChildProcessError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Runs real processes for tests, with bounded waits and no leaks.
///
/// Each child gets its own process group; whenever a child is abandoned (its handle goes away
/// unreaped, or a wait times out) the whole group is SIGKILLed and the child reaped, so a
/// failing test never leaves processes behind. stdin is fed from, and stdout/stderr captured
/// to, unlinked temporary files: no pipe can fill up and block the child while nobody reads.
public enum ChildProcess {
  /// Runs `executable` with `arguments` to completion and returns its output. Throws when it
  /// cannot start or outlives `timeout` (it is then SIGKILLed, with its group).
  ///
  /// - Parameters:
  ///   - environment: the whole environment; nil inherits this process's.
  ///   - stdin: bytes the child reads on stdin, then end of file.
  ///   - workingDirectory: the child's current directory; nil keeps this process's.
  public static func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    stdin: [UInt8] = [], workingDirectory: String? = nil, timeout: Duration = .seconds(60)
  ) throws -> ProcessOutput {
    let child = try start(
      executable, arguments, environment: environment, stdin: stdin,
      workingDirectory: workingDirectory)
    return try child.waitForExit(timeout: timeout)
  }

  /// Starts `executable` in the background; see `run` for the parameters. Keep the handle for
  /// as long as the child should live: dropping it kills the child's process group.
  public static func start(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    stdin: [UInt8] = [], workingDirectory: String? = nil
  ) throws -> RunningChild {
    let input = try TempFile()
    try input.write(stdin)
    let out = try TempFile()
    let err = try TempFile()

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // dup2 clears close-on-exec on the child's copies; the originals stay close-on-exec, so
    // children started concurrently by other tests do not inherit them.
    posix_spawn_file_actions_adddup2(&actions, input.fd, 0)
    posix_spawn_file_actions_adddup2(&actions, out.fd, 1)
    posix_spawn_file_actions_adddup2(&actions, err.fd, 2)
    if let workingDirectory {
      guard let addChdir = addChdir else {
        throw ChildProcessError("this libc has no posix_spawn_file_actions_addchdir_np")
      }
      _ = addChdir(&actions, workingDirectory)
    }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    setChildAttributes(&attributes)

    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let argv = [executable] + arguments
    var pid: pid_t = 0
    let rc = withCStrings(argv) { cArgv in
      withCStrings(env) { cEnv in
        executable.contains("/")
          ? posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
          : posix_spawnp(&pid, executable, &actions, &attributes, cArgv, cEnv)
      }
    }
    guard rc == 0 else {
      throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(rc)))")
    }
    return RunningChild(
      pid: pid, command: argv.joined(separator: " "), files: [input, out, err])
  }

  /// This process's environment with `changes` applied (a nil value removes the variable).
  public static func environment(_ changes: [String: String?]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in changes { env[k] = v }
    return env
  }

  private typealias AddChdir =
    @convention(c) (
      UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
    ) -> Int32

  /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+): the header declares it only under
  /// `_GNU_SOURCE`, which the Glibc module is not built with, so it is looked up at run time.
  private static let addChdir: AddChdir? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return nil }
    return unsafeBitCast(symbol, to: AddChdir.self)
  }()

  /// Own process group (so cleanup can kill descendants too), no inherited signal mask, and
  /// default dispositions for the signals tests send or a runner may ignore.
  static func setChildAttributes(_ attributes: inout posix_spawnattr_t) {
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
      sigaddset(&defaults, s)
    }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes,
      Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
  }

  /// A NULL-terminated array of C strings copied from `strings`, for `posix_spawn`.
  static func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
  ) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}

/// A started child process. Signal it, wait for it (always with a deadline), read what it has
/// printed so far. Dropping the handle of a child that was not waited for SIGKILLs its process
/// group and reaps it.
public final class RunningChild: Sendable {
  /// The child's pid (also its process group id).
  public let pid: Int32
  /// The command line, for messages.
  public let command: String
  private let files: [TempFile]
  private let status = Mutex<ExitStatus?>(nil)

  fileprivate init(pid: Int32, command: String, files: [TempFile]) {
    self.pid = pid
    self.command = command
    self.files = files
  }

  deinit {
    if status.withLock({ $0 == nil }) {
      _ = Glibc.kill(-pid, SIGKILL)
      _ = Glibc.kill(pid, SIGKILL)
      _ = reap(blocking: true)
    }
  }

  /// Sends `signal` to the child (not to its group). Harmless once the child was reaped.
  public func kill(_ signal: Int32) {
    status.withLock { s in
      if s == nil { _ = Glibc.kill(pid, signal) }
    }
  }

  /// Sends `signal` to the child's whole process group. Harmless once the child was reaped.
  public func killGroup(_ signal: Int32) {
    status.withLock { s in
      if s == nil { _ = Glibc.kill(-pid, signal) }
    }
  }

  /// The exit status if the child has ended (reaping it), else nil. Never blocks.
  public func poll() -> ExitStatus? { reap(blocking: false) }

  /// What the child has written to stdout so far.
  public func stdoutSoFar() -> [UInt8] { files[1].readAll() }
  /// What the child has written to stderr so far.
  public func stderrSoFar() -> [UInt8] { files[2].readAll() }

  /// Waits for the child to end and returns its output. After `timeout` the child's group is
  /// SIGKILLed, the child reaped, and an error thrown that carries its stderr so far.
  @discardableResult
  public func waitForExit(timeout: Duration) throws -> ProcessOutput {
    let deadline = ContinuousClock.now + timeout
    var pause = Duration.microseconds(200)
    while true {
      if let s = reap(blocking: false) {
        return ProcessOutput(status: s, stdout: files[1].readAll(), stderr: files[2].readAll())
      }
      if ContinuousClock.now >= deadline {
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
        _ = reap(blocking: true)
        let err = String(decoding: files[2].readAll().suffix(2000), as: UTF8.self)
        throw ChildProcessError(
          "\(command) did not exit within \(timeout); killed it. stderr so far: \(err)")
      }
      var ts = timespec(
        tv_sec: 0, tv_nsec: Int(pause.components.attoseconds / 1_000_000_000))
      nanosleep(&ts, nil)
      pause = min(pause * 2, .milliseconds(10))
    }
  }

  /// `waitpid` on this child only; records and returns the status once it ended.
  private func reap(blocking: Bool) -> ExitStatus? {
    ExitStatus.reap(pid, blocking: blocking, into: status)
  }
}

extension ExitStatus {
  /// `waitpid` on `pid` only, the status recorded in `status` once it ended (later calls
  /// answer from there). Nil while it runs (`blocking: false`).
  static func reap(_ pid: pid_t, blocking: Bool, into status: borrowing Mutex<ExitStatus?>)
    -> ExitStatus?
  {
    status.withLock { s in
      if let s { return s }
      var raw: Int32 = 0
      while true {
        let r = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
        if r == pid { break }
        if r == 0 { return nil }
        if errno == EINTR { continue }
        // ECHILD: someone else reaped it; nothing more can be learnt.
        s = .signaled(0)
        return s
      }
      // WIFEXITED / WTERMSIG are C macros that Swift does not import.
      s = raw & 0x7f == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
      return s
    }
  }
}

/// An unlinked temporary file, open read-write and close-on-exec; closed on deinit.
final class TempFile: Sendable {
  let fd: Int32

  init() throws {
    let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
    var template = Array("\(base ?? "/tmp")/drover-child.XXXXXX".utf8CString)
    // mkostemp(O_CLOEXEC) is GNU-only and not in the Glibc module; a child spawned between
    // these two calls may inherit the fd, which for a plain file is harmless.
    let fd = mkstemp(&template)
    guard fd >= 0 else {
      throw ChildProcessError("cannot create a temp file: \(String(cString: strerror(errno)))")
    }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    unlink(template)
    self.fd = fd
  }

  deinit { close(fd) }

  /// Writes `bytes` at the start and rewinds, so a child reading this fd sees them all.
  func write(_ bytes: [UInt8]) throws {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw ChildProcessError("cannot write a temp file: \(String(cString: strerror(errno)))")
      }
      done += n
    }
    lseek(fd, 0, SEEK_SET)
  }

  /// The file's whole content (reads by offset; the shared file position is left alone).
  func readAll() -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var offset = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
      if n < 0, errno == EINTR { continue }
      if n <= 0 { break }
      result.append(contentsOf: chunk[0..<n])
      offset += n
    }
    return result
  }
}
