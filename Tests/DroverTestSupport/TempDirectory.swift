import Foundation

/// A fresh, uniquely named directory under `/tmp` (or `$TMPDIR`), removed with everything in it
/// when the object goes away or `cleanup()` is called.
///
/// Keep the object alive for as long as its files are in use (`withExtendedLifetime`, or hold
/// it in a fixture next to what uses it).
public final class TempDirectory: Sendable {
  /// The directory's absolute path, without a trailing slash.
  public let path: String

  /// Creates the directory, named `<prefix>.XXXXXX`.
  public init(prefix: String = "drover") throws {
    let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
    var template = Array("\(base ?? "/tmp")/\(prefix).XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
      throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    path = String(cString: made)
  }

  deinit { cleanup() }

  /// The path of `name` inside the directory (nothing is created).
  public func file(_ name: String) -> String { path + "/" + name }

  /// Removes the directory and its contents now; harmless when already gone.
  public func cleanup() {
    try? FileManager.default.removeItem(atPath: path)
  }
}
