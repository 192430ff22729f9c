/// The text of a statement the driver prepares once per connection: a literal, so its address
/// identifies it in the statement cache and no text is ever built from input.
struct SQLText: ExpressibleByStringLiteral, Sendable {
  let text: StaticString

  init(stringLiteral value: StaticString) { text = value }

  var key: UInt { UInt(bitPattern: text.utf8Start) }

  var string: String { text.description }
}

/// A statement over a list of rows, one statement for many: `head`, then
/// `(VALUES (?…), (?…), …) AS v`, then `tail`. Parameters `?1 … ?shared` are the statement's
/// own; row `r`'s `width` values follow them (`v.column1 …` in the text). Built from our
/// literals and numbers only, never from input; prepared once per row count.
struct SQLRowsText: Sendable {
  struct Key: Hashable {
    var text: UInt
    var rows: Int
  }
  /// The most rows one statement takes (`chunks` splits a longer list).
  static let maxRows = 64

  let head: StaticString
  let tail: StaticString
  let width: Int
  let shared: Int

  var key: UInt { UInt(bitPattern: head.utf8Start) }

  func text(rows: Int) -> String {
    var s = head.description + " (VALUES "
    var n = shared
    for r in 0..<rows {
      s += r == 0 ? "(" : ", ("
      for c in 0..<width {
        n += 1
        s += c == 0 ? "?\(n)" : ", ?\(n)"
      }
      s += ")"
    }
    return s + ") AS v " + tail.description
  }

  /// The parameter index of row `row`'s first column (0-based row).
  func firstIndex(row: Int) -> Int32 { Int32(shared + row * width + 1) }

  /// `0 ..< count` cut into runs of 64, 32, …, 1 rows, so a few statements per text serve
  /// every count.
  static func chunks(_ count: Int) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var start = 0
    var size = maxRows
    while start < count {
      while size > count - start { size /= 2 }
      out.append(start..<start + size)
      start += size
    }
    return out
  }
}
