/// A cron expression: five fields (`minute hour day-of-month month day-of-week`), or six with
/// a leading seconds field, or an alias (`@yearly`, `@annually`, `@monthly`, `@weekly`,
/// `@daily`, `@midnight`, `@hourly`).
///
/// Each field takes `*`, a value, a range `a-b`, a step `*/n` or `a-b/n` or `a/n` (from `a` to
/// the field's end), and comma-separated lists of those. Months take `JAN`-`DEC` and weekdays
/// `SUN`-`SAT` (case-insensitive); weekday 0 and 7 are both Sunday. As in Vixie cron, when both
/// day-of-month and day-of-week are restricted (neither is `*`), a day matches if either does.
///
/// The expression is about wall-clock fields only; which instants they name in a time zone
/// (and what happens at daylight-saving changes) is the schedule's business.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
  /// Allowed values of each field, as bit sets (bit n set: value n allowed).
  public var seconds: UInt64
  public var minutes: UInt64
  public var hours: UInt64
  public var daysOfMonth: UInt64
  public var months: UInt64
  /// Bits 0-6, Sunday = 0.
  public var daysOfWeek: UInt64
  /// Whether the day-of-month / day-of-week field was `*` (for the OR rule).
  public var anyDayOfMonth: Bool
  public var anyDayOfWeek: Bool
  /// The text it was parsed from.
  public var description: String

  /// A parse error: what is wrong, naming the field.
  public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
  }

  static let aliases: [String: String] = [
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
  ]
  static let monthNames = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
  ]
  static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

  /// Parses `text`; throws naming the field and the part that is wrong.
  public init(parsing text: String) throws(ParseError) {
    description = text
    let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    var fields = trimmed
    if fields.count == 1, fields[0].hasPrefix("@") {
      guard let expanded = Self.aliases[fields[0].lowercased()] else {
        throw ParseError(
          message:
            "unknown alias \(fields[0]) (known: \(Self.aliases.keys.sorted().joined(separator: ", ")))"
        )
      }
      fields = expanded.split(separator: " ").map(String.init)
    }
    guard fields.count == 5 || fields.count == 6 else {
      throw ParseError(
        message:
          "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds "
          + "first), got \(fields.count)")
    }
    if fields.count == 5 { fields.insert("0", at: 0) }
    seconds = try Self.field(fields[0], name: "second", range: 0...59)
    minutes = try Self.field(fields[1], name: "minute", range: 0...59)
    hours = try Self.field(fields[2], name: "hour", range: 0...23)
    daysOfMonth = try Self.field(fields[3], name: "day-of-month", range: 1...31)
    months = try Self.field(
      fields[4], name: "month", range: 1...12, names: Self.monthNames, base: 1)
    var dow = try Self.field(fields[5], name: "day-of-week", range: 0...7, names: Self.dayNames)
    if dow & (1 << 7) != 0 { dow = (dow | 1) & ~(1 << 7) }
    daysOfWeek = dow
    anyDayOfMonth = fields[3] == "*" || fields[3] == "?"
    anyDayOfWeek = fields[5] == "*" || fields[5] == "?"
  }

  /// Whether a calendar day matches (month, and day-of-month / day-of-week with cron's OR).
  public func matchesDay(month: Int, day: Int, weekday: Int) -> Bool {
    guard months & (1 << UInt64(month)) != 0 else { return false }
    let dom = daysOfMonth & (1 << UInt64(day)) != 0
    let dow = daysOfWeek & (1 << UInt64(weekday)) != 0
    if anyDayOfMonth && anyDayOfWeek { return true }
    if anyDayOfMonth { return dow }
    if anyDayOfWeek { return dom }
    return dom || dow
  }

  /// The set values of a bit set, ascending.
  public static func values(_ bits: UInt64) -> [Int] {
    (0..<64).filter { bits & (1 << UInt64($0)) != 0 }
  }

  static func field(
    _ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], base: Int = 0
  ) throws(ParseError) -> UInt64 {
    func fail(_ why: String) -> ParseError {
      ParseError(message: "\(name) field \"\(text)\": \(why)")
    }
    func value(_ s: Substring) throws(ParseError) -> Int {
      if let n = Int(s) {
        guard range.contains(n) else {
          throw fail("\(n) is outside \(range.lowerBound)-\(range.upperBound)")
        }
        return n
      }
      if let i = names.firstIndex(of: s.uppercased()) { return i + base }
      throw fail("\"\(s)\" is not a number" + (names.isEmpty ? "" : " or a name"))
    }
    guard !text.isEmpty else { throw fail("empty") }
    var bits: UInt64 = 0
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      guard !part.isEmpty else { throw fail("an empty list item") }
      let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
      guard pieces.count <= 2 else { throw fail("more than one step in \"\(part)\"") }
      var step = 1
      if pieces.count == 2 {
        guard let s = Int(pieces[1]), s >= 1, s <= range.upperBound else {
          throw fail("step \"\(pieces[1])\" must be a number from 1 to \(range.upperBound)")
        }
        step = s
      }
      var low: Int
      var high: Int
      let spec = pieces[0]
      if spec == "*" || spec == "?" {
        low = range.lowerBound
        high = range.upperBound
        if name == "day-of-week" { high = 6 }
      } else if let dash = spec.firstIndex(of: "-") {
        low = try value(spec[..<dash])
        high = try value(spec[spec.index(after: dash)...])
        guard low <= high else { throw fail("range \(spec) runs backwards") }
      } else {
        low = try value(spec)
        high = pieces.count == 2 ? range.upperBound : low
      }
      var v = low
      while v <= high {
        bits |= 1 << UInt64(v)
        v += step
      }
    }
    return bits
  }
}
