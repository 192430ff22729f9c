/// Parsing and printing of the config's human durations and sizes.
///
/// Durations: an integer and a unit, `250ms`, `30s`, `5m`, `1h`, `7d` (also `us`); a bare
/// `0` means zero. Sizes: `0`, `512`, `64KiB`, `512MiB`, `2GiB` (also `KB`/`MB`/`GB` as
/// powers of ten, `K`/`M`/`G` as powers of two).
public enum DurationText {
  /// Parses a duration, or returns nil when `text` is not one (negative, no unit, unknown unit,
  /// or longer than `Int64.max` microseconds).
  public static func parse(_ text: String) -> Duration? {
    let t = text.trimmingSpaces()
    if t == "0" { return .zero }
    guard let split = t.firstIndex(where: { !$0.isASCII || !$0.isNumber }), split != t.startIndex,
      let n = Int64(t[..<split])
    else { return nil }
    let unit: Int64
    switch t[split...] {
    case "us": unit = 1
    case "ms": unit = 1000
    case "s": unit = 1_000_000
    case "m": unit = 60_000_000
    case "h": unit = 3_600_000_000
    case "d": unit = 86_400_000_000
    default: return nil
    }
    // Kept within Int64 microseconds (about 292,000 years), so `Duration.microseconds` of
    // anything parsed here is exact; beyond that the text is refused rather than trapping.
    let (us, overflow) = n.multipliedReportingOverflow(by: unit)
    return overflow ? nil : .microseconds(us)
  }

  /// Shortest exact text for `d` in the units `parse` takes (`1500ms`, `30s`, `5m`).
  public static func format(_ d: Duration) -> String {
    let us = d.microseconds
    if us == 0 { return "0" }
    if us % 1000 != 0 { return "\(us)us" }
    let ms = us / 1000
    if ms % 1000 != 0 { return "\(ms)ms" }
    let s = ms / 1000
    if s % 86400 == 0 { return "\(s / 86400)d" }
    if s % 3600 == 0 { return "\(s / 3600)h" }
    if s % 60 == 0 { return "\(s / 60)m" }
    return "\(s)s"
  }

  /// Parses a byte size, or returns nil when `text` is not one.
  public static func parseSize(_ text: String) -> UInt64? {
    let t = text.trimmingSpaces()
    let split = t.firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? t.endIndex
    guard split != t.startIndex, let n = UInt64(t[..<split]) else { return nil }
    let unit: UInt64
    switch t[split...].trimmingSpaces() {
    case "", "B": unit = 1
    case "KiB", "K", "k": unit = 1 << 10
    case "MiB", "M": unit = 1 << 20
    case "GiB", "G": unit = 1 << 30
    case "KB", "kB": unit = 1000
    case "MB": unit = 1_000_000
    case "GB": unit = 1_000_000_000
    default: return nil
    }
    let (v, overflow) = n.multipliedReportingOverflow(by: unit)
    return overflow ? nil : v
  }
}

extension StringProtocol {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
    while let l = s.last, l == " " || l == "\t" { s.removeLast() }
    return String(s)
  }
}
