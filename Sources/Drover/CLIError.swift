/// A command's failure: one line for stderr (printed as `drover: <message>`) and an exit code.
///
/// Exit codes are part of the CLI's contract: 1 for a runtime failure (store, config, a job in
/// the wrong state), 64 (`EX_USAGE`) for a bad argument value the parser itself cannot check
/// (a malformed `--delay`, JSON that is not an object, an unknown state name).
struct CLIError: Error, CustomStringConvertible {
  /// What went wrong, without the `drover: ` prefix.
  var message: String
  /// The process exit code.
  var exitCode: Int32

  /// A runtime failure (exit 1).
  init(_ message: String, exitCode: Int32 = 1) {
    self.message = message
    self.exitCode = exitCode
  }

  /// A bad argument value (exit 64, `EX_USAGE`).
  static func usage(_ message: String) -> CLIError { CLIError(message, exitCode: 64) }

  var description: String { message }
}
