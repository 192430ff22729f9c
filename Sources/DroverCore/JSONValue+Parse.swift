/// A JSON syntax error with its byte offset (0-based) and a message.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
  public var offset: Int
  public var message: String
  public init(offset: Int, message: String) {
    self.offset = offset
    self.message = message
  }
  public var description: String { "invalid JSON at byte \(offset + 1): \(message)" }
}

extension JSONValue {
  /// Parses one JSON text (RFC 8259): one value with optional surrounding white space.
  /// Nesting deeper than 256 levels is refused, and so is a key repeated within one object
  /// (the error names it). `text` is a Swift string, so it is valid UTF-8 by construction:
  /// callers that start from bytes must check them first (`String(validating:)`) rather than
  /// let invalid bytes become U+FFFD.
  public static func parse(_ text: String) throws(JSONError) -> JSONValue {
    var text = text
    let result: Result<JSONValue, JSONError> = text.withUTF8 { buf in
      var p = JSONParser(buf)
      do throws(JSONError) {
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == buf.count else { throw p.fail("unexpected text after the value") }
        return .success(v)
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  /// Compact text (no spaces), keys in stored order; strings escaped as RFC 8259 requires.
  public func render() -> String {
    var out = ""
    render(into: &out)
    return out
  }

  /// Appends the compact text to `out`.
  public func render(into out: inout String) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d):
      if d.isFinite {
        if d.rounded() == d && abs(d) < 1e15 { out += String(Int64(d)) } else { out += "\(d)" }
      } else {
        out += "null"
      }
    case .number(let text): out += text
    case .string(let s): JSONValue.renderString(s, into: &out)
    case .array(let a):
      out += "["
      for (n, v) in a.enumerated() {
        if n > 0 { out += "," }
        v.render(into: &out)
      }
      out += "]"
    case .object(let o):
      out += "{"
      for (n, f) in o.enumerated() {
        if n > 0 { out += "," }
        JSONValue.renderString(f.key, into: &out)
        out += ":"
        f.value.render(into: &out)
      }
      out += "}"
    }
  }

  /// `s` as a quoted JSON string, cut to 60 characters, for error messages.
  static func quoted(_ s: String) -> String {
    var out = ""
    renderString(s.count > 60 ? String(s.prefix(60)) + "…" : s, into: &out)
    return out
  }

  /// Appends `s` as a quoted JSON string.
  public static func renderString(_ s: String, into out: inout String) {
    out += "\""
    var plainStart = s.utf8.startIndex
    var idx = plainStart
    let u = s.utf8
    while idx != u.endIndex {
      let c = u[idx]
      if c == 0x22 || c == 0x5C || c < 0x20 {
        out += String(Substring(s.utf8[plainStart..<idx]))
        switch c {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        default:
          let hex = String(c, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        idx = u.index(after: idx)
        plainStart = idx
      } else {
        idx = u.index(after: idx)
      }
    }
    out += String(Substring(s.utf8[plainStart..<idx]))
    out += "\""
  }
}

private struct JSONParser {
  let b: UnsafeBufferPointer<UInt8>
  var i = 0
  init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

  func fail(_ m: String) -> JSONError { JSONError(offset: i, message: m) }

  mutating func skipSpace() {
    while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
  }

  mutating func value(depth: Int) throws(JSONError) -> JSONValue {
    guard depth < 256 else { throw fail("nesting deeper than 256 levels") }
    guard i < b.count else { throw fail("unexpected end of text") }
    switch b[i] {
    case 0x7B: return try object(depth: depth)
    case 0x5B: return try array(depth: depth)
    case 0x22: return .string(try string())
    case 0x74:
      try word("true")
      return .bool(true)
    case 0x66:
      try word("false")
      return .bool(false)
    case 0x6E:
      try word("null")
      return .null
    case 0x2D, 0x30...0x39: return try number()
    default: throw fail("unexpected character '\(Character(Unicode.Scalar(b[i])))'")
    }
  }

  mutating func word(_ w: StaticString) throws(JSONError) {
    let n = w.utf8CodeUnitCount
    guard i + n <= b.count else { throw fail("unexpected end of text") }
    for k in 0..<n where b[i + k] != w.utf8Start[k] { throw fail("invalid literal") }
    i += n
  }

  mutating func object(depth: Int) throws(JSONError) -> JSONValue {
    i += 1
    var fields: [JSONField] = []
    var seen: Set<String>? = nil
    skipSpace()
    if i < b.count, b[i] == 0x7D {
      i += 1
      return .object(fields)
    }
    while true {
      skipSpace()
      guard i < b.count, b[i] == 0x22 else { throw fail("expected a string key") }
      let keyOffset = i
      let k = try string()
      // Small objects (the usual payload) are checked by a scan; large ones by a set.
      if fields.count < 16 {
        for f in fields where f.key == k {
          throw JSONError(offset: keyOffset, message: "duplicate key \(JSONValue.quoted(k))")
        }
      } else {
        if seen == nil { seen = Set(fields.map(\.key)) }
        guard seen!.insert(k).inserted else {
          throw JSONError(offset: keyOffset, message: "duplicate key \(JSONValue.quoted(k))")
        }
      }
      skipSpace()
      guard i < b.count, b[i] == 0x3A else { throw fail("expected ':' after a key") }
      i += 1
      skipSpace()
      fields.append(JSONField(k, try value(depth: depth + 1)))
      skipSpace()
      guard i < b.count else { throw fail("unterminated object") }
      if b[i] == 0x2C {
        i += 1
        continue
      }
      guard b[i] == 0x7D else { throw fail("expected ',' or '}' in an object") }
      i += 1
      return .object(fields)
    }
  }

  mutating func array(depth: Int) throws(JSONError) -> JSONValue {
    i += 1
    var items: [JSONValue] = []
    skipSpace()
    if i < b.count, b[i] == 0x5D {
      i += 1
      return .array(items)
    }
    while true {
      skipSpace()
      items.append(try value(depth: depth + 1))
      skipSpace()
      guard i < b.count else { throw fail("unterminated array") }
      if b[i] == 0x2C {
        i += 1
        continue
      }
      guard b[i] == 0x5D else { throw fail("expected ',' or ']' in an array") }
      i += 1
      return .array(items)
    }
  }

  mutating func hex4() throws(JSONError) -> UInt32 {
    guard i + 4 <= b.count else { throw fail("short \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = b[i]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw fail("bad hex digit in \\u escape")
      }
      v = v << 4 | d
      i += 1
    }
    return v
  }

  mutating func string() throws(JSONError) -> String {
    i += 1
    let start = i
    // Fast path: no escapes.
    while i < b.count, b[i] != 0x22, b[i] != 0x5C, b[i] >= 0x20 { i += 1 }
    if i < b.count, b[i] == 0x22 {
      let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
      i += 1
      return s
    }
    var bytes = Array(b[start..<i])
    while true {
      guard i < b.count else { throw fail("unterminated string") }
      let c = b[i]
      if c == 0x22 {
        i += 1
        break
      }
      if c < 0x20 { throw fail("control character in a string") }
      if c != 0x5C {
        bytes.append(c)
        i += 1
        continue
      }
      i += 1
      guard i < b.count else { throw fail("unterminated escape") }
      let e = b[i]
      i += 1
      switch e {
      case 0x22: bytes.append(0x22)
      case 0x5C: bytes.append(0x5C)
      case 0x2F: bytes.append(0x2F)
      case 0x62: bytes.append(0x08)
      case 0x66: bytes.append(0x0C)
      case 0x6E: bytes.append(0x0A)
      case 0x72: bytes.append(0x0D)
      case 0x74: bytes.append(0x09)
      case 0x75:
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar) {
          guard i + 6 <= b.count, b[i] == 0x5C, b[i + 1] == 0x75 else {
            throw fail("lone surrogate in \\u escape")
          }
          i += 2
          let lo = try hex4()
          guard (0xDC00..<0xE000).contains(lo) else { throw fail("bad surrogate pair") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
          throw fail("lone surrogate in \\u escape")
        }
        bytes.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
      default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  mutating func number() throws(JSONError) -> JSONValue {
    let start = i
    var isInt = true
    if b[i] == 0x2D { i += 1 }
    guard i < b.count, (0x30...0x39).contains(b[i]) else { throw fail("bad number") }
    if b[i] == 0x30 {
      i += 1
    } else {
      while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
    }
    if i < b.count, b[i] == 0x2E {
      isInt = false
      i += 1
      guard i < b.count, (0x30...0x39).contains(b[i]) else { throw fail("bad number") }
      while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
    }
    if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
      isInt = false
      i += 1
      if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
      guard i < b.count, (0x30...0x39).contains(b[i]) else { throw fail("bad number") }
      while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
    // `-0` as an `int` would render as `0`: keep it as written.
    let negativeZero = i - start == 2 && b[start] == 0x2D && b[start + 1] == 0x30
    if isInt, !negativeZero, let v = Int64(text) { return .int(v) }
    return .number(text)
  }
}
