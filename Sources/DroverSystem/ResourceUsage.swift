import Glibc

/// Memory use of a process, for `max_rss` recycling.
public enum ResourceUsage {
  /// The resident set size of process `pid` in bytes, from `/proc/PID/statm` (resident pages
  /// × page size); `nil` if the process does not exist (or `/proc` is not readable).
  ///
  /// It counts shared pages (the mapped Swift runtime, shared libraries) in full, like `ps`;
  /// an exited but un-reaped child reads as 0.
  public static func rss(of pid: Int32) -> UInt64? {
    withProcFile("/proc/\(pid)/statm") { residentBytes(statm: $0) } ?? nil
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
