/// TOML's four string forms, and the escapes of the two basic ones.
extension TOMLParser {
  /// `"…"` with escapes, on one line.
  mutating func parseBasicString(path: [String]) throws(ConfigError) -> String {
    let line = lineAt(i)
    i += 1
    var out: [UInt8] = []
    while true {
      guard let c = peek else {
        throw error("unterminated string (missing closing \")", line: line, path: path)
      }
      switch c {
      case Byte.quote:
        i += 1
        return String(decoding: out, as: UTF8.self)
      case Byte.backslash:
        try parseEscape(into: &out, path: path)
      case Byte.newline, Byte.cr:
        throw error(
          "unterminated string (a \"…\" string ends on its line; use \"\"\" for several)",
          line: line, path: path)
      default:
        if Self.isControl(c) {
          throw error("control character \(found) in a string; escape it", line: line, path: path)
        }
        out.append(c)
        i += 1
      }
    }
  }

  /// `"""…"""`: escapes, newlines, and a `\` at the end of a line trims up to the next text.
  mutating func parseMultilineBasicString(path: [String]) throws(ConfigError) -> String {
    let line = lineAt(i)
    i += 3
    skipFirstNewline()
    var out: [UInt8] = []
    while true {
      guard let c = peek else {
        throw error(
          "unterminated multi-line string (missing closing \"\"\")", line: line, path: path)
      }
      switch c {
      case Byte.quote:
        if try closeQuotes(Byte.quote, into: &out, path: path) {
          return String(decoding: out, as: UTF8.self)
        }
      case Byte.backslash:
        if lineEndingBackslash() {
          while let s = peek,
            s == Byte.space || s == Byte.tab || s == Byte.newline
              || (s == Byte.cr && b.indices.contains(i + 1) && b[i + 1] == Byte.newline)
          {
            i += 1
          }
        } else {
          try parseEscape(into: &out, path: path)
        }
      default:
        try appendMultilineByte(c, into: &out, path: path)
      }
    }
  }

  /// `'…'`: no escapes, one line.
  mutating func parseLiteralString(path: [String]) throws(ConfigError) -> String {
    let line = lineAt(i)
    i += 1
    let start = i
    while true {
      guard let c = peek else {
        throw error("unterminated string (missing closing ')", line: line, path: path)
      }
      switch c {
      case Byte.apostrophe:
        i += 1
        return String(decoding: b[start..<(i - 1)], as: UTF8.self)
      case Byte.newline, Byte.cr:
        throw error(
          "unterminated string (a '…' string ends on its line; use ''' for several)", line: line,
          path: path)
      default:
        if Self.isControl(c) {
          throw error("control character \(found) in a string", line: line, path: path)
        }
        i += 1
      }
    }
  }

  /// `'''…'''`: no escapes, newlines kept.
  mutating func parseMultilineLiteralString(path: [String]) throws(ConfigError) -> String {
    let line = lineAt(i)
    i += 3
    skipFirstNewline()
    var out: [UInt8] = []
    while true {
      guard let c = peek else {
        throw error("unterminated multi-line string (missing closing ''')", line: line, path: path)
      }
      if c == Byte.apostrophe {
        if try closeQuotes(Byte.apostrophe, into: &out, path: path) {
          return String(decoding: out, as: UTF8.self)
        }
      } else {
        try appendMultilineByte(c, into: &out, path: path)
      }
    }
  }

  /// At a run of `q` in a multi-line string: up to two quotes may sit just before the closing
  /// three (`""""` is one quote then the end). Returns true when the string closed.
  private mutating func closeQuotes(_ q: UInt8, into out: inout [UInt8], path: [String])
    throws(ConfigError) -> Bool
  {
    var run = 0
    while i + run < b.count, b[i + run] == q { run += 1 }
    if run < 3 {
      out.append(contentsOf: repeatElement(q, count: run))
      i += run
      return false
    }
    if run > 5 {
      throw error("too many quotes in a row in a multi-line string", line: lineAt(i), path: path)
    }
    out.append(contentsOf: repeatElement(q, count: run - 3))
    i += run
    return true
  }

  /// One byte of a multi-line string's body: newlines (CRLF kept as LF) and tabs are fine,
  /// other control characters are not.
  private mutating func appendMultilineByte(_ c: UInt8, into out: inout [UInt8], path: [String])
    throws(ConfigError)
  {
    if c == Byte.cr, i + 1 < b.count, b[i + 1] == Byte.newline {
      out.append(Byte.newline)
      i += 2
      return
    }
    if c != Byte.newline, Self.isControl(c) {
      throw error("control character \(found) in a string", line: lineAt(i), path: path)
    }
    out.append(c)
    i += 1
  }

  /// A newline right after the opening `"""` or `'''` is not part of the string.
  private mutating func skipFirstNewline() {
    if peek == Byte.newline {
      i += 1
    } else if peek == Byte.cr, i + 1 < b.count, b[i + 1] == Byte.newline {
      i += 2
    }
  }

  /// At a `\`: true (and past it and the spaces) when only spaces follow it on its line.
  private mutating func lineEndingBackslash() -> Bool {
    var k = i + 1
    while k < b.count, b[k] == Byte.space || b[k] == Byte.tab { k += 1 }
    guard k < b.count else { return false }
    if b[k] == Byte.newline || (b[k] == Byte.cr && k + 1 < b.count && b[k + 1] == Byte.newline) {
      i = k
      return true
    }
    return false
  }

  /// At a `\` in a basic string: appends what the escape stands for.
  private mutating func parseEscape(into out: inout [UInt8], path: [String]) throws(ConfigError) {
    let line = lineAt(i)
    i += 1
    guard let c = peek else {
      throw error("unterminated string", line: line, path: path)
    }
    i += 1
    switch c {
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "t"): out.append(Byte.tab)
    case UInt8(ascii: "n"): out.append(Byte.newline)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "r"): out.append(Byte.cr)
    case UInt8(ascii: "e"): out.append(0x1B)
    case Byte.quote: out.append(Byte.quote)
    case Byte.backslash: out.append(Byte.backslash)
    case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
      let width = c == UInt8(ascii: "x") ? 2 : c == UInt8(ascii: "u") ? 4 : 8
      let name = "\\" + String(UnicodeScalar(c))
      let digits = b[i..<min(i + width, b.count)]
      guard digits.count == width, digits.allSatisfy(isHexDigit),
        let code = UInt32(String(decoding: digits, as: UTF8.self), radix: 16)
      else {
        throw error("\(name) needs exactly \(width) hex digits", line: line, path: path)
      }
      guard let scalar = Unicode.Scalar(code) else {
        let text = String(decoding: digits, as: UTF8.self)
        throw error(
          "\(name)\(text) is not a Unicode scalar value", line: line, path: path)
      }
      i += width
      out.append(contentsOf: String(Character(scalar)).utf8)
    default:
      i -= 1
      let what = c >= 0x21 && c < 0x7F ? "\\" + String(UnicodeScalar(c)) : "\\ before \(found)"
      throw error("invalid escape \(what) in a string", line: line, path: path)
    }
  }
}

private func isHexDigit(_ c: UInt8) -> Bool {
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
