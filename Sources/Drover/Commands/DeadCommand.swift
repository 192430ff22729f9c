import ArgumentParser
import DroverCore
import DroverStore

/// `drover dead …`: the dead-letter queue.
struct DeadCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dead",
    abstract: "List and requeue dead jobs (the dead-letter queue).",
    subcommands: [List.self, Requeue.self])
}

extension DeadCommand {
  /// `dead list [--json] [--limit N]`.
  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List dead jobs, newest first, with their last error.",
      discussion: "--json prints an array of job objects shaped as `jobs show --json`.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "At most this many jobs.")
    var limit: Int = 100

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
      let params = ListParams(state: .dead, limit: try CLIArguments.limit(limit))
      try CommandContext(options).printJobs(params, json: json)
    }
  }

  /// `dead requeue ID|--all`.
  struct Requeue: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Queue dead jobs again: one by id, or all of them.",
      discussion: """
        Keeps each job's attempts and errors and grants its attempt budget again on top of the \
        attempts used. With an ID, prints that id on stdout (a job that is not dead is refused \
        with exit status 1); with --all, prints the number of jobs requeued.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The dead job's id.")
    var id: JobID?

    @Flag(help: "Requeue every dead job.")
    var all = false

    func validate() throws {
      if all == (id != nil) { throw ValidationError("give either a job ID or --all") }
    }

    func run() throws {
      let context = try CommandContext(options)
      if let id {
        let job = try context.run { store throws(StoreError) in try store.job(id) }
        guard let job else { throw CLIError(StoreError.noSuchJob(id).description) }
        guard job.state == .dead else {
          throw CLIError(
            StoreError.invalidState(
              id: id, state: job.state, operation: "requeue", allowed: [.dead]
            ).description)
        }
        let params = RequeueDeadParams(ids: [id])
        let n = try context.run { store throws(StoreError) in try store.requeueDead(params) }
        guard n == 1 else {
          throw CLIError("job \(id) was not requeued: it left the dead-letter queue meanwhile")
        }
        context.nudgeSupervisor()
        Output.note("job \(id) requeued")
        Output.out(String(id))
      } else {
        let params = RequeueDeadParams()
        let n = try context.run { store throws(StoreError) in try store.requeueDead(params) }
        if n > 0 { context.nudgeSupervisor() }
        Output.note("\(n) dead job\(n == 1 ? "" : "s") requeued")
        Output.out(String(n))
      }
    }
  }
}
