/// TOML's number grammar: checked by hand, because `Int64(_:)` and `Double(_:)` accept forms
/// TOML forbids (leading zeros, `1.`, `.5`, a bare `_`) and reject `_` separators TOML allows.
enum TOMLNumber {
  enum Parsed: Equatable {
    case integer(Int64)
    case float(Double)
    /// Well formed but outside 64-bit integers or finite doubles.
    case outOfRange
    case invalid
  }

  /// True when `token` starts like a date (`1979-05-27`) or a time (`07:32`).
  static func looksLikeDateTime(_ token: [UInt8]) -> Bool {
    func digits(_ r: Range<Int>) -> Bool { r.allSatisfy { isDecimal(token[$0]) } }
    if token.count >= 5, digits(0..<4), token[4] == UInt8(ascii: "-") { return true }
    if token.count >= 3, digits(0..<2), token[2] == UInt8(ascii: ":") { return true }
    return false
  }

  /// Parses an integer (`42`, `-1_000`, `0xFF`, `0o17`, `0b101`) or a float (`3.14`, `-1e-3`,
  /// `6.02E+23`). `inf` and `nan` are the caller's.
  static func parse(_ t: [UInt8]) -> Parsed {
    if t.count > 2, t[0] == UInt8(ascii: "0") {
      let radix: Int? =
        switch t[1] {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
      if let radix {
        var k = 2
        guard digitRun(t, &k, { digitValue($0).map { $0 < radix } ?? false }), k == t.count
        else { return .invalid }
        let body = String(decoding: t[2...].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        return Int64(body, radix: radix).map(Parsed.integer) ?? .outOfRange
      }
    }
    var k = 0
    if k < t.count, t[k] == UInt8(ascii: "+") || t[k] == UInt8(ascii: "-") { k += 1 }
    let intStart = k
    guard digitRun(t, &k, isDecimal) else { return .invalid }
    // No leading zeros: `0`, `0.5` and `0e1` are fine, `01` and `0_1` are not.
    if t[intStart] == UInt8(ascii: "0"), k - intStart > 1 { return .invalid }
    var isFloat = false
    if k < t.count, t[k] == UInt8(ascii: ".") {
      k += 1
      guard digitRun(t, &k, isDecimal) else { return .invalid }
      isFloat = true
    }
    if k < t.count, t[k] == UInt8(ascii: "e") || t[k] == UInt8(ascii: "E") {
      k += 1
      if k < t.count, t[k] == UInt8(ascii: "+") || t[k] == UInt8(ascii: "-") { k += 1 }
      guard digitRun(t, &k, isDecimal) else { return .invalid }
      isFloat = true
    }
    guard k == t.count else { return .invalid }
    let text = String(decoding: t.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
    if isFloat {
      guard let d = Double(text), d.isFinite else { return .outOfRange }
      return .float(d)
    }
    return Int64(text).map(Parsed.integer) ?? .outOfRange
  }

  /// Consumes `digit (_? digit)*` from `k`: each `_` must sit between two digits. False (with
  /// `k` somewhere inside) when there is no digit at `k` or an `_` is misplaced.
  private static func digitRun(_ t: [UInt8], _ k: inout Int, _ isDigit: (UInt8) -> Bool) -> Bool {
    guard k < t.count, isDigit(t[k]) else { return false }
    k += 1
    while k < t.count {
      if isDigit(t[k]) {
        k += 1
      } else if t[k] == UInt8(ascii: "_") {
        guard k + 1 < t.count, isDigit(t[k + 1]) else { return false }
        k += 2
      } else {
        break
      }
    }
    return true
  }

  private static func isDecimal(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

  private static func digitValue(_ c: UInt8) -> Int? {
    switch c {
    case 0x30...0x39: Int(c - 0x30)
    case 0x41...0x46: Int(c - 0x41 + 10)
    case 0x61...0x66: Int(c - 0x61 + 10)
    default: nil
    }
  }
}
