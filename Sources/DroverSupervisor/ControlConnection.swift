import DroverCore
import DroverWire

/// One client of the control socket: a line reader and an ordered reply queue.
///
/// Requests may be pipelined. Replies go out in request order even though an `enqueue` reply
/// waits for its group commit while a `status` reply is ready at once: each request takes a
/// slot, and only the filled prefix of the slots is written.
final class ControlConnection {
  let fd: Int32
  let peerUID: UInt32
  var input: [UInt8] = []
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

  /// Bytes of one request line at most; a longer line is refused and the peer dropped.
  /// Room for the largest `store.max_payload` plus the request's other fields.
  static let maxLine = Int(ConfigLimits.maxPayload.upperBound) + (64 << 10)

  init(fd: Int32, peerUID: UInt32) {
    self.fd = fd
    self.peerUID = peerUID
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
    guard let nl = input.firstIndex(of: 0x0A) else { return nil }
    var line = input[..<nl]
    if line.last == 0x0D { line = line.dropLast() }
    let s = String(validating: line, as: UTF8.self)
    input.removeSubrange(...nl)
    guard let s else { return .failure(ControlError("the request line is not valid UTF-8")) }
    return .success(s)
  }
}
