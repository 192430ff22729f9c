import Testing

@testable import DroverCore

@Suite struct DurationTextTests {
  @Test(arguments: [
    ("0", Duration.zero), ("0s", .zero), ("250us", .microseconds(250)),
    ("250ms", .milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)),
    ("1h", .seconds(3600)), ("7d", .seconds(604_800)), (" 15s\t", .seconds(15)),
    ("0010s", .seconds(10)),
  ])
  func parsesDurations(text: String, expected: Duration) {
    #expect(DurationText.parse(text) == expected)
  }

  @Test(arguments: [
    "", " ", "s", "30", "-1s", "+1s", "1.5s", "1 s", "30sec", "1S", "1w", "10ms5", "٣s", "1e3s",
    "99999999999999999999s", "106751992d", "9223372036855s",
  ])
  func rejectsNonDurations(text: String) {
    #expect(DurationText.parse(text) == nil)
  }

  @Test func theLargestDurationsStillFitInMicroseconds() {
    #expect(DurationText.parse("106751991d") == .seconds(106_751_991 * 86400))
    #expect(DurationText.parse("9223372036854775807us") == .microseconds(Int64.max))
    #expect(DurationText.parse("9223372036854s")?.microseconds == 9_223_372_036_854_000_000)
  }

  @Test(arguments: [
    (Duration.zero, "0"), (.microseconds(1), "1us"), (.microseconds(1500), "1500us"),
    (.milliseconds(1500), "1500ms"), (.seconds(30), "30s"), (.seconds(90), "90s"),
    (.seconds(300), "5m"), (.seconds(7200), "2h"), (.seconds(86400 * 30), "30d"),
    (.seconds(86400 + 3600), "25h"),
  ])
  func formatsShortestExactText(duration: Duration, text: String) {
    #expect(DurationText.format(duration) == text)
    #expect(DurationText.parse(text) == duration)
  }

  @Test(arguments: [
    ("0", UInt64(0)), ("512", 512), ("512B", 512), ("64KiB", 65536), ("64K", 65536),
    ("64k", 65536), ("512MiB", 512 << 20), ("512M", 512 << 20), ("2GiB", 2 << 30),
    ("2G", 2 << 30), ("3KB", 3000), ("3kB", 3000), ("5MB", 5_000_000), ("2GB", 2_000_000_000),
    (" 1 GiB ", 1 << 30), ("18446744073709551615", .max),
  ])
  func parsesSizes(text: String, expected: UInt64) {
    #expect(DurationText.parseSize(text) == expected)
  }

  @Test(arguments: [
    "", "MiB", "-1", "1.5GiB", "1TiB", "1 mb", "12x", "18446744073709551616",
    "17179869184GiB",
  ])
  func rejectsNonSizes(text: String) {
    #expect(DurationText.parseSize(text) == nil)
  }
}
