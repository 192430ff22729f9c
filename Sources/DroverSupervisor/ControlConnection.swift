import DroverCore
import DroverSystem
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
  /// What epoll watches for this client now.
  var watching: Epoll.Interest = .readable
  /// Backpressure: the client does not take its replies, so the loop stops reading it until
  /// the output drains (it then reads on where it stopped).
  var paused = false
  /// The last time a write to this client made progress (or it connected).
  var lastProgress: MonotonicInstant
  /// A refused peer: told why, write side shut, its input discarded until EOF or a second
  /// passes (closing at once would turn the refusal into EPIPE for a client still writing).
  var refusedAt: MonotonicInstant?
  /// Handed to an event-streaming thread (`events`): the loop must not read, write or close
  /// it any more.
  var detached = false

  /// Bytes of one request line at most; a longer line is refused and the peer dropped.
  static let maxLine = 1 << 20
  /// Replies waiting to be written above this pause reading the client…
  static let outputHighWater = 1 << 20
  /// …until they drain below this.
  static let outputLowWater = 256 << 10
  /// Requests answered but not yet written, or waiting for a commit, above this pause reading.
  static let maxInFlight = 10_000
  /// A paused client whose replies make no progress for this long is dropped.
  static let stallLimit: Duration = .seconds(60)
  /// Control connections at once; more are told so and closed.
  static let maxConnections = 256

  init(fd: Int32, peerUID: UInt32, now: MonotonicInstant) {
    self.fd = fd
    self.peerUID = peerUID
    self.lastProgress = now
  }

  /// Too much is waiting for this client: stop reading it.
  var throttled: Bool { output.count > Self.outputHighWater || slots.count > Self.maxInFlight }

  /// Drained enough to read again.
  var drained: Bool {
    output.count < Self.outputLowWater && slots.count < Self.maxInFlight / 2
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

  /// Next whole line (without its newline), or nil.
  func nextLine() -> String? {
    guard let nl = input.firstIndex(of: 0x0A) else { return nil }
    var line = input[..<nl]
    if line.last == 0x0D { line = line.dropLast() }
    let s = String(decoding: line, as: UTF8.self)
    input.removeSubrange(...nl)
    return s
  }
}
