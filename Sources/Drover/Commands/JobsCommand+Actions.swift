import ArgumentParser
import DroverCore
import DroverStore

extension JobsCommand {
  /// `jobs cancel ID`, or `jobs cancel --state S [--type T] [--dry-run]` for every match.
  struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Cancel a waiting, scheduled, queued or running job, or every job a filter selects.",
      discussion: """
        A waiting, scheduled or queued job is cancelled at once; the jobs waiting on it follow \
        their on_parent_failure (cancelled, or run), or with --cascade are all cancelled, down \
        the whole waiting subtree. For a running job a cancel is \
        requested: the supervisor asks its worker to stop, then stops it by force as for a \
        timeout. Prints the job's id on stdout and what happened on stderr; a job in a final \
        state (completed, cancelled, dead) is refused with exit status 1. With a filter \
        (--state scheduled|queued|running, --type) instead of an ID, every matching job is \
        cancelled, one by one (each on its own; a job that changed meanwhile is skipped), and \
        the ids are printed; --dry-run prints them without cancelling.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id (or a filter instead).")
    var id: JobID?

    @OptionGroup var filter: BulkFilter

    @Flag(help: "Also cancel every job waiting on it, and theirs (its whole waiting subtree).")
    var cascade = false

    func run() throws {
      let context = try CommandContext(options)
      guard let id else {
        let selected = try filter.select(
          allowed: [.waiting, .scheduled, .queued, .running], verb: "cancel", done: "cancelled")
        try BulkFilter.apply(selected, context: context, verb: "cancelled") {
          [cascade] store, job throws(StoreError) in
          _ = try store.cancel(CancelParams(id: job, cascade: cascade))
        }
        return
      }
      try filter.requireNone(withID: true)
      let params = CancelParams(id: id, cascade: cascade)
      switch try context.run({ store throws(StoreError) in try store.cancel(params) }) {
      case .cancelled:
        // Children whose policy is "run" may have been released.
        context.nudgeSupervisor()
        Output.note("job \(id) cancelled" + (cascade ? " with its waiting subtree" : ""))
      case .requested:
        context.nudgeSupervisor()
        Output.note("job \(id) is running: cancel requested; the supervisor will stop it")
      }
      Output.out(String(id))
    }
  }

  /// `jobs retry ID`, or `jobs retry --state dead|cancelled [--type T] [--dry-run]`.
  struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Queue a dead or cancelled job again, or every job a filter selects.",
      discussion: """
        Keeps the job's attempts and errors and grants its attempt budget again on top of the \
        attempts used. Prints the job's id on stdout and the new budget on stderr; any other \
        state is refused with exit status 1. With a filter (--state dead|cancelled, --type) \
        instead of an ID, every matching job is queued again, one by one, and the ids are \
        printed; --dry-run prints them without retrying.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id (or a filter instead).")
    var id: JobID?

    @OptionGroup var filter: BulkFilter

    func run() throws {
      let context = try CommandContext(options)
      guard let id else {
        let selected = try filter.select(
          allowed: [.dead, .cancelled], verb: "retry", done: "retried")
        try BulkFilter.apply(selected, context: context, verb: "queued again") {
          store, job throws(StoreError) in
          _ = try store.retry(RetryParams(id: job))
        }
        return
      }
      try filter.requireNone(withID: true)
      let params = RetryParams(id: id)
      let job = try context.run { store throws(StoreError) in try store.retry(params) }
      context.nudgeSupervisor()
      Output.note(
        "job \(id) is \(job.state.name) again (\(job.attempts) attempts used of "
          + "\(job.maxAttempts))")
      Output.out(String(id))
    }
  }

  /// `jobs delete ID`, or `jobs delete --state S [--type T] [--dry-run]`.
  struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Delete a job that is not running, or every job a filter selects.",
      discussion: """
        Removes the job and its errors from the store for good (its unique key is free \
        again); a running job is refused (cancel it first). The newest job in the store stays \
        (its row keeps its id from being given to the next job). Prints the job's id on \
        stdout; a job that waiting jobs depend on is refused too. With a filter (--state \
        waiting|scheduled|queued|completed|cancelled|dead, --type) \
        instead of an ID, every matching job is deleted, one by one, and the ids are printed; \
        --dry-run prints them without deleting.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id (or a filter instead).")
    var id: JobID?

    @OptionGroup var filter: BulkFilter

    func run() throws {
      let context = try CommandContext(options)
      guard let id else {
        let selected = try filter.select(allowed: deletableStates, verb: "delete", done: "deleted")
        try BulkFilter.apply(selected, context: context, verb: "deleted") {
          store, job throws(StoreError) in
          try store.delete(DeleteParams(id: job))
        }
        return
      }
      try filter.requireNone(withID: true)
      let params = DeleteParams(id: id)
      try context.run { store throws(StoreError) in try store.delete(params) }
      Output.note("job \(id) deleted")
      Output.out(String(id))
    }
  }
}

/// The filter of a bulk `jobs cancel|retry|delete`: which jobs, and whether only to say so.
struct BulkFilter: ParsableArguments {
  @Option(help: "Every job in this state (instead of an ID).")
  var state: String?

  @Option(help: "Only jobs of this type (with --state).")
  var type: String?

  @Flag(help: "Print the ids the filter selects; change nothing.")
  var dryRun = false

  /// The state and type a bulk run selects, checked against the states the verb applies to.
  func select(allowed: [JobState], verb: String, done: String) throws(CLIError) -> Selected {
    guard let state else {
      throw .usage("jobs \(verb): give a job ID, or --state to \(verb) every job in a state")
    }
    let s = try CLIArguments.state(state)
    guard allowed.contains(s) else {
      throw .usage(
        "jobs \(verb) --state: \(s.name) jobs cannot be \(done) "
          + "(valid: \(allowed.map(\.name).joined(separator: ", ")))")
    }
    return Selected(state: s, type: type, dryRun: dryRun)
  }

  /// With an ID, the filter options make no sense: refuse them rather than ignore them.
  func requireNone(withID: Bool) throws(CLIError) {
    if state != nil || type != nil || dryRun {
      throw .usage(
        "--state, --type and --dry-run select jobs instead of an ID; give one or the other")
    }
  }

  struct Selected {
    var state: JobState
    var type: String?
    var dryRun: Bool
  }

  /// Applies `action` to every job `selected` names, a page at a time, printing each id done
  /// (or, dry, each id selected) and a count on stderr. Each job is changed on its own: one that
  /// left the state meanwhile is skipped and counted, never an error for the rest.
  static func apply(
    _ selected: Selected, context: CommandContext, verb: String,
    _ action: (any JobStore, JobID) throws(StoreError) -> Void
  ) throws(CLIError) {
    var seen: Set<JobID> = []
    var done = 0
    var skipped = 0
    var kept = 0
    while true {
      let page = try context.run { store throws(StoreError) in
        try store.list(ListParams(state: selected.state, type: selected.type, limit: 1000))
      }
      // Jobs the action changed leave the filter; a running job's cancel request does not,
      // nor does anything in a dry run: stop once a page holds nothing new.
      let fresh = page.filter { !seen.contains($0.id) }
      if fresh.isEmpty { break }
      for job in fresh {
        seen.insert(job.id)
        if selected.dryRun {
          Output.out(String(job.id))
          done += 1
          continue
        }
        do {
          try action(context.store, job.id)
          Output.out(String(job.id))
          done += 1
        } catch .invalidState, .noSuchJob {
          skipped += 1
        } catch .conflict(let why) {
          // The store keeps this one on purpose (the newest job, for delete): said, not fatal.
          Output.note(why)
          kept += 1
        } catch {
          throw CLIError("\(error) (after \(done) jobs \(verb))")
        }
      }
    }
    if selected.dryRun {
      Output.note("\(done) jobs would be \(verb) (dry run: nothing changed)")
      return
    }
    if done > 0 { context.nudgeSupervisor() }
    Output.note(
      "\(done) jobs \(verb)"
        + (skipped > 0 ? "; \(skipped) changed meanwhile and were skipped" : "")
        + (kept > 0 ? "; \(kept) kept (above)" : ""))
  }
}
