import CDroverShim

/// A pipe(2), for a child's stdin or stdout (the `exec` handler).
public enum PipePair {
  /// Creates a pipe with `O_CLOEXEC` on both ends.
  ///
  /// Writing to a pipe whose read end is closed raises SIGPIPE; see
  /// ``Signals/ignoreBrokenPipe()``.
  public static func make() throws(SystemError) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard drover_pipe_cloexec(&fds) == 0 else { throw .current("pipe2") }
    return (fds[0], fds[1])
  }
}
