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

/// Reads a small text file (under 4 KiB, like `/proc` entries) without Foundation.
func readSmallFile(_ path: String) -> String? {
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
