#if canImport(Glibc)
  import Glibc
#endif

/// Where commands write. stdout carries only the parseable result (an id, a count, a table or
/// JSON); every note, warning and error goes to stderr.
enum Output {
  /// Writes `line` and a newline to stdout (buffered; flushed at exit).
  static func out(_ line: String) {
    print(line)
  }

  /// Writes `line` and a newline to stderr, unbuffered, after flushing stdout so the two
  /// streams interleave in order on a terminal.
  static func err(_ line: String) {
    fflush(nil)
    writeAll(2, line + "\n")
  }

  /// A note for the operator: `drover: <text>` on stderr.
  static func note(_ text: String) { err("drover: " + text) }

  /// A warning: `drover: warning: <text>` on stderr.
  static func warn(_ text: String) { err("drover: warning: " + text) }

  private static func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buf in
      var done = 0
      while done < buf.count {
        let n = write(fd, buf.baseAddress! + done, buf.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          return
        }
        done += n
      }
    }
  }
}
