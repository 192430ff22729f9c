import Glibc

/// The running program's file.
public enum SelfExecutable {
  /// The path `/proc/self/exe` links to: the absolute path of the running binary.
  ///
  /// For display and logs. To spawn another copy of the running program, pass
  /// `"/proc/self/exe"` itself to ``ProcessSpawner``: if the binary was replaced on disk (a
  /// package upgrade) this path ends in `" (deleted)"` or names the *new* version, while
  /// `/proc/self/exe` still opens the running one. Under `swift test` it is the test runner.
  ///
  /// Falls back to `"/proc/self/exe"` itself if the link cannot be read (no `/proc`), which is
  /// still a path posix_spawn accepts.
  public static func path() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return "/proc/self/exe" }
    return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
