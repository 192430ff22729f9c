import Glibc

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

/// The supervisor's per-worker sample and the worker's per-attempt figures. Both run on hot
/// paths (every 2 s per worker on the loop; every in-process attempt), so the `/proc` text is
/// scanned as bytes in a stack buffer: a few microseconds, most of it the kernel's.
extension ResourceUsage {
  /// CPU time and RSS of process `pid` from `/proc/PID/stat` alone: one open and read. nil if
  /// the process does not exist.
  public static func sample(of pid: Int32) -> ProcessSample? {
    withProcFile("/proc/\(pid)/stat") { parseStat($0) } ?? nil
  }

  /// Parses a `/proc/PID/stat` line. After "(comm)" (which may hold spaces and parentheses,
  /// hence the last ")"), counting from state as field 3: utime 14, stime 15, cutime 16,
  /// cstime 17, rss 24 (pages).
  static func parseStat(_ b: UnsafeBufferPointer<UInt8>) -> ProcessSample? {
    guard var i = b.lastIndex(of: UInt8(ascii: ")")) else { return nil }
    i += 1
    // Fields after the comm: 0 is state (field 3), so field N is index N - 3.
    var values = [Int64](repeating: -1, count: 22)
    var field = -1
    while i < b.count && field < 21 {
      while i < b.count && b[i] == 0x20 { i += 1 }
      guard i < b.count, b[i] != 0x0A else { break }
      field += 1
      var n: Int64 = 0
      var digits = 0
      while i < b.count && b[i] != 0x20 && b[i] != 0x0A {
        if b[i] >= 0x30 && b[i] <= 0x39, digits < 18 {
          n = n * 10 + Int64(b[i] - 0x30)
          digits += 1
        }
        i += 1
      }
      if digits > 0 { values[field] = n }
    }
    let wanted = [11, 12, 13, 14, 21].map { values[$0] }
    guard field >= 21, wanted.allSatisfy({ $0 >= 0 }) else { return nil }
    let hz = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
    let ticks = wanted[0] + wanted[1] + wanted[2] + wanted[3]
    return ProcessSample(
      cpu: .microseconds(ticks * 1_000_000 / hz),
      rss: UInt64(wanted[4]) * UInt64(sysconf(Int32(_SC_PAGESIZE))))
  }

  /// CPU time (user + system) this process has used, all threads (`getrusage(RUSAGE_SELF)`).
  public static func selfCPU() -> Duration {
    AttemptUsage.rusageNow()?.cpu ?? .zero
  }

  /// This process's peak resident set size in bytes since it started or since the last
  /// ``AttemptUsage/resetPeak()`` (`VmHWM` in `/proc/self/status`); nil when unreadable.
  ///
  /// Not `getrusage`'s `ru_maxrss`: that also keeps the peak of the memory the process was
  /// spawned from (posix_spawn's vfork shares the parent's until the exec), never reset.
  public static func selfPeakRSS() -> UInt64? {
    withProcFile("/proc/self/status") { kilobytes(after: "\nVmHWM:", in: $0) }?.map { $0 * 1024 }
  }

  /// The number after `key` and its blanks ("VmHWM:\t   12345 kB").
  static func kilobytes(after key: StaticString, in b: UnsafeBufferPointer<UInt8>) -> UInt64? {
    let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
    var i = 0
    while i + k.count <= b.count {
      if b[i] == k[0] && b[i + 1] == k[1]
        && memcmp(b.baseAddress! + i, k.baseAddress!, k.count) == 0
      {
        var j = i + k.count
        while j < b.count && (b[j] == 0x20 || b[j] == 0x09) { j += 1 }
        return decimal(at: j, in: b)
      }
      i += 1
    }
    return nil
  }

  /// The resident set size in bytes from `/proc/PID/statm`'s text ("size resident shared …",
  /// in pages): its second number.
  static func residentBytes(statm b: UnsafeBufferPointer<UInt8>) -> UInt64? {
    guard let space = b.firstIndex(of: 0x20), let pages = decimal(at: space + 1, in: b) else {
      return nil
    }
    return pages * pageSize
  }

  /// The decimal digits starting at `i` (at most 18); nil when there are none.
  static func decimal(at i: Int, in b: UnsafeBufferPointer<UInt8>) -> UInt64? {
    var j = i
    var n: UInt64 = 0
    while j < b.count && b[j] >= 0x30 && b[j] <= 0x39 && j - i < 18 {
      n = n * 10 + UInt64(b[j] - 0x30)
      j += 1
    }
    return j > i ? n : nil
  }

  static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

  /// Reads a `/proc` file (under 4 KiB) into a stack buffer and hands its bytes to `body`;
  /// nil when it cannot be opened or read.
  static func withProcFile<R>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { FD.close(fd) }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf -> R? in
      var count = 0
      while count < buf.count {
        let n = retryOnInterrupt { read(fd, buf.baseAddress! + count, buf.count - count) }
        if n < 0 { return nil }
        if n == 0 { break }
        count += n
      }
      return body(UnsafeBufferPointer(rebasing: buf[..<count]))
    }
  }
}
