import DroverCore
import DroverSystem

/// The `exec` handler: runs the pool's command with the payload on stdin.
///
/// Protocol (CONTRACT.md): the command gets `DROVER_JOB_ID`, `DROVER_JOB_TYPE`,
/// `DROVER_ATTEMPT` and `DROVER_MAX_ATTEMPTS` in its environment; stdout lines are read as
/// ``ExecStdout`` says (`PROGRESS`, `SNOOZE`, `RETRY-AFTER`; other lines and stderr lines are
/// logged with the job's metadata, rate-limited). Exit 0 completes, exit 75 (EX_TEMPFAIL) or death
/// by a signal is retryable, any other exit is permanent; the error text names the exit status
/// and keeps the last 4 KiB of stderr. A `SNOOZE` line turns exit 0 or 75 into `.snooze`; a
/// failing exit or a signal wins over it (a crash after the request must still spend an
/// attempt, or a command that always crashes would snooze forever). On cancel the command gets
/// SIGTERM, then SIGKILL after ``killGrace``, and the outcome is `.cancelled`.
///
/// The command stays in the worker's process group (the worker leads it): the worker's
/// SIGTERM handler and its orphan path SIGKILL that group, so no command outlives its worker,
/// even when the supervisor is SIGKILLed.
///
/// Several executor threads may spawn at once with no lock around pipe creation and spawn.
/// The danger such a lock guarded against is a sibling's child inheriting one of our pipe
/// ends: a leaked stdout/stderr write end keeps our read from ever seeing end-of-file (we
/// would wait for a stranger's command to exit), a leaked stdin read end keeps our command
/// from seeing EPIPE. Neither can happen now: ``PipePair/make()`` creates both ends with
/// `O_CLOEXEC` atomically (pipe2), so there is no moment when a concurrent exec could carry an
/// end across; and ``ProcessSpawner`` closes every descriptor above 2 in the child anyway
/// (close-on-exec or not), duplicating only the three ends it was given onto 0–2 of that one
/// child (through close-on-exec copies of its own).
enum ExecHandler {
  static let killGrace: Duration = .seconds(5)
  static let stderrKeep = 4096
  /// How often the I/O loop and the final wait look at the cancel flag.
  static let tick: Duration = .milliseconds(100)

  /// Runs one attempt; returns its outcome and, once the command was reaped, what it used
  /// (from `wait4`: see ``ChildUsage``).
  static func run(command: [String], context ctx: JobContext) -> (JobOutcome, ChildUsage?) {
    var usage: ChildUsage?
    let outcome = run(command: command, context: ctx, usage: &usage)
    return (outcome, usage)
  }

  private static func run(
    command: [String], context ctx: JobContext, usage: inout ChildUsage?
  ) -> JobOutcome {
    var pipes: [Int32] = []
    defer { for fd in pipes { FD.close(fd) } }
    let input: (read: Int32, write: Int32)
    let output: (read: Int32, write: Int32)
    let errors: (read: Int32, write: Int32)
    let epoll: Epoll
    do {
      input = try PipePair.make()
      pipes += [input.read, input.write]
      output = try PipePair.make()
      pipes += [output.read, output.write]
      errors = try PipePair.make()
      pipes += [errors.read, errors.write]
      // Our ends never block: the loop below only reads and writes what epoll says is ready,
      // and O_NONBLOCK sits on our open file descriptions, not on the child's.
      for fd in [input.write, output.read, errors.read] { try FD.setNonBlocking(fd) }
      epoll = try Epoll(maxEvents: 3)
    } catch {
      return .retryable("exec: \(error)")
    }

    let pid: Int32
    do {
      pid = try ExecChildren.shared.start { () throws(SystemError) in
        try ProcessSpawner.spawn(
          executable: command[0], arguments: Array(command.dropFirst()),
          environment: .inheritWith(overrides: environment(for: ctx)),
          standardInput: .fd(input.read), standardOutput: .fd(output.write),
          standardError: .fd(errors.write),
          // As posix_spawnp does: a name with a slash is a path, without one a PATH search.
          searchPath: !command[0].contains("/"))
      }
    } catch {
      return .permanent("exec: cannot start \(command[0]): \(error.message)")
    }
    // The child has its copies; ours of its ends must go, or we never see end-of-file.
    for fd in [input.read, output.write, errors.write] { FD.close(fd) }
    pipes = []

    var commandLogger = ctx.logger
    commandLogger[metadataKey: "command_pid"] = "\(pid)"
    let lineLog = ExecLineLog(logger: commandLogger)
    var io = CommandIO(
      pid: pid, stdin: input.write, stdout: output.read, stderr: errors.read, epoll: epoll,
      payload: Array(ctx.payload.utf8), progress: { ctx.progress($0) }, log: lineLog)
    io.pump(until: { ctx.isCancelled })
    lineLog.finish()
    // Whatever the command left behind (a daemon that left our process group) dies with the
    // attempt: it was re-parented to this worker, a child subreaper.
    defer {
      ExecChildren.shared.ended(pid)
      ExecChildren.shared.sweepIfIdle()
    }

    // The command closed stdout and stderr, or exited while a leftover holds them; it may
    // still run (it closed them early, or a cancel is being staged). Keep watching the
    // cancel while it does.
    var status: ExitStatus? = io.exitStatus
    usage = io.usage
    while status == nil {
      if ctx.isCancelled { io.stageKill() }
      do {
        status = try ProcessReaper.waitForExit(pid, timeout: tick, usage: &usage)
      } catch {
        // No pidfd to wait on (EMFILE, say): do not leave the command running unwatched.
        try? Signals.send(signal: Signals.kill, to: pid)
        _ = try? ProcessReaper.waitForExit(pid)
        return .retryable("exec: \(error)")
      }
    }
    if ctx.isCancelled { return .cancelled }
    let result = outcome(
      status!, snooze: io.stdout.snooze, retryAfter: io.stdout.retryAfter, stderr: io.stderr.text)
    if case .completed = result {
      switch io.stdout.result {
      case .success(let json): ctx.setResult(json: json)
      case .failure(let e): return .permanent("the command exited 0 but \(e.message)")
      case nil: break
      }
    }
    return result
  }

  /// The `DROVER_*` variables, on top of the worker's own environment.
  static func environment(for ctx: JobContext) -> [String: String] {
    var env = [
      "DROVER_JOB_ID": String(ctx.id), "DROVER_JOB_TYPE": ctx.type,
      "DROVER_ATTEMPT": String(ctx.attempt), "DROVER_MAX_ATTEMPTS": String(ctx.maxAttempts),
      "DROVER_SNOOZES": String(ctx.snoozes),
    ]
    if let t = ctx.traceparent { env["TRACEPARENT"] = t }
    return env
  }

  /// How an attempt ended, from the command's exit and what it said. The error text's first
  /// line names the exit status whatever stderr holds; the stderr tail (4 KiB) follows as
  /// written, line breaks kept.
  static func outcome(
    _ exit: ExitStatus, snooze: Duration?, retryAfter: Duration? = nil, stderr: String
  ) -> JobOutcome {
    let message = stderr.isEmpty ? "command \(exit)" : "command \(exit)\n\(stderr)"
    switch exit {
    case .exited(0): return snooze.map { .snooze($0) } ?? .completed
    case .exited(75):
      if let retryAfter { return .rateLimited(retryAfter) }
      return snooze.map { .snooze($0) } ?? .retryable(message)
    case .exited: return .permanent(message)
    case .signaled: return .retryable(message)
    }
  }
}

/// The parent's side of one running command: feeds the payload to its stdin while draining its
/// stdout and stderr, so neither side can wait on the other (a command that never reads
/// stdin, or writes a lot before reading, cannot deadlock it).
struct CommandIO {
  private static let stdinSlot = 0
  private static let stdoutSlot = 1
  private static let stderrSlot = 2

  let pid: Int32
  /// Our ends of the command's stdin, stdout and stderr; nil once closed.
  private var fds: [Int32?]
  private let epoll: Epoll
  private let payload: [UInt8]
  private var written = 0
  private var killAt: Duration?
  private var sentKill = false
  private(set) var stdout: ExecStdout
  private(set) var stderr = StderrTail(keep: ExecHandler.stderrKeep)
  /// Where the command's own output lines are logged (nil: nowhere).
  private let log: ExecLineLog?
  private var stderrLines = LineSplitter(maxLine: ExecStdout.maxLine)
  /// Set when the command was reaped while its pipes were still open (a descendant holds
  /// them: a daemon it started).
  private(set) var exitStatus: ExitStatus?
  /// What the command used, once reaped here.
  private(set) var usage: ChildUsage?

  init(
    pid: Int32, stdin: Int32, stdout: Int32, stderr: Int32, epoll: Epoll, payload: [UInt8],
    progress: @escaping (Int) -> Void, log: ExecLineLog? = nil
  ) {
    self.pid = pid
    self.epoll = epoll
    self.payload = payload
    self.log = log
    self.stdout = ExecStdout(progress: progress, other: { log?.log($0, stream: "stdout") })
    fds = [stdin, stdout, stderr]
    let interests: [Epoll.Interest] = [.writable, .readable, .readable]
    for slot in fds.indices {
      // Cannot fail for a fresh pipe end; an unwatched one would stall the loop, so drop it.
      if (try? epoll.add(fds[slot]!, interest: interests[slot])) == nil { close(slot) }
    }
    if payload.isEmpty { close(Self.stdinSlot) }
  }

  /// Moves bytes until the command has closed stdout and stderr (normally: it exited), or it
  /// exited and the pipes stayed quiet for a tick (a leftover of it holds them open), then
  /// closes stdin if it is still open. Once `cancelled` returns true it stages the kill.
  mutating func pump(until cancelled: () -> Bool) {
    var buffer = [UInt8](repeating: 0, count: 8192)
    while fds[Self.stdoutSlot] != nil || fds[Self.stderrSlot] != nil {
      if cancelled() { stageKill() }
      let ready: [(fd: Int32, events: Epoll.Events)]
      do {
        ready = try epoll.wait(timeout: ExecHandler.tick)
      } catch {
        break  // Cannot happen with valid descriptors; the caller's wait still reaps.
      }
      if ready.isEmpty, let status = (try? ProcessReaper.reap(pid, usage: &usage)) ?? nil {
        exitStatus = status
        break
      }
      for (fd, _) in ready {
        guard let slot = fds.firstIndex(of: fd) else { continue }
        if slot == Self.stdinSlot {
          writeStdin(fd)
        } else if let n = read(slot, into: &buffer) {
          if slot == Self.stdoutSlot {
            stdout.feed(buffer[..<n])
          } else {
            stderr.append(buffer[..<n])
            if let log { stderrLines.feed(buffer[..<n]) { log.log($0, stream: "stderr") } }
          }
        }
      }
    }
    for slot in fds.indices { close(slot) }
    stdout.finish()
    if let log, let last = stderrLines.finish() { log.log(last, stream: "stderr") }
  }

  /// Cancel: SIGTERM at once, SIGKILL once ``ExecHandler/killGrace`` has passed. Call it on
  /// every turn after the cancel; it signals at most twice.
  mutating func stageKill() {
    // The pid cannot name a stranger: it is our child and not reaped until the wait after.
    guard let killAt else {
      try? Signals.send(signal: Signals.terminate, to: pid)
      killAt = Monotonic.now() + ExecHandler.killGrace
      return
    }
    if !sentKill, Monotonic.now() >= killAt {
      try? Signals.send(signal: Signals.kill, to: pid)
      sentKill = true
    }
  }

  private mutating func writeStdin(_ fd: Int32) {
    do {
      let n = try payload.withUnsafeBytes { raw in
        Result { () throws(SystemError) in
          try FD.write(fd, from: UnsafeRawBufferPointer(rebasing: raw[written...]))
        }
      }.get()
      written += n ?? 0
      if written == payload.count { close(Self.stdinSlot) }
    } catch {
      // EPIPE: the command closed its stdin (or exited) without reading it all. Its choice.
      close(Self.stdinSlot)
    }
  }

  /// Reads once from `slot`. Returns nil when nothing was ready after all, and at end of file
  /// or on a read error, which also close the slot.
  private mutating func read(_ slot: Int, into buffer: inout [UInt8]) -> Int? {
    guard let fd = fds[slot] else { return nil }
    do {
      guard let n = try FD.read(fd, into: &buffer) else { return nil }
      if n > 0 { return n }
    } catch {}
    close(slot)
    return nil
  }

  private mutating func close(_ slot: Int) {
    guard let fd = fds[slot] else { return }
    // Unwatch first: epoll tracks the open file, which the child still holds.
    try? epoll.remove(fd)
    FD.close(fd)
    fds[slot] = nil
  }
}
