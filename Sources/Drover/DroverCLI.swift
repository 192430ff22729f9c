import ArgumentParser
import DroverCore
public import DroverWorker

#if canImport(Glibc)
  import Glibc
#endif

/// The `drover` command line: the entry point of the stock executable (and of its `worker`
/// children, which are the same executable started again).
public enum DroverCLI {
  /// The handlers `drover worker` can run: the built-ins plus any an embedding application
  /// registered through `main(handlers:)`. Written once, on the main thread, before any
  /// command runs; read-only after that.
  nonisolated(unsafe) static var handlers = HandlerRegistry()

  /// The names a pool's `handler` may take: the registered handlers and `exec`.
  static var knownHandlers: Set<String> { Set(handlers.names + ["exec"]) }

  /// The entry point for an application that embeds Drover with its own Swift handlers:
  /// register them, then call this from its `main.swift`. Pools name them with `handler =`.
  public static func main(handlers: HandlerRegistry) {
    self.handlers = handlers
    main()
  }

  /// Parses the process's arguments, runs the command and exits.
  ///
  /// Errors from a command print one line, `drover: <what went wrong>`, on stderr and exit 1
  /// (64 for a bad argument value). Argument-parser's own errors (unknown flag, missing
  /// argument) keep its usage message and exit 64; `--help` exits 0.
  public static func main() {
    main(Array(CommandLine.arguments.dropFirst()))
  }

  /// `main()` with explicit arguments (without the program name).
  public static func main(_ arguments: [String]) {
    var command: any ParsableCommand
    do {
      command = try DroverCommand.parseAsRoot(arguments)
    } catch {
      DroverCommand.exit(withError: error)
    }
    do {
      try command.run()
    } catch let error as CLIError {
      fail(error.message, code: error.exitCode)
    } catch  where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
      // Argument-parser's own outcomes (ExitCode, CleanExit, ValidationError, and the internal
      // error `help` subcommands throw from run()) print and exit its way.
      DroverCommand.exit(withError: error)
    } catch {
      fail(String(describing: error), code: 1)
    }
    DroverCommand.exit()
  }

  private static func fail(_ message: String, code: Int32) -> Never {
    Output.err("drover: " + message)
    DroverCommand.exit(withError: ExitCode(code))
  }
}

/// The root command, `drover`.
struct DroverCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drover",
    abstract: "A background-job runtime: a supervisor, its worker pools and their job store.",
    discussion: """
      Every command takes --config PATH (default: $DROVER_CONFIG, then ./drover.toml) and \
      loads and validates the whole config first. Results go to stdout; notes, warnings and \
      errors go to stderr, errors as one line `drover: …` with exit status 1 (64 for a bad \
      argument).
      """,
    version: DroverVersion.description,
    subcommands: [
      ServeCommand.self, WorkerCommand.self, EnqueueCommand.self, JobsCommand.self,
      DeadCommand.self, CtlCommand.self, ConfigCommand.self, BenchCommand.self,
      DemoCommand.self, EventsCommand.self, TopCommand.self, SchedulesCommand.self,
      UpgradeProbeCommand.self, JobsCommand.Why.self, AlertsCommand.self,
    ])
}
