public import DroverCore
import Foundation

/// When a schedule fires: a cron expression read in an IANA time zone, or a fixed interval,
/// with its daylight-saving policy. Computes fire instants (slots) in UTC.
///
/// Daylight saving is explicit:
/// - A local time that does not exist (skipped by spring-forward) fires once at the first
///   valid instant after the gap (`onGap = .shift`, marked `dstGapShifted`) or not at all
///   (`.skip`). Several skipped local times shift to the same instant and fire once.
/// - A local time that happens twice (fall-back) fires once, at its first occurrence
///   (`onRepeat = .first`), or at both (`.both`, the second marked `dstRepeat`).
/// - `every` schedules are instants `k × interval` after the Unix epoch: daylight saving does
///   not touch them, and they are the same on every host and after every restart.
public struct ScheduleRule: Sendable {
  public enum Kind: Sendable {
    case cron(CronExpression)
    case every(Duration)
  }

  public enum OnGap: String, Sendable { case shift, skip }
  public enum OnRepeat: String, Sendable { case first, both }

  /// What daylight saving did to one fire.
  public enum DSTNote: String, Sendable {
    case gapShifted = "dst-gap-shifted"
    case repeated = "dst-repeat"
  }

  /// One fire: its UTC instant, the wall-clock time and offset it has in the zone.
  public struct Fire: Sendable, Hashable {
    public var utc: Timestamp
    /// `YYYY-MM-DDTHH:MM:SS`, local time in the schedule's zone.
    public var local: String
    /// Seconds east of UTC at that instant.
    public var offset: Int
    public var dst: DSTNote?

    /// `+01:00`-style.
    public var offsetText: String {
      let sign = offset < 0 ? "-" : "+"
      let a = abs(offset)
      return sign + Self.two(a / 3600) + ":" + Self.two(a % 3600 / 60)
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
  }

  /// A zone name `TimeZone` does not know.
  public struct UnknownZone: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var description: String {
      "unknown time zone \"\(name)\" (an IANA name such as Europe/Berlin)"
    }
  }

  public var kind: Kind
  public var zoneName: String
  public var onGap: OnGap
  public var onRepeat: OnRepeat
  let zone: TimeZone

  public init(
    _ kind: Kind, timeZone: String = "UTC", onGap: OnGap = .shift, onRepeat: OnRepeat = .first
  ) throws(UnknownZone) {
    guard let zone = TimeZone(identifier: timeZone) else { throw UnknownZone(name: timeZone) }
    self.kind = kind
    self.zoneName = timeZone
    self.onGap = onGap
    self.onRepeat = onRepeat
    self.zone = zone
  }

  /// The first `count` fires strictly after `after`, in order. Fewer when the expression
  /// matches nothing within the next ten years (`0 0 30 2 *`).
  public func fires(after: Timestamp, count: Int) -> [Fire] {
    fires(after: after, until: nil, limit: count)
  }

  /// The fires in `(after, through]`, in order, at most `limit`.
  public func fires(after: Timestamp, through: Timestamp, limit: Int = 100_000) -> [Fire] {
    fires(after: after, until: through, limit: limit)
  }

  func fires(after: Timestamp, until: Timestamp?, limit: Int) -> [Fire] {
    guard limit > 0 else { return [] }
    switch kind {
    case .every(let interval):
      let step = max(interval.microseconds, 1)
      var k = after.micros / step + 1
      var out: [Fire] = []
      while out.count < limit {
        let t = Timestamp(micros: k * step)
        if let until, t > until { break }
        out.append(fire(t, note: nil))
        k += 1
      }
      return out
    case .cron(let cron):
      return cronFires(cron, after: after, until: until, limit: limit)
    }
  }

  func cronFires(_ cron: CronExpression, after: Timestamp, until: Timestamp?, limit: Int)
    -> [Fire]
  {
    let afterSeconds = Int(after.micros / 1_000_000) - (after.micros < 0 ? 1 : 0)
    // Start the day before `after`'s local day: with offsets up to ±14 h a slot of that day
    // may still lie after `after`.
    var day = Civil.days(fromSeconds: afterSeconds + offset(at: afterSeconds)) - 1
    let lastDay = day + 366 * 10
    let hours = CronExpression.values(cron.hours)
    let minutes = CronExpression.values(cron.minutes)
    let seconds = CronExpression.values(cron.seconds)
    var found: [Int: DSTNote?] = [:]
    var daysAfterEnough = 0
    while day <= lastDay {
      let (y, m, d) = Civil.date(fromDays: day)
      if cron.matchesDay(month: m, day: d, weekday: Civil.weekday(ofDays: day)) {
        for h in hours {
          for mi in minutes {
            for s in seconds {
              let local = day * 86400 + h * 3600 + mi * 60 + s
              for (t, note) in instants(ofLocal: local) where t > afterSeconds {
                // A regular fire wins over a shifted one at the same instant.
                if let existing = found[t], existing == nil { continue }
                found[t] = note
              }
            }
          }
        }
        _ = y
      }
      if let until, day * 86400 - 14 * 3600 > Int(until.micros / 1_000_000) + 86400 { break }
      if until == nil, found.count >= limit {
        // Two more days: a later day's shifted or repeated instants cannot come earlier.
        daysAfterEnough += 1
        if daysAfterEnough > 2 { break }
      }
      day += 1
    }
    var out: [Fire] = []
    for t in found.keys.sorted() {
      let ts = Timestamp(micros: Int64(t) * 1_000_000)
      if let until, ts > until { break }
      out.append(fire(ts, note: found[t]!))
      if out.count == limit { break }
    }
    return out
  }

  /// The UTC instants (seconds) a local wall time names: one normally, none in a gap (then
  /// the gap's end when shifting), two in a repeated hour (the second only with `.both`).
  func instants(ofLocal local: Int) -> [(Int, DSTNote?)] {
    var offsets: [Int] = []
    for probe in [local - 86400, local, local + 86400] {
      let o = offset(at: probe)
      if !offsets.contains(o) { offsets.append(o) }
    }
    var valid: [Int] = []
    for o in offsets where offset(at: local - o) == o {
      if !valid.contains(local - o) { valid.append(local - o) }
    }
    valid.sort()
    if valid.isEmpty {
      guard onGap == .shift else { return [] }
      // The gap's end: the transition between the two candidates.
      let early = local - offsets.max()!
      let late = local - offsets.min()!
      guard
        let t = zone.nextDaylightSavingTimeTransition(
          after: Date(timeIntervalSince1970: TimeInterval(early - 1)))
      else { return [] }
      let instant = Int(t.timeIntervalSince1970.rounded())
      return instant <= late ? [(instant, .gapShifted)] : []
    }
    if valid.count == 1 { return [(valid[0], nil)] }
    return onRepeat == .both ? [(valid[0], nil), (valid[1], .repeated)] : [(valid[0], nil)]
  }

  func offset(at seconds: Int) -> Int {
    zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
  }

  func fire(_ t: Timestamp, note: DSTNote?) -> Fire {
    let s = Int(t.micros / 1_000_000) - (t.micros < 0 && t.micros % 1_000_000 != 0 ? 1 : 0)
    let o = offset(at: s)
    let local = s + o
    let (y, m, d) = Civil.date(fromDays: Civil.days(fromSeconds: local))
    let r = ((local % 86400) + 86400) % 86400
    let text =
      "\(y)-\(Fire.two(m))-\(Fire.two(d))T\(Fire.two(r / 3600)):\(Fire.two(r % 3600 / 60)):\(Fire.two(r % 60))"
    return Fire(utc: t, local: text, offset: o, dst: note)
  }
}

/// Proleptic Gregorian calendar arithmetic on days since 1970-01-01 (H. Hinnant's algorithms).
enum Civil {
  static func days(fromSeconds s: Int) -> Int { s >= 0 ? s / 86400 : (s - 86399) / 86400 }

  static func days(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
  }

  static func date(fromDays z0: Int) -> (year: Int, month: Int, day: Int) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }

  /// 0 = Sunday.
  static func weekday(ofDays z: Int) -> Int { ((z % 7) + 11) % 7 }
}
