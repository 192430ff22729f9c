#if canImport(Glibc)
  import Glibc
#endif

/// A point in wall-clock time, in microseconds since the Unix epoch (UTC).
///
/// The store keeps every time as this integer; the CLI and JSON show it as RFC 3339 with
/// microseconds (`2026-11-23T16:11:02.123456Z`).
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
  /// Microseconds since 1970-01-01T00:00:00Z.
  public var micros: Int64

  /// Wraps a microsecond count.
  public init(micros: Int64) { self.micros = micros }

  /// The current wall-clock time (CLOCK_REALTIME).
  public static func now() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
  }

  public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }

  /// This time moved by `d` (which may be negative), saturating at `Int64.min` / `Int64.max`
  /// microseconds instead of trapping or wrapping: a delay of millions of years is "never",
  /// not a date in the past.
  public func adding(_ d: Duration) -> Timestamp {
    let (sum, overflow) = micros.addingReportingOverflow(d.microseconds)
    return Timestamp(micros: overflow ? (d > .zero ? .max : .min) : sum)
  }

  /// RFC 3339 UTC with six fractional digits, e.g. `2026-11-23T16:11:02.123456Z`.
  public var rfc3339: String {
    var secs = micros / 1_000_000
    var frac = micros % 1_000_000
    if frac < 0 {
      frac += 1_000_000
      secs -= 1
    }
    var t = time_t(secs)
    var parts = tm()
    gmtime_r(&t, &parts)
    func pad(_ v: Int32, _ w: Int) -> String {
      let s = String(v)
      return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    let f = String(frac)
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
      + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
      + String(repeating: "0", count: 6 - f.count) + f + "Z"
  }

  /// Parses RFC 3339 / ISO 8601 date-times: `2026-11-23T16:11:02Z`, with optional fraction
  /// (up to 9 digits, kept to microseconds) and a `Z` or `±HH:MM` offset. Returns nil on
  /// anything else.
  public static func parse(_ text: String) -> Timestamp? {
    let b = Array(text.utf8)
    var i = 0
    func num(_ n: Int) -> Int? {
      guard i + n <= b.count else { return nil }
      var v = 0
      for k in 0..<n {
        let c = b[i + k]
        guard c >= 48, c <= 57 else { return nil }
        v = v * 10 + Int(c - 48)
      }
      i += n
      return v
    }
    func lit(_ c: UInt8) -> Bool {
      guard i < b.count, b[i] == c else { return false }
      i += 1
      return true
    }
    guard let y = num(4), lit(45), let mo = num(2), lit(45), let d = num(2) else { return nil }
    guard i < b.count, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return nil }
    i += 1
    guard let h = num(2), lit(58), let mi = num(2), lit(58), let s = num(2) else { return nil }
    guard (1...12).contains(mo), h < 24, mi < 60, s < 61 else { return nil }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
    let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard (1...monthDays[mo - 1]).contains(d) else { return nil }
    var micros: Int64 = 0
    if lit(46) {
      var digits = 0
      while i < b.count, b[i] >= 48, b[i] <= 57 {
        if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
        digits += 1
        i += 1
      }
      guard digits > 0 else { return nil }
      for _ in digits..<max(digits, 6) { micros *= 10 }
    }
    var offset = 0
    if lit(90) || lit(122) {
    } else if i < b.count, b[i] == 43 || b[i] == 45 {
      let sign = b[i] == 45 ? -1 : 1
      i += 1
      guard let oh = num(2), lit(58), let om = num(2), oh < 24, om < 60 else { return nil }
      offset = sign * (oh * 3600 + om * 60)
    } else {
      return nil
    }
    guard i == b.count else { return nil }
    // Days from civil (Howard Hinnant's algorithm), exact for the proleptic Gregorian calendar.
    let yy = mo <= 2 ? y - 1 : y
    let era = (yy >= 0 ? yy : yy - 399) / 400
    let yoe = yy - era * 400
    let mp = (mo + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146097 + doe - 719468
    let secs = Int64(days) * 86400 + Int64(h * 3600 + mi * 60 + s - offset)
    return Timestamp(micros: secs * 1_000_000 + micros)
  }

  public var description: String { rfc3339 }
}

extension Duration {
  /// Whole microseconds in this duration (truncated toward zero), saturating at `Int64.min` /
  /// `Int64.max` (about ±292,000 years) instead of trapping.
  public var microseconds: Int64 {
    let (s, a) = components
    let (whole, o1) = s.multipliedReportingOverflow(by: 1_000_000)
    if o1 { return s < 0 ? .min : .max }
    let (us, o2) = whole.addingReportingOverflow(a / 1_000_000_000_000)
    if o2 { return a < 0 ? .min : .max }
    return us
  }

  /// Whole milliseconds in this duration (truncated toward zero).
  public var milliseconds: Int64 { microseconds / 1000 }
}
