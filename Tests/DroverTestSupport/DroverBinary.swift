import Foundation

/// Finds the built `drover` executable for process-level tests.
///
/// Under `swift test`, `/proc/self/exe` is the test bundle, not `drover`; SwiftPM builds the
/// executable into the same folder, so the path is that folder plus `drover`. `DROVER_BINARY`
/// in the environment overrides the search (e.g. to test a release build).
public enum DroverBinary {
  /// A missing or unusable executable, with what to do about it.
  public struct NotFound: Error, CustomStringConvertible {
    public var description: String
  }

  /// The absolute path of the `drover` executable; throws `NotFound` when there is none.
  public static func path() throws -> String {
    if let explicit = ProcessInfo.processInfo.environment["DROVER_BINARY"], !explicit.isEmpty {
      guard access(explicit, X_OK) == 0 else {
        throw NotFound(description: "DROVER_BINARY=\(explicit) is not an executable file")
      }
      return explicit
    }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else {
      throw NotFound(
        description: "cannot read /proc/self/exe: \(String(cString: strerror(errno)))")
    }
    let me = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let folder = me.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    let candidate = folder + "/drover"
    guard access(candidate, X_OK) == 0 else {
      throw NotFound(
        description: "the drover executable is not at \(candidate) (beside the test bundle "
          + "\(me)): build it first, e.g. `swift build --product drover` with the same "
          + "--scratch-path, or set DROVER_BINARY")
    }
    return candidate
  }
}
