import ArgumentParser
import DroverCore

/// `drover config …`.
struct ConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config",
    abstract: "Check a config file.",
    subcommands: [Check.self])
}

extension ConfigCommand {
  /// `config check [PATH]`: the one command that reports a bad config instead of failing on it.
  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Load and validate a config file.",
      discussion: """
        Prints `ok` on stdout and exits 0 when the config is valid; otherwise prints each \
        problem as `file:line: key: message` on stderr and exits 1. PATH wins over --config, \
        which wins over $DROVER_CONFIG, then ./drover.toml.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: ArgumentHelp("The config file to check.", valueName: "path"))
    var path: String?

    func run() throws {
      do {
        _ = try ConfigLoader.load(
          path: options.resolvedPath(explicit: path), knownHandlers: DroverCLI.knownHandlers)
      } catch {
        for problem in error.all { Output.err(problem.description) }
        throw ExitCode(1)
      }
      Output.out("ok")
    }
  }
}
