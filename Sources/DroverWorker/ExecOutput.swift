/// The stdout half of the `exec` protocol (CONTRACT.md): a command talks to Drover in lines.
///
/// - `PROGRESS <0-100>` reports progress at once (an integer; out-of-range values are clamped
///   by ``JobContext/progress(_:)``).
/// - `SNOOZE <seconds>` asks to run again after that many seconds without spending an attempt
///   (a non-negative number, fractions allowed; the last such line wins). The handler turns it
///   into `.snooze` when the command then exits 0 or 75 (see ``ExecHandler``).
/// - `RETRY-AFTER <seconds>` is not honoured yet: `JobOutcome` has no retryable failure with a
///   delay of its own, so the line is ignored and the usual backoff applies.
///
/// Every other line, and any malformed one, is the command's own output and is ignored. A
/// trailing `\r` or spaces are tolerated; a line longer than ``maxLine`` bytes keeps only its
/// start (no protocol line is that long).
struct ExecStdout {
  static let maxLine = 256
  /// Above this a SNOOZE is taken for a mistake and ignored (about 31 years).
  static let maxSnoozeSeconds = 1e9

  /// The last valid `SNOOZE` request so far.
  private(set) var snooze: Duration?
  private var line: [UInt8] = []
  private let progress: (Int) -> Void

  init(progress: @escaping (Int) -> Void) {
    self.progress = progress
    line.reserveCapacity(Self.maxLine)
  }

  /// Feeds bytes read from the command's stdout; complete lines take effect now.
  mutating func feed(_ bytes: ArraySlice<UInt8>) {
    for byte in bytes {
      if byte == UInt8(ascii: "\n") {
        handleLine()
      } else if line.count < Self.maxLine {
        line.append(byte)
      }
    }
  }

  /// End of stdout: an unterminated last line counts too.
  mutating func finish() { handleLine() }

  private mutating func handleLine() {
    defer { line.removeAll(keepingCapacity: true) }
    var text = Substring(String(decoding: line, as: UTF8.self))
    while text.last == " " || text.last == "\r" { text = text.dropLast() }
    if text.hasPrefix("PROGRESS "), let n = Int(text.dropFirst(9)) {
      progress(n)
    } else if text.hasPrefix("SNOOZE "), let s = Double(text.dropFirst(7)), s.isFinite,
      s >= 0, s <= Self.maxSnoozeSeconds
    {
      snooze = .seconds(s)
    }
  }
}

/// The last `keep` bytes of the command's stderr, for the error text of a failed attempt.
struct StderrTail {
  let keep: Int
  private var bytes: [UInt8] = []

  init(keep: Int) { self.keep = keep }

  mutating func append(_ chunk: ArraySlice<UInt8>) {
    bytes.append(contentsOf: chunk)
    // Trim in batches: at most 2×keep bytes are held, and trimming costs O(keep) per keep bytes.
    if bytes.count > keep * 2 { bytes.removeFirst(bytes.count - keep) }
  }

  /// The tail as text, line breaks kept. A cut that fell inside a UTF-8 sequence drops the
  /// sequence's leftover bytes rather than showing a replacement character.
  var text: String {
    var tail = bytes.suffix(keep)
    if bytes.count > keep {
      var dropped = 0
      while dropped < 3, let first = tail.first, first & 0xC0 == 0x80 {
        tail = tail.dropFirst()
        dropped += 1
      }
    }
    return String(decoding: tail, as: UTF8.self)
  }
}
