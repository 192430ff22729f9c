import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// `drover schedules list|preview` and `[schedules.NAME]` errors, with the real binary.
@Suite("CLI: schedules")
struct CLISchedulesTests {
  static let config = """
    [store]
    path = "var/drover.db"

    [pools.reports]
    types = ["report.daily"]

    [schedules.nightly]
    cron = "30 2 * * *"
    timezone = "Europe/Berlin"
    type = "report.daily"
    payload = { kind = "full" }

    [schedules.tick]
    every = "90s"
    type = "report.daily"
    """

  /// The contract's line format, and its JSON, across Berlin's spring-forward.
  @Test func previewMarksDaylightSavingShifts() throws {
    let f = try CLIFixture(config: Self.config)
    let r = try f.drover([
      "schedules", "preview", "nightly", "--from", "2026-03-28T12:00:00Z", "--count", "2",
    ])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(
      r.stdoutText == """
        2026-03-29T01:00:00.000000Z  2026-03-29T03:00:00  +02:00  dst-gap-shifted
        2026-03-30T00:30:00.000000Z  2026-03-30T02:30:00  +02:00

        """)
    let j = try f.drover([
      "schedules", "preview", "nightly", "--from", "2026-03-28T12:00:00Z", "--count", "1",
      "--json",
    ])
    let fires = try JSONValue.parse(j.stdoutText).arrayValue ?? []
    #expect(fires.count == 1)
    #expect(fires.first?["dst"]?.stringValue == "dst-gap-shifted")
    #expect(fires.first?["offset"]?.stringValue == "+02:00")
    let list = try f.drover(["schedules", "list"])
    #expect(list.stdoutText.contains(#"nightly  cron "30 2 * * *"  Europe/Berlin"#))
    #expect(list.stdoutText.contains("tick  every 90s  UTC"), "\(list.stdoutText)")
    let unknown = try f.drover(["schedules", "preview", "weekly"])
    #expect(unknown.exitCode != 0)
    #expect(unknown.stderrText.contains("known: nightly, tick"), "\(unknown.stderrText)")
  }

  /// Every problem of every schedule, named by key and line.
  @Test func badSchedulesAreNamed() throws {
    let f = try CLIFixture()
    let bad = try f.write(
      "bad.toml",
      """
      [pools.p]

      [schedules.a]
      cron = "61 * * * *"
      type = "p"

      [schedules.b]
      cron = "0 * * * *"
      every = "1m"
      type = "p"

      [schedules.c]
      every = "1m"
      timezone = "Europe/Atlantis"
      on_gap = "later"

      """)
    let r = try f.drover(["config", "check", bad], config: false)
    #expect(r.exitCode == 1)
    let want = [
      "bad.toml:4: schedules.a.cron: minute field \"61\": 61 is outside 0-59",
      "schedules.b.every: give cron or every, not both",
      "bad.toml:12: schedules.c: needs type",
      "bad.toml:14: schedules.c.timezone: unknown time zone \"Europe/Atlantis\"",
      "bad.toml:15: schedules.c.on_gap: must be \"shift\" or \"skip\", got \"later\"",
    ]
    for w in want { #expect(r.stderrText.contains(w), "\(w) in:\n\(r.stderrText)") }
  }
}
