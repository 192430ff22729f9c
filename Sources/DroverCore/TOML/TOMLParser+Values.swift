/// Values: strings are in `TOMLParser+Strings.swift`, numbers in `TOMLNumber.swift`.
extension TOMLParser {
  mutating func parseValue(path: [String]) throws(ConfigError) -> TOMLValue {
    let line = lineAt(i)
    switch peek {
    case nil, Byte.newline, Byte.cr, Byte.hash:
      throw error("missing value", line: line, path: path)
    case Byte.quote:
      if startsWith(Byte.quote, count: 3) {
        return TOMLValue(.string(try parseMultilineBasicString(path: path)), line: line)
      }
      return TOMLValue(.string(try parseBasicString(path: path)), line: line)
    case Byte.apostrophe:
      if startsWith(Byte.apostrophe, count: 3) {
        return TOMLValue(.string(try parseMultilineLiteralString(path: path)), line: line)
      }
      return TOMLValue(.string(try parseLiteralString(path: path)), line: line)
    case Byte.lbracket:
      return TOMLValue(
        .array(try nested(path) { (p) throws(ConfigError) in try p.parseArray(path) }), line: line)
    case Byte.lbrace:
      return TOMLValue(
        .table(try nested(path) { (p) throws(ConfigError) in try p.parseInlineTable(path) }),
        line: line)
    default:
      return TOMLValue(try parseScalar(path: path), line: line)
    }
  }

  /// Runs `body` one nesting level deeper, refusing absurd depths.
  private mutating func nested<T>(
    _ path: [String], _ body: (inout TOMLParser) throws(ConfigError) -> T
  ) throws(ConfigError) -> T {
    guard depth < Self.maxDepth else {
      throw error("arrays and inline tables are nested too deeply", line: lineAt(i), path: path)
    }
    depth += 1
    defer { depth -= 1 }
    return try body(&self)
  }

  /// `[ v, v, ]`: may span lines and hold comments; a trailing comma is fine.
  private mutating func parseArray(_ path: [String]) throws(ConfigError) -> [TOMLValue] {
    let line = lineAt(i)
    i += 1
    var values: [TOMLValue] = []
    while true {
      try skipBlank()
      if peek == Byte.rbracket {
        i += 1
        return values
      }
      if peek == nil {
        throw error("unterminated array (opened on line \(line))", line: lineAt(i), path: path)
      }
      values.append(try parseValue(path: path))
      try skipBlank()
      switch peek {
      case Byte.comma:
        i += 1
      case Byte.rbracket:
        i += 1
        return values
      case nil:
        throw error("unterminated array (opened on line \(line))", line: lineAt(i), path: path)
      default:
        throw error(
          "expected \",\" or \"]\" in the array, found \(found)", line: lineAt(i), path: path)
      }
    }
  }

  /// `{ k = v, k.k = v }`; like TOML 1.1, it may span lines and end with a comma.
  private mutating func parseInlineTable(_ path: [String]) throws(ConfigError) -> TOMLTable {
    let line = lineAt(i)
    i += 1
    let table = TableNode(origin: .inline, line: line)
    while true {
      try skipBlank()
      switch peek {
      case Byte.rbrace:
        i += 1
        return table.freeze()
      case nil:
        throw error(
          "unterminated inline table (opened on line \(line))", line: lineAt(i), path: path)
      default:
        break
      }
      try parseKeyValue(into: table, prefix: path)
      try skipBlank()
      switch peek {
      case Byte.comma:
        i += 1
      case Byte.rbrace:
        i += 1
        return table.freeze()
      case nil:
        throw error(
          "unterminated inline table (opened on line \(line))", line: lineAt(i), path: path)
      default:
        throw error(
          "expected \",\" or \"}\" in the inline table, found \(found)", line: lineAt(i),
          path: path)
      }
    }
  }

  /// Booleans, numbers, and the dates and times we turn away.
  private mutating func parseScalar(path: [String]) throws(ConfigError) -> TOMLValue.Kind {
    let line = lineAt(i)
    let start = i
    while i < b.count, isScalarByte(b[i]) { i += 1 }
    let token = Array(b[start..<i])
    let text = String(decoding: token, as: UTF8.self)
    if token.isEmpty {
      throw error("expected a value, found \(found)", line: line, path: path)
    }
    if TOMLNumber.looksLikeDateTime(token) {
      throw error(
        "dates and times are not supported; write \(text) as a string", line: line, path: path)
    }
    switch text {
    case "true": return .boolean(true)
    case "false": return .boolean(false)
    case "inf", "+inf": return .float(.infinity)
    case "-inf": return .float(-.infinity)
    case "nan", "+nan", "-nan": return .float(.nan)
    default: break
    }
    switch TOMLNumber.parse(token) {
    case .integer(let n): return .integer(n)
    case .float(let d): return .float(d)
    case .outOfRange:
      throw error("number \(text) is out of range", line: line, path: path)
    case .invalid:
      let hint = token.first.map(isLetter) == true ? " (strings need quotes)" : ""
      throw error("invalid value \(text)\(hint)", line: line, path: path)
    }
  }
}

private func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

/// Bytes that can make up an unquoted value: numbers, booleans, and dates we turn away.
private func isScalarByte(_ c: UInt8) -> Bool {
  TOMLKey.isBareKeyByte(c) || c == TOMLParser.Byte.dot || c == UInt8(ascii: "+")
    || c == UInt8(ascii: ":")
}
