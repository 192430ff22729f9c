import DroverCore
import DroverWire

/// One client of the control socket: a line reader and an ordered reply queue.
///
/// Requests may be pipelined. Replies go out in request order even though an `enqueue` reply
/// waits for its group commit while a `status` reply is ready at once: each request takes a
/// slot, and only the filled prefix of the slots is written.
///
/// Backpressure: a client that does not take its replies is not read any more (its requests
/// wait in its own socket buffer) while its output is above ``highWater`` or it has
/// ``maxInFlight`` requests unanswered, and is read again below ``lowWater``. It is dropped
/// when its output passes ``hardLimit`` or none of it was taken for `SupervisorOptions.clientStallLimit`.
final class ControlConnection {
  let fd: Int32
  let peerUID: UInt32
  var input: [UInt8] = []
  /// Where the unread part of `input` starts (lines are consumed by moving it; `compact`
  /// drops the consumed bytes once per batch instead of once per line).
  var inputStart = 0
  /// Reply slots in request order; nil until that request's answer is known.
  var slots: [String?] = []
  /// The absolute number of `slots[0]`: slot numbers stay valid as answered replies leave.
  var base = 0
  var output: [UInt8] = []
  var closing = false
  var wantsWritable = false
  /// A refused peer: told why, write side shut, its input discarded until EOF or a second
  /// passes (closing at once would turn the refusal into EPIPE for a client still writing).
  var refusedAt: MonotonicInstant?
  /// Handed to an event-streaming thread (`events`): the loop must not read, write or close
  /// it any more.
  var detached = false

  /// Reading is paused (backpressure): the loop does not watch the socket for input.
  var readPaused = false
  /// Complete request lines are waiting in `input` beyond this turn's share.
  var backlog = false
  /// When the client last took output (or had none pending): for ``stallLimit``.
  var lastProgress: MonotonicInstant

  /// Bytes of one request line at most; a longer line is refused and the peer dropped.
  /// Room for the largest `store.max_payload` plus the request's other fields.
  static let maxLine = Int(ConfigLimits.maxPayload.upperBound) + (64 << 10)
  /// Pending output above which the client is not read any more.
  static let highWater = 1 << 20
  /// Pending output below which a paused client is read again.
  static let lowWater = 256 << 10
  /// Pending output past which the client is dropped (reached only by a few huge replies:
  /// reading stops at the high-water mark).
  static let hardLimit = 16 << 20
  /// Unanswered requests (waiting for a commit or the store reader) at most.
  static let maxInFlight = 1024
  /// Requests handled per client per loop turn: one client cannot hold a turn.
  static let linesPerTurn = 256
  /// Connections served at once; more are told so in one line and closed.
  static let maxConnections = 256

  init(fd: Int32, peerUID: UInt32, now: MonotonicInstant) {
    self.fd = fd
    self.peerUID = peerUID
    self.lastProgress = now
  }

  /// Unread input bytes.
  var unread: Int { input.count - inputStart }

  /// Whether the client has taken too little of what it asked for to be read now, with
  /// hysteresis: once paused it resumes only well below the marks.
  var shouldPauseReading: Bool {
    if readPaused {
      return output.count > Self.lowWater || slots.count > Self.maxInFlight / 2
    }
    return output.count >= Self.highWater || slots.count >= Self.maxInFlight
  }

  /// Drops the consumed part of `input`.
  func compact() {
    guard inputStart > 0 else { return }
    input.removeSubrange(..<inputStart)
    inputStart = 0
  }

  /// Reserves the next reply slot.
  func reserve() -> Int {
    slots.append(nil)
    return base + slots.count - 1
  }

  /// Fills a slot and moves every complete leading reply to the output buffer.
  func fill(_ slot: Int, _ reply: String) {
    guard slot >= base, slot - base < slots.count else { return }
    slots[slot - base] = reply
    var n = 0
    while n < slots.count, let r = slots[n] {
      output.append(contentsOf: r.utf8)
      output.append(0x0A)
      n += 1
    }
    if n > 0 {
      slots.removeFirst(n)
      base += n
    }
  }

  /// Next whole line (without its newline), or nil when none is complete yet. A line that is
  /// not valid UTF-8 is a failure (to be answered with an error), never repaired to U+FFFD:
  /// a payload must not change silently on its way to the store.
  func nextLine() -> Result<String, ControlError>? {
    guard let nl = input[inputStart...].firstIndex(of: 0x0A) else { return nil }
    // The limit holds however the line arrived: whole in one read (its newline already here)
    // as well as still growing (see `answerLines`).
    if nl - inputStart > Self.maxLine {
      inputStart = nl + 1
      return .failure(ControlError("request line longer than \(Self.maxLine) bytes"))
    }
    var line = input[inputStart..<nl]
    if line.last == 0x0D { line = line.dropLast() }
    let s = String(validating: line, as: UTF8.self)
    inputStart = nl + 1
    guard let s else { return .failure(ControlError("the request line is not valid UTF-8")) }
    return .success(s)
  }
}
