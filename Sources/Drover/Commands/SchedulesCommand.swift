import ArgumentParser
import DroverCore
import DroverSchedule

/// `drover schedules …`: the config's cron and interval schedules.
struct SchedulesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedules", abstract: "List schedules and preview when they fire.",
    subcommands: [List.self, Preview.self])

  /// The rule a schedule's config describes.
  static func rule(_ s: ScheduleConfig) throws(CLIError) -> ScheduleRule {
    let kind: ScheduleRule.Kind
    switch s.when {
    case .cron(let c): kind = .cron(c)
    case .every(let d): kind = .every(d)
    }
    do {
      return try ScheduleRule(
        kind, timeZone: s.timezone, onGap: s.onGap == .shift ? .shift : .skip,
        onRepeat: s.onRepeat == .first ? .first : .both)
    } catch {
      throw CLIError("schedules.\(s.name).timezone: \(error)")
    }
  }

  static func schedule(_ name: String, in config: DroverConfig) throws(CLIError) -> ScheduleConfig {
    guard let s = config.schedules.first(where: { $0.name == name }) else {
      let known = config.schedules.map(\.name)
      throw CLIError(
        "no schedule named \"\(name)\" ("
          + (known.isEmpty ? "the config has none" : "known: " + known.joined(separator: ", "))
          + ")")
    }
    return s
  }

  static func whenText(_ s: ScheduleConfig) -> String {
    switch s.when {
    case .cron(let c): "cron \"\(c.description)\""
    case .every(let d): "every \(DurationText.format(d))"
    }
  }

  /// `schedules list`.
  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Each schedule: when it fires, its zone, its job and its next fire.")
    @OptionGroup var options: ConfigOptions

    func run() throws {
      let config = try options.load()
      if config.schedules.isEmpty { Output.note("the config has no [schedules.NAME] tables") }
      for s in config.schedules {
        let next = try SchedulesCommand.rule(s).fires(after: .now(), count: 1).first
        Output.out(
          "\(s.name)  \(SchedulesCommand.whenText(s))  \(s.timezone)  type \(s.type)  next "
            + (next.map { "\($0.utc.rfc3339) (\($0.local)\($0.offsetText))" } ?? "never"))
      }
    }
  }

  /// `schedules preview NAME [--from TIME] [--count N] [--json]`.
  struct Preview: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The next fire instants of a schedule, in UTC and local time.",
      discussion: """
        One line per fire: SLOT_UTC  LOCAL_TIME  OFFSET  [dst-gap-shifted|dst-repeat]. --json \
        prints [{"utc", "local", "offset", "dst"}] (dst null when daylight saving did nothing).
        """)
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The schedule's name.") var name: String
    @Option(help: "Start after this instant (RFC 3339, e.g. 2026-03-28T00:00:00Z; default now).")
    var from: String?
    @Option(help: "How many fires (1-10000).") var count: Int = 10
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
      guard (1...10_000).contains(count) else {
        throw CLIError.usage("--count must be between 1 and 10000, not \(count)")
      }
      let config = try options.load()
      let s = try SchedulesCommand.schedule(name, in: config)
      var start = Timestamp.now()
      if let from {
        guard let t = Timestamp.parse(from) else {
          throw CLIError.usage(
            "--from: \"\(from)\" is not an RFC 3339 time such as 2026-03-28T00:00:00Z")
        }
        start = t
      }
      let fires = try SchedulesCommand.rule(s).fires(after: start, count: count)
      if json {
        Output.out(
          JSONValue.array(
            fires.map {
              .object([
                JSONField("utc", .string($0.utc.rfc3339)), JSONField("local", .string($0.local)),
                JSONField("offset", .string($0.offsetText)),
                JSONField("dst", $0.dst.map { .string($0.rawValue) } ?? .null),
              ])
            }
          ).render())
        return
      }
      for f in fires {
        Output.out(
          "\(f.utc.rfc3339)  \(f.local)  \(f.offsetText)" + (f.dst.map { "  \($0.rawValue)" } ?? "")
        )
      }
      if fires.count < count { Output.note("only \(fires.count) fires in the next ten years") }
    }
  }
}
