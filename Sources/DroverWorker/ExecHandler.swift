import DroverCore
import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The `exec` handler: runs the pool's command with the payload on stdin.
///
/// Protocol (CONTRACT.md): stdout lines `PROGRESS <0-100>` report progress; exit 0 completes;
/// exit 75 (EX_TEMPFAIL) or death by a signal is retryable; any other exit is permanent. The
/// last 4 KiB of stderr become the error text. On cancel the command gets SIGTERM, then
/// SIGKILL after `killGrace`.
enum ExecHandler {
  static let killGrace: Duration = .seconds(5)
  static let stderrKeep = 4096
  /// Serialises pipe creation and spawn across executor threads (see `cloexecPipe`).
  static let spawnLock = Monitor()

  static func run(command: [String], context ctx: JobContext) -> JobOutcome {
    var inPipe: [Int32] = [0, 0]
    var outPipe: [Int32] = [0, 0]
    var errPipe: [Int32] = [0, 0]
    spawnLock.lock()
    var locked = true
    defer { if locked { spawnLock.unlock() } }
    guard cloexecPipe(&inPipe), cloexecPipe(&outPipe), cloexecPipe(&errPipe) else {
      return .retryable("exec: pipe failed: \(String(cString: strerror(errno)))")
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    let rc =
      command[0].contains("/")
      ? posix_spawn(&pid, command[0], &actions, nil, argv, environ)
      : posix_spawnp(&pid, command[0], &actions, nil, argv, environ)
    close(inPipe[0])
    close(outPipe[1])
    close(errPipe[1])
    spawnLock.unlock()
    locked = false
    guard rc == 0 else {
      close(inPipe[1])
      close(outPipe[0])
      close(errPipe[0])
      return .permanent("exec: cannot start \(command[0]): \(String(cString: strerror(rc)))")
    }

    var stdinBytes = Array(ctx.payload.utf8)
    var stdinOff = 0
    _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)
    var stdinFD: Int32 = inPipe[1]
    if stdinBytes.isEmpty {
      close(stdinFD)
      stdinFD = -1
    }
    var outFD = outPipe[0]
    var errFD = errPipe[0]
    var lineBuf: [UInt8] = []
    var errTail: [UInt8] = []
    var killAt: Int64? = nil
    var sentKill = false
    var buf = [UInt8](repeating: 0, count: 8192)

    while outFD >= 0 || errFD >= 0 {
      if ctx.isCancelled && killAt == nil {
        kill(pid, SIGTERM)
        killAt = Monotonic.nanoseconds() + killGrace.microseconds * 1000
      }
      if let k = killAt, !sentKill, Monotonic.nanoseconds() >= k {
        kill(pid, SIGKILL)
        sentKill = true
      }
      var fds: [pollfd] = []
      if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
      if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
      if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
      let n = poll(&fds, nfds_t(fds.count), 100)
      if n < 0 && errno != EINTR { break }
      for p in fds where p.revents != 0 {
        if p.fd == stdinFD {
          let w = stdinBytes.withUnsafeBytes {
            write(stdinFD, $0.baseAddress! + stdinOff, $0.count - stdinOff)
          }
          if w > 0 { stdinOff += w }
          if w < 0 && errno != EAGAIN && errno != EINTR || stdinOff == stdinBytes.count {
            close(stdinFD)
            stdinFD = -1
            stdinBytes = []
          }
          continue
        }
        let r = buf.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
        if r < 0 && (errno == EINTR || errno == EAGAIN) { continue }
        if r <= 0 {
          close(p.fd)
          if p.fd == outFD { outFD = -1 } else { errFD = -1 }
          continue
        }
        if p.fd == outFD {
          for byte in buf[0..<r] {
            if byte == 0x0A {
              reportProgressLine(lineBuf, ctx)
              lineBuf.removeAll(keepingCapacity: true)
            } else if lineBuf.count < 256 {
              lineBuf.append(byte)
            }
          }
        } else {
          errTail.append(contentsOf: buf[0..<r])
          if errTail.count > stderrKeep * 2 { errTail.removeFirst(errTail.count - stderrKeep) }
        }
      }
    }
    if stdinFD >= 0 { close(stdinFD) }
    reportProgressLine(lineBuf, ctx)

    var status: Int32 = 0
    while true {
      let w = waitpid(pid, &status, killAt == nil ? 0 : WNOHANG)
      if w == pid { break }
      if w < 0 && errno != EINTR { return .retryable("exec: waitpid failed") }
      // Cancelled: the command closed its pipes but is still alive; keep staging the kill.
      if w == 0 {
        if let k = killAt, !sentKill, Monotonic.nanoseconds() >= k {
          kill(pid, SIGKILL)
          sentKill = true
        }
        var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
        nanosleep(&ts, nil)
      }
    }
    if errTail.count > stderrKeep { errTail.removeFirst(errTail.count - stderrKeep) }
    let errText = String(decoding: errTail, as: UTF8.self)
    let exited = status & 0x7f == 0
    if ctx.isCancelled { return .cancelled }
    if exited {
      let code = (status >> 8) & 0xff
      if code == 0 { return .completed }
      let message = errText.isEmpty ? "command exited with status \(code)" : errText
      return code == 75 ? .retryable(message) : .permanent(message)
    }
    let sig = status & 0x7f
    return .retryable(errText.isEmpty ? "command killed by signal \(sig)" : errText)
  }

  /// pipe() then FD_CLOEXEC (pipe2 is hidden behind _GNU_SOURCE in Glibc's Swift module).
  /// Callers hold `spawnLock`, so a sibling thread's spawn cannot inherit an end in the gap.
  static func cloexecPipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
  }

  static func reportProgressLine(_ line: [UInt8], _ ctx: JobContext) {
    guard line.count > 9 else { return }
    let s = String(decoding: line, as: UTF8.self)
    guard s.hasPrefix("PROGRESS ") else { return }
    var rest = s.dropFirst(9)
    while rest.last == " " || rest.last == "\r" { rest = rest.dropLast() }
    if let n = Int(rest) { ctx.progress(n) }
  }
}
