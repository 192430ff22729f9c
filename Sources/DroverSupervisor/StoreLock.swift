import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// One supervisor per store file: an exclusive `flock` on `STORE.lock`, held for the
/// supervisor's life and released by the kernel if it dies (so a SIGKILLed supervisor never
/// blocks its successor).
enum StoreLock {
  static func acquire(storePath: String) throws(SupervisorError) -> Int32 {
    let path = storePath + ".lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
    guard fd >= 0 else {
      throw SupervisorError("cannot open lock file \(path): \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      var buf = [UInt8](repeating: 0, count: 32)
      let n = read(fd, &buf, 31)
      close(fd)
      let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).filter(\.isNumber) : "?"
      throw SupervisorError(
        "another supervisor (pid \(holder)) is running on \(storePath); only one may own a store")
    }
    _ = ftruncate(fd, 0)
    let pid = String(getpid()) + "\n"
    _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    return fd
  }
}

/// A supervisor start-up or run-time failure, with what went wrong.
public struct SupervisorError: Error, Sendable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
