import ArgumentParser
import DroverCore
import DroverStore
import DroverWire

/// `drover jobs …`: look at and steer single jobs.
struct JobsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "jobs",
    abstract: "List, show, cancel and retry jobs; count them by state.",
    discussion: """
      These work on the store directly, with or without a running supervisor. cancel and \
      retry print the job's id alone on stdout and a sentence on stderr.
      """,
    subcommands: [List.self, Show.self, Cancel.self, Retry.self, Delete.self, Stats.self])
}

/// Shared argument checks of the jobs-side commands.
enum CLIArguments {
  /// A state name as the CLI takes it, or a usage error listing the valid names.
  static func state(_ name: String) throws(CLIError) -> JobState {
    guard let s = JobState(name: name.lowercased()) else {
      throw .usage(
        "unknown state \"\(name)\" (valid states: "
          + JobState.allCases.map(\.name).joined(separator: ", ") + ")")
    }
    return s
  }

  /// A `--limit` value: at least 1.
  static func limit(_ n: Int) throws(CLIError) -> Int {
    guard n >= 1 else { throw .usage("--limit must be at least 1, not \(n)") }
    return n
  }
}

extension JobsCommand {
  /// `jobs list [--state S] [--type T] [--limit N] [--after ID] [--json]`.
  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List jobs, newest first.",
      discussion: """
        --json prints an array of job objects shaped as `jobs show --json`. When the list is \
        cut at --limit, stderr says so, with the total and the --after ID of the next page.
        """)

    @OptionGroup var options: ConfigOptions

    @Option(
      help: "Only jobs in this state: scheduled, queued, running, completed, cancelled, dead.")
    var state: String?

    @Option(help: "Only jobs of this type.")
    var type: String?

    @Option(help: "At most this many jobs.")
    var limit: Int = 100

    @Option(help: "Only jobs older than this id: the next page after a cut list.")
    var after: JobID?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
      let state = try state.map { name throws(CLIError) in try CLIArguments.state(name) }
      let params = ListParams(
        state: state, type: type, limit: try CLIArguments.limit(limit), beforeID: after)
      try CommandContext(options).printJobs(params, json: json)
    }
  }

  /// `jobs show ID [--json]`.
  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show one job with every error it met.",
      discussion: """
        --json keys: id, type, state, priority, attempts, max_attempts, payload (an object), \
        progress, errors [{attempt, message, at, worker_pid}], created_at, run_at, started_at, \
        finished_at (RFC 3339 UTC with microseconds, null until reached), unique_key, \
        worker_pid, cancel_requested, backoff, why (the `drover why` line).
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id.")
    var id: JobID

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
      let context = try CommandContext(options)
      let id = self.id
      guard let job = try context.run({ store throws(StoreError) in try store.job(id) }) else {
        throw CLIError(StoreError.noSuchJob(id).description)
      }
      let why = JobWhy.line(job, context: context)
      if json {
        var v = JobJSON.job(job)
        if case .object(var fields) = v {
          // The store's own `why` says only what holds a waiting job; this is the whole line.
          fields.removeAll { $0.key == "why" }
          fields.append(JSONField("why", .string(why)))
          v = .object(fields)
        }
        Output.out(v.render())
      } else {
        Output.out(JobRendering.detail(job, why: why))
      }
    }
  }

  /// `why ID`: one line on what holds the job (or what became of it).
  struct Why: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "why",
      abstract: "Say in one line why a job is not running (or what became of it).",
      discussion: """
        Waiting on which parents, scheduled for when, its pool drained or crash-looping, no \
        pool running its type, no supervisor running, or ready and waiting for a free worker \
        (with the ready jobs ahead of it); for a running job its attempt and worker, for a \
        finished one its end. The same line is in `jobs show` (`"why"` in --json).
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id.")
    var id: JobID

    func run() throws {
      let context = try CommandContext(options)
      let id = self.id
      guard let job = try context.run({ store throws(StoreError) in try store.job(id) }) else {
        throw CLIError(StoreError.noSuchJob(id).description)
      }
      Output.out(JobWhy.line(job, context: context))
    }
  }

  /// `jobs stats [--window D [--stuck-after D]] [--json]`.
  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Count jobs by state, or a window's finished attempts (works with no supervisor).",
      discussion: """
        --json prints {"waiting": n, "scheduled": n, "queued": n, "running": n, "completed": n, \
        "cancelled": n, "dead": n}. With --window (1h, 15m, 7d): completed, failed (will retry) \
        and dead attempts per type and priority, the error rate, average and p95 run time and \
        queue wait, the last finish, and running jobs past their pool's timeout (or \
        --stuck-after), from per-minute aggregates (see README, "Windowed stats").
        """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Report the finished attempts of this window (e.g. 1h) instead of counts.")
    var window: String?

    @Option(help: "With --window: a running job is stuck after this (default: its pool's timeout).")
    var stuckAfter: String?

    func run() throws {
      if let window {
        return try WindowStatsCommand.run(
          options: options, window: window, stuckAfter: stuckAfter, json: json)
      }
      guard stuckAfter == nil else { throw CLIError.usage("--stuck-after needs --window") }
      let context = try CommandContext(options)
      let stats = try context.run { store throws(StoreError) in try store.stats() }
      Output.out(
        json ? JobJSON.stats(stats).render() : JobRendering.table(stats: stats))
    }
  }
}
