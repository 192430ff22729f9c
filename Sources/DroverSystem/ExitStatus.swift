/// How a child process ended, decoded from a wait status.
///
/// ``description`` is the text that goes on a failed attempt: "exited with status 3",
/// "exited on signal 9", "exited on signal 11 (core dumped)". Prefix it with the subject
/// ("worker 4121 exited on signal 9").
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
  /// The process called exit(code) or returned from main; `code` is 0–255.
  case exited(Int32)
  /// A signal killed the process (SIGKILL from the OOM killer or an operator, SIGSEGV, …).
  case signaled(Int32, coreDumped: Bool)

  /// Decodes a raw status from waitpid(2). Returns `nil` for a stop/continue report, which
  /// Drover never asks for (no `WUNTRACED`/`WCONTINUED`).
  init?(waitStatus status: Int32) {
    // WIFEXITED/WIFSIGNALED and friends are C macros that Swift cannot import.
    let low = status & 0x7f
    if low == 0 {
      self = .exited((status >> 8) & 0xff)
    } else if low != 0x7f && status & 0xffff != 0xffff {
      self = .signaled(low, coreDumped: status & 0x80 != 0)
    } else {
      return nil
    }
  }

  /// `true` only for `.exited(0)`.
  public var isSuccess: Bool { self == .exited(0) }

  public var description: String {
    switch self {
    case .exited(let code): "exited with status \(code)"
    case .signaled(let signal, let core):
      "exited on signal \(signal)\(core ? " (core dumped)" : "")"
    }
  }
}
