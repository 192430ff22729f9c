import Testing

@testable import DroverCore

@Suite struct TimestampTests {
  @Test(arguments: [
    (Int64(0), "1970-01-01T00:00:00.000000Z"),
    (1, "1970-01-01T00:00:00.000001Z"),
    (1_795_450_262_123_456, "2026-11-23T16:11:02.123456Z"),
    (951_782_400_000_000, "2000-02-29T00:00:00.000000Z"),
    (-1, "1969-12-31T23:59:59.999999Z"),
    (-1_000_000, "1969-12-31T23:59:59.000000Z"),
    (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
  ])
  func formatsRFC3339WithMicroseconds(micros: Int64, text: String) {
    let t = Timestamp(micros: micros)
    #expect(t.rfc3339 == text)
    #expect(t.description == text)
    #expect(Timestamp.parse(text) == t)
  }

  @Test func parseAcceptsRFC3339Variants() {
    let t = Timestamp(micros: 1_795_450_262_000_000)
    #expect(Timestamp.parse("2026-11-23T16:11:02Z") == t)
    #expect(Timestamp.parse("2026-11-23t16:11:02z") == t)
    #expect(Timestamp.parse("2026-11-23 16:11:02Z") == t)
    #expect(Timestamp.parse("2026-11-23T16:11:02.5Z") == t.adding(.milliseconds(500)))
    #expect(Timestamp.parse("2026-11-23T16:11:02.000001Z") == t.adding(.microseconds(1)))
    // Digits past microseconds are dropped, not rounded.
    #expect(Timestamp.parse("2026-11-23T16:11:02.123456789Z") == t.adding(.microseconds(123_456)))
  }

  @Test func offsetsConvertToUTC() {
    let utc = Timestamp.parse("2026-11-23T16:11:02Z")
    #expect(utc != nil)
    #expect(Timestamp.parse("2026-11-23T17:41:02+01:30") == utc)
    #expect(Timestamp.parse("2026-11-23T11:11:02-05:00") == utc)
    #expect(Timestamp.parse("2026-11-24T01:11:02+09:00") == utc)
    #expect(Timestamp.parse("2026-11-23T16:11:02+00:00") == utc)
    #expect(Timestamp.parse("2026-11-23T16:11:02-00:00") == utc)
  }

  @Test func roundTripsThroughText() {
    var micros: Int64 = -86_400_000_000 * 365
    while micros < 4_102_444_800_000_000 {  // 2100-01-01
      let t = Timestamp(micros: micros)
      #expect(Timestamp.parse(t.rfc3339) == t)
      micros += 987_654_321_987
    }
  }

  @Test(arguments: [
    "", "garbage", "2026-11-23", "2026-11-23T16:11Z", "2026-11-23T16:11:02",
    "2026-11-23T16:11:02.Z", "2026-11-23T16:11:02.123", "2026-11-23T16:11:02 Z",
    "2026-11-23T16:11:02+0100", "2026-11-23T16:11:02+01", "2026-11-23T16:11:02Zjunk",
    "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-11-00T00:00:00Z",
    "2026-11-31T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
    "2026-11-23T24:00:00Z", "2026-11-23T16:60:00Z", "2026-11-23T16:11:61Z",
    "2026-11-23T16:11:02+24:00", "2026-11-23T16:11:02+01:60", "26-11-23T16:11:02Z",
    "2026/11/23T16:11:02Z", "2026-11-23X16:11:02Z", "２026-11-23T16:11:02Z",
    " 2026-11-23T16:11:02Z", "-2026-11-23T16:11:02Z",
  ])
  func rejectsGarbage(text: String) {
    #expect(Timestamp.parse(text) == nil)
  }

  @Test func leapDaysAreAccepted() {
    #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
    #expect(Timestamp.parse("2000-02-29T00:00:00Z") != nil)
  }

  @Test func ordersAndAdds() {
    let a = Timestamp(micros: 10)
    #expect(a < a.adding(.microseconds(1)))
    #expect(a.adding(.seconds(-1)).micros == 10 - 1_000_000)
  }

  @Test func nowIsRecent() {
    let now = Timestamp.now()
    #expect(now > Timestamp.parse("2024-01-01T00:00:00Z")!)
    #expect(Timestamp.parse(now.rfc3339) == now)
  }

  @Test func durationMicrosecondsTruncateAndSaturate() {
    #expect(Duration.nanoseconds(1999).microseconds == 1)
    #expect(Duration.nanoseconds(-1999).microseconds == -1)
    #expect(Duration.milliseconds(1500).milliseconds == 1500)
    #expect(Duration.seconds(Int64.max).microseconds == .max)
    #expect(Duration.seconds(Int64.min).microseconds == .min)
  }
}
