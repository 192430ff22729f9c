import DroverCore

/// Why a byte stream is not a valid frame sequence. The peer sending it is broken or
/// hostile; the supervisor kills a worker that sends one.
public struct FrameError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Binary framing: `u32 little-endian length` of what follows, then `u8 type`, then the body.
/// Integers are little-endian; strings are `u32 length` + UTF-8 bytes. Encoding appends to a
/// reusable byte buffer so a turn's frames to one peer go out in one write.
public enum FrameEncoder {
  /// Appends one supervisor → worker frame.
  public static func append(_ m: SupervisorMessage, to out: inout [UInt8]) {
    let start = beginFrame(&out)
    switch m {
    case .assign(let a):
      out.append(FrameType.assign.rawValue)
      putI64(a.id, &out)
      putU32(UInt32(clamping: a.attempt), &out)
      putU32(UInt32(clamping: a.maxAttempts), &out)
      putU32(UInt32(clamping: a.snoozes), &out)
      putString(a.type, &out)
      putString(a.payload, &out)
      putString(a.traceparent, &out)
    case .cancel(let id):
      out.append(FrameType.cancel.rawValue)
      putI64(id, &out)
    case .shutdown:
      out.append(FrameType.shutdown.rawValue)
    case .release:
      out.append(FrameType.release.rawValue)
    }
    endFrame(start, &out)
  }

  /// Appends one worker → supervisor frame.
  public static func append(_ m: WorkerMessage, to out: inout [UInt8]) {
    let start = beginFrame(&out)
    switch m {
    case .hello(let v, let pid):
      out.append(FrameType.hello.rawValue)
      putU32(UInt32(v), &out)
      putU32(UInt32(bitPattern: pid), &out)
    case .progress(let id, let pct):
      out.append(FrameType.progress.rawValue)
      putI64(id, &out)
      out.append(UInt8(clamping: pct))
    case .heartbeat:
      out.append(FrameType.heartbeat.rawValue)
    case .outcome(let id, let o, let started, let usage):
      out.append(FrameType.outcome.rawValue)
      putI64(id, &out)
      putI64(started.micros, &out)
      switch o {
      case .completed: out.append(OutcomeKind.completed.rawValue)
      case .retryable(let msg):
        out.append(OutcomeKind.retryable.rawValue)
        putString(msg, &out)
      case .permanent(let msg):
        out.append(OutcomeKind.permanent.rawValue)
        putString(msg, &out)
      case .snooze(let d):
        out.append(OutcomeKind.snooze.rawValue)
        putI64(d.microseconds, &out)
      case .cancelled: out.append(OutcomeKind.cancelled.rawValue)
      case .rateLimited(let d):
        out.append(OutcomeKind.rateLimited.rawValue)
        putI64(d.microseconds, &out)
      }
      // Then 0, or 1 with the CPU seconds (IEEE 754 bits) and the peak RSS in bytes.
      if let usage {
        out.append(1)
        putI64(Int64(bitPattern: usage.cpuSeconds.bitPattern), &out)
        putI64(usage.peakRSS, &out)
      } else {
        out.append(0)
      }
    case .released(let id):
      out.append(FrameType.released.rawValue)
      putI64(id, &out)
    case .result(let id, let json):
      out.append(FrameType.result.rawValue)
      putI64(id, &out)
      putString(json, &out)
    }
    endFrame(start, &out)
  }

  static func beginFrame(_ out: inout [UInt8]) -> Int {
    let start = out.count
    out.append(contentsOf: [0, 0, 0, 0])
    return start
  }

  static func endFrame(_ start: Int, _ out: inout [UInt8]) {
    let len = UInt32(out.count - start - 4)
    out[start] = UInt8(truncatingIfNeeded: len)
    out[start + 1] = UInt8(truncatingIfNeeded: len >> 8)
    out[start + 2] = UInt8(truncatingIfNeeded: len >> 16)
    out[start + 3] = UInt8(truncatingIfNeeded: len >> 24)
  }

  static func putU32(_ v: UInt32, _ out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: v))
    out.append(UInt8(truncatingIfNeeded: v >> 8))
    out.append(UInt8(truncatingIfNeeded: v >> 16))
    out.append(UInt8(truncatingIfNeeded: v >> 24))
  }

  static func putI64(_ v: Int64, _ out: inout [UInt8]) {
    let u = UInt64(bitPattern: v)
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(k)))) }
  }

  static func putString(_ s: String, _ out: inout [UInt8]) {
    var s = s
    s.withUTF8 { u in
      putU32(UInt32(u.count), &out)
      out.append(contentsOf: u)
    }
  }
}

/// Incremental decoder: feed it whatever `read` returned, then take whole frames out.
///
/// It owns one growing buffer and compacts it lazily, so steady traffic costs no allocation
/// per frame. Any malformed input (oversized length, unknown type, truncated body, trailing
/// bytes inside a frame, invalid UTF-8) is a `FrameError`; after one, the stream is dead.
public struct FrameDecoder: Sendable {
  var buffer: [UInt8] = []
  var start = 0

  public init() {}

  /// Bytes received but not yet decoded.
  public var pendingBytes: Int { buffer.count - start }

  /// Appends received bytes.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
    if start > 0, start == buffer.count {
      buffer.removeAll(keepingCapacity: true)
      start = 0
    } else if start > 65536, start * 2 > buffer.count {
      buffer.removeSubrange(0..<start)
      start = 0
    }
    buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
  }

  /// Appends received bytes.
  public mutating func feed(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { feed($0) }
  }

  /// The next whole frame's type byte and body range, or nil when incomplete.
  mutating func nextFrame() throws(FrameError) -> (UInt8, Range<Int>)? {
    let avail = buffer.count - start
    guard avail >= 4 else { return nil }
    let len =
      Int(buffer[start]) | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2]) << 16
      | Int(buffer[start + 3]) << 24
    guard len >= 1 else { throw FrameError("empty frame") }
    guard len <= maxFrameSize else {
      throw FrameError("frame of \(len) bytes exceeds the \(maxFrameSize)-byte limit")
    }
    guard avail >= 4 + len else { return nil }
    let type = buffer[start + 4]
    let body = (start + 5)..<(start + 4 + len)
    start += 4 + len
    return (type, body)
  }

  /// Decodes the next worker → supervisor message, or nil when more bytes are needed.
  public mutating func nextWorkerMessage() throws(FrameError) -> WorkerMessage? {
    guard let (type, body) = try nextFrame() else { return nil }
    var r = BodyReader(buffer: buffer, range: body)
    let m: WorkerMessage
    switch FrameType(rawValue: type) {
    case .hello:
      let v = try r.u32()
      guard v <= UInt16.max else { throw FrameError("bad protocol version \(v)") }
      m = .hello(version: UInt16(v), pid: Int32(bitPattern: try r.u32()))
    case .progress:
      let id = try r.i64()
      m = .progress(id, Int(try r.u8()))
    case .heartbeat:
      m = .heartbeat
    case .released:
      m = .released(try r.i64())
    case .result:
      let id = try r.i64()
      m = .result(id, try r.string())
    case .outcome:
      let id = try r.i64()
      let started = Timestamp(micros: try r.i64())
      let o: JobOutcome
      switch OutcomeKind(rawValue: try r.u8()) {
      case .completed: o = .completed
      case .retryable: o = .retryable(try r.string())
      case .permanent: o = .permanent(try r.string())
      case .snooze: o = .snooze(.microseconds(try r.i64()))
      case .cancelled: o = .cancelled
      case .rateLimited: o = .rateLimited(.microseconds(try r.i64()))
      case nil: throw FrameError("unknown outcome kind")
      }
      var usage: JobUsage?
      switch try r.u8() {
      case 0: break
      case 1:
        let cpu = Double(bitPattern: UInt64(bitPattern: try r.i64()))
        let rss = try r.i64()
        guard cpu.isFinite, cpu >= 0, rss >= 0 else {
          throw FrameError("bad usage in outcome (cpu \(cpu) s, rss \(rss) bytes)")
        }
        usage = JobUsage(cpuSeconds: cpu, peakRSS: rss)
      case let b: throw FrameError("bad usage flag \(b) in outcome")
      }
      m = .outcome(id, o, started: started, usage: usage)
    default:
      throw FrameError("unexpected frame type \(type) from a worker")
    }
    try r.finish()
    return m
  }

  /// Decodes the next supervisor → worker message, or nil when more bytes are needed.
  public mutating func nextSupervisorMessage() throws(FrameError) -> SupervisorMessage? {
    guard let (type, body) = try nextFrame() else { return nil }
    var r = BodyReader(buffer: buffer, range: body)
    let m: SupervisorMessage
    switch FrameType(rawValue: type) {
    case .assign:
      let id = try r.i64()
      let attempt = Int(try r.u32())
      let maxAttempts = Int(try r.u32())
      let snoozes = Int(try r.u32())
      let t = try r.string()
      let payload = try r.string()
      m = .assign(
        Assignment(
          id: id, attempt: attempt, maxAttempts: maxAttempts, snoozes: snoozes, type: t,
          payload: payload, traceparent: try r.string()))
    case .cancel:
      m = .cancel(try r.i64())
    case .shutdown:
      m = .shutdown
    case .release:
      m = .release
    default:
      throw FrameError("unexpected frame type \(type) from the supervisor")
    }
    try r.finish()
    return m
  }
}

struct BodyReader {
  let buffer: [UInt8]
  var i: Int
  let end: Int

  init(buffer: [UInt8], range: Range<Int>) {
    self.buffer = buffer
    self.i = range.lowerBound
    self.end = range.upperBound
  }

  mutating func need(_ n: Int) throws(FrameError) {
    guard end - i >= n else { throw FrameError("truncated frame body") }
  }

  mutating func u8() throws(FrameError) -> UInt8 {
    try need(1)
    defer { i += 1 }
    return buffer[i]
  }

  mutating func u32() throws(FrameError) -> UInt32 {
    try need(4)
    defer { i += 4 }
    return UInt32(buffer[i]) | UInt32(buffer[i + 1]) << 8 | UInt32(buffer[i + 2]) << 16
      | UInt32(buffer[i + 3]) << 24
  }

  mutating func i64() throws(FrameError) -> Int64 {
    try need(8)
    var u: UInt64 = 0
    for k in 0..<8 { u |= UInt64(buffer[i + k]) << (8 * UInt64(k)) }
    i += 8
    return Int64(bitPattern: u)
  }

  mutating func string() throws(FrameError) -> String {
    let n = Int(try u32())
    try need(n)
    defer { i += n }
    guard let s = String(validating: buffer[i..<(i + n)], as: UTF8.self) else {
      throw FrameError("invalid UTF-8 in a string")
    }
    return s
  }

  func finish() throws(FrameError) {
    guard i == end else { throw FrameError("\(end - i) unexpected bytes at the end of a frame") }
  }
}
