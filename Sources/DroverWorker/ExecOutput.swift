import DroverCore
import DroverSystem
import Logging

/// The stdout half of the `exec` protocol (CONTRACT.md): a command talks to Drover in lines.
///
/// - `PROGRESS <0-100>` reports progress at once (an integer; out-of-range values are clamped
///   by ``JobContext/progress(_:)``).
/// - `SNOOZE <seconds>` asks to run again after that many seconds without spending an attempt
///   (a non-negative number, fractions allowed; the last such line wins). The handler turns it
///   into `.snooze` when the command then exits 0 or 75 (see ``ExecHandler``).
/// - `RETRY-AFTER <seconds>` says the command was rate-limited: with exit 75 the attempt is
///   `rateLimited` (no attempt spent; in a pool with limits the job's key is held that long,
///   elsewhere the job snoozes that long, counted against the pool's `max_snoozes`). With any
///   other exit it is ignored.
///
/// Every other line, and any malformed one, is the command's own output: it is logged (see
/// ``ExecLineLog``). A trailing `\r` or spaces are tolerated; a line longer than ``maxLine``
/// bytes keeps only its start (no protocol line is that long).
struct ExecStdout {
  static let maxLine = 1024
  /// Above this a SNOOZE is taken for a mistake and ignored (about 31 years).
  static let maxSnoozeSeconds = 1e9

  /// The last valid `SNOOZE` request so far.
  private(set) var snooze: Duration?
  /// The last valid `RETRY-AFTER` request so far.
  private(set) var retryAfter: Duration?
  /// The last `RESULT <json>` line's value, or why the last one was refused.
  private(set) var result: Result<JSONValue, ResultLineError>?
  /// A `RESULT` line may be this long (a result's own limit is `store.max_result`, checked
  /// by the supervisor); other lines are cut at `maxLine`.
  static let maxResultLine = (1 << 20) + 7
  private var lines = LineSplitter(maxLine: ExecStdout.maxResultLine, reserve: ExecStdout.maxLine)
  private let progress: (Int) -> Void
  private let other: (String) -> Void

  init(progress: @escaping (Int) -> Void, other: @escaping (String) -> Void = { _ in }) {
    self.progress = progress
    self.other = other
  }

  /// Feeds bytes read from the command's stdout; complete lines take effect now.
  mutating func feed(_ bytes: ArraySlice<UInt8>) {
    var got: [String] = []
    lines.feed(bytes) { got.append($0) }
    for line in got { handleLine(line) }
  }

  /// End of stdout: an unterminated last line counts too.
  mutating func finish() {
    if let last = lines.finish() { handleLine(last) }
  }

  private mutating func handleLine(_ line: String) {
    let text = Substring(line)
    if text.hasPrefix("PROGRESS "), let n = Int(text.dropFirst(9)) {
      progress(n)
    } else if text.hasPrefix("SNOOZE "), let d = Self.seconds(text.dropFirst(7)) {
      snooze = d
    } else if text.hasPrefix("RETRY-AFTER "), let d = Self.seconds(text.dropFirst(12)) {
      retryAfter = d
    } else if text.hasPrefix("RESULT ") {
      do {
        result = .success(try JSONValue.parse(String(text.dropFirst(7))))
      } catch {
        result = .failure(
          ResultLineError(
            message: line.hasSuffix("…")
              ? "its RESULT line is longer than \(ExecStdout.maxResultLine - 7) bytes"
              : "its RESULT line is not valid JSON: \(error)"))
      }
    } else if !text.isEmpty {
      other(line.utf8.count > ExecStdout.maxLine ? Self.cut(line) : line)
    }
  }

  /// A line cut at `maxLine` bytes (on a character boundary), marked with `…`.
  static func cut(_ line: String) -> String {
    var out = ""
    var n = 0
    for c in line {
      n += c.utf8.count
      if n > maxLine { break }
      out.append(c)
    }
    return out + "…"
  }

  private static func seconds(_ text: Substring) -> Duration? {
    guard let s = Double(text), s.isFinite, s >= 0, s <= maxSnoozeSeconds else { return nil }
    return .seconds(s)
  }
}

/// Splits a byte stream into lines: `\n`-terminated, a trailing `\r` and spaces dropped, each
/// cut at `maxLine` bytes (the cut marked with `…`), invalid UTF-8 repaired.
struct LineSplitter {
  let maxLine: Int
  private var line: [UInt8] = []
  private var cut = false

  init(maxLine: Int, reserve: Int? = nil) {
    self.maxLine = maxLine
    line.reserveCapacity(reserve ?? maxLine)
  }

  mutating func feed(_ bytes: ArraySlice<UInt8>, _ onLine: (String) -> Void) {
    for byte in bytes {
      if byte == UInt8(ascii: "\n") {
        onLine(take())
      } else if line.count < maxLine {
        line.append(byte)
      } else {
        cut = true
      }
    }
  }

  /// The unterminated last line, if any.
  mutating func finish() -> String? {
    line.isEmpty && !cut ? nil : take()
  }

  private mutating func take() -> String {
    defer {
      line.removeAll(keepingCapacity: true)
      cut = false
    }
    var text = Substring(String(decoding: line, as: UTF8.self))
    while text.last == " " || text.last == "\r" { text = text.dropLast() }
    return cut ? text + "…" : String(text)
  }
}

/// Logs a command's own output lines (stdout lines that are not protocol, every stderr line)
/// through the job's logger, so they carry its `job_id`, `type`, `attempt` and `worker_pid`.
///
/// Rate-limited per attempt (a token bucket: ``burst`` lines at once, ``perSecond`` after), so
/// a chatty command cannot flood the journal; what was dropped is counted and reported in one
/// line at the end of the attempt. Lines are cut at ``LineSplitter/maxLine`` bytes.
/// One per attempt, used only by its executor thread.
final class ExecLineLog {
  static let burst = 100.0
  static let perSecond = 20.0

  let logger: Logger
  private var tokens = ExecLineLog.burst
  private var last = Monotonic.now()
  private(set) var dropped = 0

  init(logger: Logger) { self.logger = logger }

  func log(_ line: String, stream: String) {
    let now = Monotonic.now()
    let elapsed = Double((now - last).microseconds) / 1e6
    last = now
    tokens = min(Self.burst, tokens + elapsed * Self.perSecond)
    guard tokens >= 1 else {
      dropped += 1
      return
    }
    tokens -= 1
    logger.info("\(line)", metadata: ["stream": "\(stream)"])
  }

  /// Reports the lines the rate limit dropped, if any.
  func finish() {
    guard dropped > 0 else { return }
    logger.warning(
      "\(dropped) lines of the command's output were not logged (more than \(Int(Self.perSecond)) a second)"
    )
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

/// Why a command's `RESULT` line was refused: the attempt fails permanently with this text.
struct ResultLineError: Error, Hashable {
  var message: String
}
