import DroverCore
import DroverSchedule
import Testing

/// Cron parsing, and fire instants across real daylight-saving transitions of real zones
/// (2026 transitions, from the system's tzdata).
@Suite struct ScheduleRuleTests {
  static func at(_ text: String) -> Timestamp { Timestamp.parse(text)! }
  static func rule(
    _ cron: String, _ zone: String, gap: ScheduleRule.OnGap = .shift,
    repeat_: ScheduleRule.OnRepeat = .first
  ) throws -> ScheduleRule {
    try ScheduleRule(
      .cron(try CronExpression(parsing: cron)), timeZone: zone, onGap: gap, onRepeat: repeat_)
  }
  static func utc(_ fires: [ScheduleRule.Fire]) -> [String] { fires.map { $0.utc.rfc3339 } }

  @Test func cronFieldsAliasesAndErrors() throws {
    let c = try CronExpression(parsing: "*/15 9-17 * JAN,jul mon-FRI")
    #expect(CronExpression.values(c.minutes) == [0, 15, 30, 45])
    #expect(CronExpression.values(c.hours) == Array(9...17))
    #expect(CronExpression.values(c.months) == [1, 7])
    #expect(CronExpression.values(c.daysOfWeek) == [1, 2, 3, 4, 5])
    #expect(CronExpression.values(try CronExpression(parsing: "0 0 * * 7").daysOfWeek) == [0])
    #expect(
      CronExpression.values(try CronExpression(parsing: "*/20 * * * * *").seconds) == [0, 20, 40])
    #expect(
      try CronExpression(parsing: "@hourly")
        == CronExpression(parsing: "0 * * * *").withText("@hourly"))
    for (bad, says) in [
      ("* * * *", "expected 5 fields"), ("60 * * * *", "minute field \"60\": 60 is outside 0-59"),
      ("* * * FOO *", "month field \"FOO\""), ("5-1 * * * *", "runs backwards"),
      ("*/0 * * * *", "step"), ("@often", "unknown alias"), ("1,,2 * * * *", "empty list item"),
    ] {
      #expect(throws: CronExpression.ParseError.self) { try CronExpression(parsing: bad) }
      do { _ = try CronExpression(parsing: bad) } catch {
        #expect(error.message.contains(says), "\(bad): \(error)")
      }
    }
  }

  /// Day-of-month and day-of-week both restricted: either matches (Vixie cron).
  @Test func dayOfMonthOrDayOfWeek() throws {
    let r = try Self.rule("0 12 13 * FRI", "UTC")
    let fires = Self.utc(r.fires(after: Self.at("2026-11-01T00:00:00Z"), count: 5))
    #expect(
      fires == [
        "2026-11-06T12:00:00.000000Z", "2026-11-13T12:00:00.000000Z",
        "2026-11-20T12:00:00.000000Z", "2026-11-27T12:00:00.000000Z",
        "2026-12-04T12:00:00.000000Z",
      ])
    let never = try Self.rule("0 0 30 2 *", "UTC")
    #expect(never.fires(after: Self.at("2026-01-01T00:00:00Z"), count: 1).isEmpty)
  }

  /// Berlin, spring forward 2026-03-29 02:00 → 03:00: 02:30 does not exist. Shifted, it fires
  /// once at 03:00 CEST (01:00 UTC); skipped, not at all that day.
  @Test func berlinSpringForwardShiftsOrSkips() throws {
    let from = Self.at("2026-03-28T12:00:00Z")
    let shift = try Self.rule("30 2 * * *", "Europe/Berlin").fires(after: from, count: 2)
    #expect(Self.utc(shift) == ["2026-03-29T01:00:00.000000Z", "2026-03-30T00:30:00.000000Z"])
    #expect(shift[0].dst == .gapShifted && shift[0].local == "2026-03-29T03:00:00")
    #expect(shift[0].offsetText == "+02:00" && shift[1].dst == nil)
    let skip = try Self.rule("30 2 * * *", "Europe/Berlin", gap: .skip).fires(after: from, count: 1)
    #expect(Self.utc(skip) == ["2026-03-30T00:30:00.000000Z"])
    // Every quarter of the skipped hour lands on the same instant: it fires once.
    let quarters = try Self.rule("*/15 2 * * *", "Europe/Berlin").fires(
      after: from, through: Self.at("2026-03-29T12:00:00Z"))
    #expect(Self.utc(quarters) == ["2026-03-29T01:00:00.000000Z"])
    // Hourly: 23 fires that day, none twice, 03:00 not marked (it is a regular slot too).
    let hourly = try Self.rule("0 * * * *", "Europe/Berlin").fires(
      after: Self.at("2026-03-28T22:59:59Z"), through: Self.at("2026-03-29T21:59:59Z"))
    #expect(hourly.count == 23)
    #expect(hourly.allSatisfy { $0.dst == nil })
  }

  /// Berlin, fall back 2026-10-25 03:00 → 02:00: 02:30 happens twice (00:30 and 01:30 UTC).
  @Test func berlinFallBackFiresOnceOrBoth() throws {
    let from = Self.at("2026-10-24T12:00:00Z")
    let first = try Self.rule("30 2 * * *", "Europe/Berlin").fires(after: from, count: 2)
    #expect(Self.utc(first) == ["2026-10-25T00:30:00.000000Z", "2026-10-26T01:30:00.000000Z"])
    let both = try Self.rule("30 2 * * *", "Europe/Berlin", repeat_: .both).fires(
      after: from, count: 3)
    #expect(
      Self.utc(both) == [
        "2026-10-25T00:30:00.000000Z", "2026-10-25T01:30:00.000000Z",
        "2026-10-26T01:30:00.000000Z",
      ])
    #expect(both[0].offsetText == "+02:00" && both[1].offsetText == "+01:00")
    #expect(both[1].dst == .repeated && both[0].dst == nil)
    #expect(both[0].local == both[1].local)
  }

  /// New York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
  @Test func newYorkTransitions() throws {
    let spring = try Self.rule("30 2 * * *", "America/New_York").fires(
      after: Self.at("2026-03-07T12:00:00Z"), count: 1)
    #expect(Self.utc(spring) == ["2026-03-08T07:00:00.000000Z"])
    #expect(spring[0].local == "2026-03-08T03:00:00" && spring[0].offsetText == "-04:00")
    let fall = try Self.rule("30 1 * * *", "America/New_York", repeat_: .both).fires(
      after: Self.at("2026-10-31T12:00:00Z"), count: 2)
    #expect(Self.utc(fall) == ["2026-11-01T05:30:00.000000Z", "2026-11-01T06:30:00.000000Z"])
  }

  /// Lord Howe shifts by 30 minutes: 2026-04-05 02:00 (+11:00) → 01:30 (+10:30), and
  /// 2026-10-04 02:00 (+10:30) → 02:30 (+11:00).
  @Test func lordHoweHalfHourShifts() throws {
    let repeated = try Self.rule("45 1 * * *", "Australia/Lord_Howe", repeat_: .both).fires(
      after: Self.at("2026-04-04T00:00:00Z"), count: 2)
    #expect(Self.utc(repeated) == ["2026-04-04T14:45:00.000000Z", "2026-04-04T15:15:00.000000Z"])
    #expect(repeated.map(\.offsetText) == ["+11:00", "+10:30"])
    let gap = try Self.rule("15 2 * * *", "Australia/Lord_Howe").fires(
      after: Self.at("2026-10-03T00:00:00Z"), count: 1)
    #expect(Self.utc(gap) == ["2026-10-03T15:30:00.000000Z"])
    #expect(gap[0].local == "2026-10-04T02:30:00" && gap[0].dst == .gapShifted)
  }

  /// `every`: multiples of the interval since the epoch, whatever the zone.
  @Test func everyIsAlignedToTheEpoch() throws {
    let r = try ScheduleRule(.every(.seconds(90)), timeZone: "Europe/Berlin")
    let fires = r.fires(after: Self.at("2026-03-29T00:59:00Z"), count: 3)
    #expect(
      Self.utc(fires) == [
        "2026-03-29T01:00:00.000000Z", "2026-03-29T01:01:30.000000Z",
        "2026-03-29T01:03:00.000000Z",
      ])
    #expect(fires[0].local == "2026-03-29T03:00:00" && fires[0].dst == nil)
    #expect(throws: ScheduleRule.UnknownZone.self) {
      try ScheduleRule(.every(.seconds(1)), timeZone: "Mars/Olympus")
    }
  }
}

extension CronExpression {
  func withText(_ text: String) -> CronExpression {
    var c = self
    c.description = text
    return c
  }
}
