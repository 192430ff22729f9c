import ArgumentParser
import DroverCore
import DroverSchedule
import DroverStore

/// `drover schedules …`: the config's cron and interval schedules.
struct SchedulesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedules", abstract: "List schedules and preview when they fire.",
    subcommands: [List.self, Show.self, Preview.self, Pause.self, Resume.self, Trigger.self])

  /// The rule a schedule's config describes.
  static func rule(_ s: ScheduleConfig) throws(CLIError) -> ScheduleRule {
    do {
      return try ScheduleRule(s)
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

  /// `schedules show NAME`.
  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "One schedule: its rule, whether paused, its newest slot and job, its next fires.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() throws {
      let context = try CommandContext(options)
      let s = try SchedulesCommand.schedule(name, in: context.config)
      let paused = try context.run { store throws(StoreError) in try store.pausedSchedules() }
      let last = try context.run { store throws(StoreError) in try store.lastSlots() }[name]
      Output.out("schedule \(s.name): \(SchedulesCommand.whenText(s)) in \(s.timezone)")
      Output.out("  job: type \(s.type), payload \(s.payload.render()), priority \(s.priority)")
      Output.out(
        "  on_gap \(s.onGap.rawValue), on_repeat \(s.onRepeat.rawValue), catch_up "
          + "\(s.catchUp.rawValue) (limit \(s.catchUpLimit)), overlap \(s.overlap.rawValue)")
      Output.out("  state: " + (paused.contains(name) ? "paused" : "active"))
      Output.out(
        "  newest slot: "
          + (last.map {
            "\($0.slot.rfc3339) → " + ($0.job.map { "job \($0)" } ?? "passed without a job")
          }
            ?? "none yet"))
      for f in try SchedulesCommand.rule(s).fires(after: .now(), count: 5) {
        Output.out(
          "  next: \(f.utc.rfc3339)  \(f.local)  \(f.offsetText)"
            + (f.dst.map { "  \($0.rawValue)" } ?? ""))
      }
    }
  }

  /// `schedules pause NAME` / `schedules resume NAME`.
  struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Pause a schedule: its slots pass without a job until it is resumed.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The schedule's name.") var name: String
    func run() throws { try SchedulesCommand.setPaused(name, true, options) }
  }

  struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Resume a paused schedule from its next slot (missed ones are not run).")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The schedule's name.") var name: String
    func run() throws { try SchedulesCommand.setPaused(name, false, options) }
  }

  static func setPaused(_ name: String, _ paused: Bool, _ options: ConfigOptions) throws {
    let context = try CommandContext(options)
    _ = try schedule(name, in: context.config)
    try context.run { store throws(StoreError) in try store.setSchedulePaused(name, paused) }
    context.nudgeSupervisor()
    Output.note("schedule \(name) \(paused ? "paused" : "resumed")")
  }

  /// `schedules trigger NAME`: one run now, outside the slots.
  struct Trigger: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Enqueue the schedule's job now, once, outside its slots; prints the job id.",
      discussion: "The job's unique key is schedule:NAME:manual:TIME; slots are not touched.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() throws {
      let context = try CommandContext(options)
      let s = try SchedulesCommand.schedule(name, in: context.config)
      let now = Timestamp.now()
      let params = EnqueueParams(
        type: s.type, payload: s.payload.render(), priority: s.priority, runAt: now,
        maxAttempts: context.config.pool(forType: s.type)?.maxAttempts ?? 20,
        uniqueKey: "schedule:\(s.name):manual:\(now.rfc3339)", now: now,
        maxPayload: context.config.store.maxPayload)
      let id = try context.run { store throws(StoreError) in try store.enqueue([params])[0].id }
      context.nudgeSupervisor()
      Output.out(String(id))
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
