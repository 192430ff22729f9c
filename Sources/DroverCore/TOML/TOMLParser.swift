/// A TOML parser for the subset configs use, keeping the line of every key and value.
///
/// Supported (TOML 1.0, plus 1.1's multi-line inline tables, `\e` and `\xHH`): comments; bare,
/// quoted and dotted keys; `[table]` headers; basic, literal and multi-line strings; integers
/// (decimal with `_`, `+`/`-`; `0x`, `0o`, `0b`); floats (incl. `inf`, `nan`); booleans; arrays;
/// inline tables. Rejected with a clear error: dates and times, and arrays of tables
/// (`[[name]]`). Duplicate keys, tables defined twice and tables extended against the spec's
/// rules (a dotted key into a header's table, a header over a dotted key's table, anything into
/// an inline table) are errors. Every error is a `ConfigError` with the file, the 1-based line
/// and, when known, the dotted key.
struct TOMLParser {
  /// Parses a whole document into its root table. `file` only labels errors.
  static func parse(_ text: String, file: String?) throws(ConfigError) -> TOMLTable {
    var parser = TOMLParser(bytes: Array(text.utf8), file: file)
    try parser.parseDocument()
    return parser.root.freeze()
  }

  let b: [UInt8]
  var i = 0
  let file: String?
  /// Offsets where each line begins: `lineStarts[n]` is the start of line n+1.
  private let lineStarts: [Int]
  private let root = TableNode(origin: .root, line: 1)
  /// The table that `key = value` lines go into: the root, then the last header's table.
  private var current: TableNode
  private var currentPath: [String] = []
  var depth = 0
  /// Deep enough for any config, shallow enough that `[[[[…` cannot overflow the stack.
  static let maxDepth = 64

  private init(bytes: [UInt8], file: String?) {
    b = bytes
    self.file = file
    var starts = [0]
    for (k, c) in bytes.enumerated() where c == Byte.newline { starts.append(k + 1) }
    lineStarts = starts
    current = root
  }

  // MARK: Document

  private mutating func parseDocument() throws(ConfigError) {
    if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }  // a UTF-8 byte order mark
    while true {
      skipSpaces()
      guard i < b.count else { return }
      switch b[i] {
      case Byte.hash, Byte.newline, Byte.cr:
        try endOfLine(after: nil)
      case Byte.lbracket:
        try parseHeader()
        try endOfLine(after: "table header")
      default:
        try parseKeyValue(into: current, prefix: currentPath)
        try endOfLine(after: "value")
      }
    }
  }

  /// `[a.b]`: defines table `a.b`, creating `a` implicitly when needed.
  private mutating func parseHeader() throws(ConfigError) {
    let line = lineAt(i)
    i += 1
    if peek == Byte.lbracket {
      throw error("arrays of tables ([[…]]) are not supported", line: line)
    }
    skipSpaces()
    let parts = try parseKey().map(\.name)
    skipSpaces()
    guard peek == Byte.rbracket else {
      throw error("expected \"]\" to close the table header, found \(found)", line: line)
    }
    i += 1
    var node = root
    var path: [String] = []
    for (k, part) in parts.enumerated() {
      path.append(part)
      let isLast = k == parts.count - 1
      guard let existing = node.slots[part] else {
        let t = TableNode(origin: isLast ? .header : .implicit, line: line)
        node.add(part, line: line, .table(t))
        node = t
        continue
      }
      switch existing.slot {
      case .value(let v):
        throw notATable(v, path: path, line: line)
      case .table(let t):
        if isLast {
          switch t.origin {
          case .implicit:
            t.origin = .header
            t.line = line
          case .header:
            throw error(
              "table [\(TOMLKey.path(path))] is defined twice (first on line \(t.line))",
              line: line, path: path)
          case .dotted, .root, .inline:
            throw error(
              "table is already defined by a dotted key on line \(t.line)", line: line,
              path: path)
          }
        }
        node = t
      }
    }
    current = node
    currentPath = path
  }

  /// `key = value`, where `key` may be dotted; into `table`, whose own path is `prefix`.
  mutating func parseKeyValue(into table: TableNode, prefix: [String])
    throws(ConfigError)
  {
    let line = lineAt(i)
    let parts = try parseKey().map(\.name)
    skipSpaces()
    guard peek == Byte.equals else {
      throw error(
        "expected \"=\" after the key, found \(found)", line: lineAt(i), path: prefix + parts)
    }
    i += 1
    skipSpaces()
    let value = try parseValue(path: prefix + parts)
    var node = table
    var path = prefix
    for part in parts.dropLast() {
      path.append(part)
      guard let existing = node.slots[part] else {
        let t = TableNode(origin: .dotted, line: line)
        node.add(part, line: line, .table(t))
        node = t
        continue
      }
      switch existing.slot {
      case .value(let v):
        throw notATable(v, path: path, line: line)
      case .table(let t):
        // A dotted key may only extend tables made by dotted keys (TOML 1.0, "Table").
        guard t.origin == .dotted else {
          throw error(
            "table is defined by a header on line \(t.line); a dotted key cannot add to it",
            line: line, path: path)
        }
        node = t
      }
    }
    let last = parts[parts.count - 1]
    path.append(last)
    if let existing = node.slots[last] {
      let first =
        switch existing.slot {
        case .value: existing.line
        case .table(let t): t.line
        }
      throw error("duplicate key (first set on line \(first))", line: line, path: path)
    }
    node.add(last, line: line, .value(value))
  }

  /// A bare, quoted or dotted key, as its parts.
  private mutating func parseKey() throws(ConfigError) -> [(name: String, line: Int)] {
    var parts = [try parseSimpleKey()]
    while true {
      let save = i
      skipSpaces()
      guard peek == Byte.dot else {
        i = save
        return parts
      }
      i += 1
      skipSpaces()
      parts.append(try parseSimpleKey())
      // Tables nest as deep as keys have parts; freezing them recurses that deep.
      if parts.count > Self.maxDepth {
        throw error("a key may have at most \(Self.maxDepth) parts", line: lineAt(i))
      }
    }
  }

  private mutating func parseSimpleKey() throws(ConfigError) -> (name: String, line: Int) {
    let line = lineAt(i)
    switch peek {
    case Byte.quote:
      if startsWith(Byte.quote, count: 3) {
        throw error("a key cannot be a multi-line string", line: line)
      }
      return (try parseBasicString(path: []), line)
    case Byte.apostrophe:
      if startsWith(Byte.apostrophe, count: 3) {
        throw error("a key cannot be a multi-line string", line: line)
      }
      return (try parseLiteralString(path: []), line)
    default:
      let start = i
      while i < b.count, TOMLKey.isBareKeyByte(b[i]) { i += 1 }
      guard i > start else { throw error("expected a key, found \(found)", line: line) }
      return (String(decoding: b[start..<i], as: UTF8.self), line)
    }
  }

  /// After a header or key/value: spaces, an optional comment, then a newline or the end.
  private mutating func endOfLine(after what: String?) throws(ConfigError) {
    skipSpaces()
    if peek == Byte.hash { try skipComment() }
    guard i < b.count else { return }
    if b[i] == Byte.newline {
      i += 1
    } else if b[i] == Byte.cr, i + 1 < b.count, b[i + 1] == Byte.newline {
      i += 2
    } else if let what {
      throw error("expected the end of the line after the \(what), found \(found)", line: lineAt(i))
    } else {
      throw error("unexpected \(found)", line: lineAt(i))
    }
  }

  /// From `#` to the end of the line (not consuming the newline).
  mutating func skipComment() throws(ConfigError) {
    i += 1
    while i < b.count, b[i] != Byte.newline {
      if b[i] == Byte.cr, i + 1 < b.count, b[i + 1] == Byte.newline { return }
      if Self.isControl(b[i]) {
        throw error("control character \(found) in a comment", line: lineAt(i))
      }
      i += 1
    }
  }

  // MARK: Bytes

  var peek: UInt8? { i < b.count ? b[i] : nil }

  func startsWith(_ c: UInt8, count: Int) -> Bool {
    i + count <= b.count && b[i..<(i + count)].allSatisfy { $0 == c }
  }

  mutating func skipSpaces() {
    while i < b.count, b[i] == Byte.space || b[i] == Byte.tab { i += 1 }
  }

  /// Spaces, newlines and comments, as arrays and inline tables allow between items.
  mutating func skipBlank() throws(ConfigError) {
    while let c = peek {
      switch c {
      case Byte.space, Byte.tab, Byte.newline:
        i += 1
      case Byte.cr where i + 1 < b.count && b[i + 1] == Byte.newline:
        i += 2
      case Byte.hash:
        try skipComment()
      default:
        return
      }
    }
  }

  /// What sits at the cursor, for error messages: `"x"`, `end of line`, `end of file`, `U+0007`.
  var found: String {
    guard let c = peek else { return "end of file" }
    if c == Byte.newline || (c == Byte.cr && i + 1 < b.count && b[i + 1] == Byte.newline) {
      return "end of line"
    }
    if c == Byte.cr { return "U+000D (a carriage return without a line feed)" }
    if c >= 0x20, c < 0x7F { return "\"" + String(UnicodeScalar(c)) + "\"" }
    if c < 0x80 { return "U+" + hex4(UInt32(c)) }
    var k = i + 1
    while k < b.count, k < i + 4, b[k] & 0xC0 == 0x80 { k += 1 }
    return "\"" + String(decoding: b[i..<k], as: UTF8.self) + "\""
  }

  private func hex4(_ v: UInt32) -> String {
    let h = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - h.count)) + h
  }

  /// 1-based line of byte offset `pos`.
  func lineAt(_ pos: Int) -> Int {
    var lo = 0
    var hi = lineStarts.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if lineStarts[mid] <= pos { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  func error(_ message: String, line: Int, path: [String] = []) -> ConfigError {
    ConfigError(
      file: file, line: line, key: path.isEmpty ? nil : TOMLKey.path(path), message: message)
  }

  private func notATable(_ v: TOMLValue, path: [String], line: Int) -> ConfigError {
    if v.table != nil {
      return error(
        "is an inline table (line \(v.line)); it cannot be extended", line: line, path: path)
    }
    let article = v.typeName.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    return error(
      "is already \(article) \(v.typeName) (line \(v.line)), not a table", line: line, path: path)
  }
}

extension TOMLParser {
  /// ASCII bytes the parser switches on.
  enum Byte {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let apostrophe: UInt8 = 0x27
    static let comma: UInt8 = 0x2C
    static let dot: UInt8 = 0x2E
    static let equals: UInt8 = 0x3D
    static let lbracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let rbracket: UInt8 = 0x5D
    static let lbrace: UInt8 = 0x7B
    static let rbrace: UInt8 = 0x7D
  }

  /// Control characters TOML forbids unescaped: U+0000–U+001F except tab, and U+007F.
  static func isControl(_ c: UInt8) -> Bool { (c < 0x20 && c != Byte.tab) || c == 0x7F }
}
