/// One TOML value, with the 1-based line it starts on.
///
/// Only what the config needs: dates and times are rejected by the parser, so they have no
/// case here. A table value is either a `[header]` table, a table made by dotted keys or an
/// inline `{ … }` table; the loader does not need to tell them apart.
struct TOMLValue: Sendable, Equatable {
  enum Kind: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)
  }

  var kind: Kind
  /// 1-based line where the value starts (for a `[header]` table, the header's line).
  var line: Int

  init(_ kind: Kind, line: Int) {
    self.kind = kind
    self.line = line
  }

  /// The type's name as error messages print it: `string`, `integer`, `float`, `boolean`,
  /// `array`, `table`.
  var typeName: String {
    switch kind {
    case .string: "string"
    case .integer: "integer"
    case .float: "float"
    case .boolean: "boolean"
    case .array: "array"
    case .table: "table"
    }
  }

  var string: String? {
    if case .string(let s) = kind { return s }
    return nil
  }

  var integer: Int64? {
    if case .integer(let n) = kind { return n }
    return nil
  }

  var float: Double? {
    if case .float(let d) = kind { return d }
    return nil
  }

  var boolean: Bool? {
    if case .boolean(let b) = kind { return b }
    return nil
  }

  var array: [TOMLValue]? {
    if case .array(let a) = kind { return a }
    return nil
  }

  var table: TOMLTable? {
    if case .table(let t) = kind { return t }
    return nil
  }
}

/// A TOML table: its keys in file order, each with the line it was written on.
struct TOMLTable: Sendable, Equatable {
  /// One key of the table and its value.
  struct Entry: Sendable, Equatable {
    var key: String
    /// 1-based line of the key (for a table made by a header, the header's line; for one made
    /// by a dotted key, the line of its first use).
    var line: Int
    var value: TOMLValue
  }

  /// In the order the keys first appear in the file.
  var entries: [Entry]

  init(entries: [Entry] = []) { self.entries = entries }

  /// The value under `key`, if any.
  subscript(key: String) -> TOMLValue? { entry(key)?.value }

  /// The entry under `key`, if any (a table has few keys: a linear scan is the fast way).
  func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }

  var keys: [String] { entries.map(\.key) }
}

extension TOMLKey {
  /// `key` as TOML would need it written: bare when it can be, else a quoted basic string.
  static func quoted(_ key: String) -> String {
    if !key.isEmpty, key.utf8.allSatisfy(isBareKeyByte) { return key }
    return basicString(key)
  }

  /// `text` as a TOML basic string, always quoted: `"fast"`, `"a\"b"`.
  static func basicString(_ text: String) -> String {
    var s = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": s += "\\\""
      case "\\": s += "\\\\"
      case "\n": s += "\\n"
      case "\t": s += "\\t"
      case "\r": s += "\\r"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          let hex = String(scalar.value, radix: 16, uppercase: true)
          s += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          s.unicodeScalars.append(scalar)
        }
      }
    }
    return s + "\""
  }

  /// A dotted path as TOML would write it: `pools.email.max`, `pools."my pool"`.
  static func path(_ parts: [String]) -> String {
    parts.map(quoted).joined(separator: ".")
  }

  /// `A-Z a-z 0-9 _ -`: the bytes of a bare key.
  static func isBareKeyByte(_ c: UInt8) -> Bool {
    (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
      || c == 0x2D
  }
}

/// Namespace for key spelling helpers shared by the parser and the loader.
enum TOMLKey {}
