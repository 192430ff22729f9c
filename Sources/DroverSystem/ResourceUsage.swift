import Glibc

/// Memory use of a process, for `max_rss` recycling.
public enum ResourceUsage {
  /// The resident set size of process `pid` in bytes, from `/proc/PID/statm` (resident pages
  /// × page size); `nil` if the process does not exist (or `/proc` is not readable).
  ///
  /// It counts shared pages (the mapped Swift runtime, shared libraries) in full, like `ps`;
  /// an exited but un-reaped child reads as 0.
  public static func rss(of pid: Int32) -> UInt64? {
    guard let text = readSmallFile("/proc/\(pid)/statm") else { return nil }
    // statm: size resident shared text lib data dt (pages).
    let fields = text.split(separator: " ")
    guard fields.count >= 2, let pages = UInt64(fields[1]) else { return nil }
    return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
  }
}

extension ResourceUsage {
  /// CPU time (user + system) process `pid` has used, from `/proc/PID/stat`; nil if it does
  /// not exist. Clock-tick resolution (10 ms): for benchmark figures over seconds of work.
  public static func cpuTime(of pid: Int32) -> Duration? {
    guard let text = readSmallFile("/proc/\(pid)/stat"),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // After "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Int64(fields[11]), let system = Int64(fields[12]) else {
      return nil
    }
    let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
    return .microseconds((user + system) * 1_000_000 / max(1, hz))
  }
}

/// One reading of a process's resources from `/proc/PID/stat` (one small read).
public struct ProcessSample: Sendable, Hashable {
  /// CPU time (user + system) of the process and of the children it has reaped (`cutime`,
  /// `cstime`): a worker's finished exec commands count, running ones once they exit.
  /// Clock-tick resolution (10 ms).
  public var cpu: Duration
  /// The process's own resident set size in bytes (not its children's).
  public var rss: UInt64
  public init(cpu: Duration, rss: UInt64) {
    self.cpu = cpu
    self.rss = rss
  }
}

extension ResourceUsage {
  /// CPU time and RSS of process `pid` from `/proc/PID/stat` alone, for the supervisor's
  /// periodic per-worker sample: one open and read, no `status` parse. nil if the process does
  /// not exist.
  public static func sample(of pid: Int32) -> ProcessSample? {
    guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
    return parseStat(text)
  }

  /// Parses a `/proc/PID/stat` line. After "(comm)" (which may hold spaces and parentheses,
  /// hence the last ")"), counting from state as field 3: utime 14, stime 15, cutime 16,
  /// cstime 17, rss 24 (pages).
  static func parseStat(_ text: String) -> ProcessSample? {
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 21, let user = Int64(fields[11]), let system = Int64(fields[12]),
      let childUser = Int64(fields[13]), let childSystem = Int64(fields[14]),
      let pages = Int64(fields[21])
    else { return nil }
    let hz = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
    let ticks = user + system + childUser + childSystem
    return ProcessSample(
      cpu: .microseconds(ticks * 1_000_000 / hz),
      rss: UInt64(max(0, pages)) * UInt64(sysconf(Int32(_SC_PAGESIZE))))
  }

  /// CPU time (user + system) this process has used, all threads (`getrusage(RUSAGE_SELF)`).
  public static func selfCPU() -> Duration {
    var ru = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &ru) == 0 else { return .zero }
    return Duration(ru.ru_utime) + Duration(ru.ru_stime)
  }

  /// This process's peak resident set size in bytes since it started or since the last
  /// ``resetSelfPeakRSS()`` (`VmHWM` in `/proc/self/status`); nil when unreadable.
  ///
  /// Not `getrusage`'s `ru_maxrss`: that also keeps the peak of the memory the process was
  /// spawned from (posix_spawn's vfork shares the parent's until the exec), never reset.
  public static func selfPeakRSS() -> UInt64? {
    guard let text = readSmallFile("/proc/self/status"),
      let key = text.utf8.firstRange(of: "VmHWM:".utf8)
    else { return nil }
    // "VmHWM:\t   12345 kB": the digits after the key's blanks.
    let digits = text.utf8[key.upperBound...].drop { $0 == 0x20 || $0 == 0x09 }
      .prefix { $0 >= 0x30 && $0 <= 0x39 }
    let kb = UInt64(String(decoding: digits, as: UTF8.self))
    return kb.map { $0 * 1024 }
  }

  /// Resets this process's peak RSS to its current RSS (`5` into `/proc/self/clear_refs`), so
  /// the next ``selfPeakRSS()`` is the peak since now. False when the kernel refused.
  @discardableResult
  public static func resetSelfPeakRSS() -> Bool {
    let fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { FD.close(fd) }
    return write(fd, "5", 1) == 1
  }
}

/// Reads a small text file (under 4 KiB, like `/proc` entries) without Foundation.
public func readSmallFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { FD.close(fd) }
  var bytes = [UInt8](repeating: 0, count: 4096)
  var count = 0
  while count < bytes.count {
    let n = bytes.withUnsafeMutableBytes { raw in
      retryOnInterrupt { read(fd, raw.baseAddress! + count, raw.count - count) }
    }
    if n < 0 { return nil }
    if n == 0 { break }
    count += n
  }
  return String(decoding: bytes[..<count], as: UTF8.self)
}
