import CDroverShim
import Glibc

/// Re-executing this process in place (same pid) with some descriptors kept: the in-place
/// upgrade. State travels in a memfd, an anonymous file that lives as long as a descriptor
/// to it does.
public enum ExecInPlace {
  /// Creates a memfd holding `contents`, rewound, and inheritable across exec (no
  /// close-on-exec): the next program image reads it from the same descriptor number.
  public static func memfd(name: String, contents: [UInt8]) throws(SystemError) -> Int32 {
    let fd = drover_memfd_inheritable(name)
    guard fd >= 0 else { throw .current("memfd_create", name) }
    var done = 0
    while done < contents.count {
      let n = contents.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
      if n < 0 {
        if errno == EINTR { continue }
        let e = SystemError.current("write", "memfd \(name)")
        FD.close(fd)
        throw e
      }
      done += n
    }
    return fd
  }

  /// The whole content of a file descriptor, read by offset from its start.
  public static func readAll(_ fd: Int32) throws(SystemError) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes {
        pread(fd, $0.baseAddress, $0.count, off_t(result.count))
      }
      if n < 0 {
        if errno == EINTR { continue }
        throw .current("pread", "fd \(fd)")
      }
      if n == 0 { return result }
      result.append(contentsOf: chunk[0..<n])
    }
  }

  /// Sets or clears close-on-exec on `fd`.
  public static func setCloseOnExec(_ fd: Int32, _ on: Bool) throws(SystemError) {
    let flags = fcntl(fd, F_GETFD)
    guard flags >= 0 else { throw .current("fcntl(F_GETFD)", "fd \(fd)") }
    let new = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
    guard fcntl(fd, F_SETFD, new) == 0 else { throw .current("fcntl(F_SETFD)", "fd \(fd)") }
  }

  /// The executable file now at the path this process was started from: `/proc/self/exe`'s
  /// target without the ` (deleted)` the kernel appends once a package upgrade replaced it.
  public static func executableOnDisk() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    var path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
    return path
  }

  /// This process's environment as `NAME=value` strings.
  public static func environment() -> [String] {
    var result: [String] = []
    var p = environ
    while let entry = p.pointee {
      result.append(String(cString: entry))
      p += 1
    }
    return result
  }

  /// Replaces this program with `path`. Returns only when that failed (the error says why);
  /// this process then goes on unchanged. Descriptors without close-on-exec are kept, with
  /// their numbers; pid, parent, children, signal mask and ignored signals are kept too.
  public static func exec(path: String, arguments: [String], environment: [String]) -> SystemError {
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer {
      for p in argv { free(p) }
      for p in envp { free(p) }
    }
    execve(path, &argv, &envp)
    return .current("execve", path)
  }
}
