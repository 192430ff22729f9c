import ArgumentParser
import DroverCore
import DroverStore

extension JobsCommand {
  /// `jobs cancel ID`.
  struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Cancel a scheduled, queued or running job.",
      discussion: """
        A scheduled or queued job is cancelled at once. For a running job a cancel is \
        requested: the supervisor asks its worker to stop, then stops it by force as for a \
        timeout. Prints the job's id on stdout and what happened on stderr; a job in a final \
        state (completed, cancelled, dead) is refused with exit status 1.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id.")
    var id: JobID

    func run() throws {
      let context = try CommandContext(options)
      let params = CancelParams(id: id)
      switch try context.run({ store throws(StoreError) in try store.cancel(params) }) {
      case .cancelled:
        Output.note("job \(id) cancelled")
      case .requested:
        context.nudgeSupervisor()
        Output.note("job \(id) is running: cancel requested; the supervisor will stop it")
      }
      Output.out(String(id))
    }
  }

  /// `jobs retry ID`.
  struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Queue a dead or cancelled job again.",
      discussion: """
        Keeps the job's attempts and errors and grants its attempt budget again on top of the \
        attempts used. Prints the job's id on stdout and the new budget on stderr; any other \
        state is refused with exit status 1.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The job's id.")
    var id: JobID

    func run() throws {
      let context = try CommandContext(options)
      let params = RetryParams(id: id)
      let job = try context.run { store throws(StoreError) in try store.retry(params) }
      context.nudgeSupervisor()
      Output.note(
        "job \(id) is \(job.state.name) again (\(job.attempts) attempts used of "
          + "\(job.maxAttempts))")
      Output.out(String(id))
    }
  }
}
