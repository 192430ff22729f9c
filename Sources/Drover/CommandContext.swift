import ArgumentParser
import DroverCore
import DroverStore
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `--config PATH`, shared by every command.
struct ConfigOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "The config file (default: $DROVER_CONFIG, then ./drover.toml).", valueName: "path"))
  var config: String?

  /// The config file to use: `explicit` (a positional path) over `--config` over
  /// `$DROVER_CONFIG` over `./drover.toml`.
  func resolvedPath(explicit: String? = nil) -> String {
    var environment: [String: String] = [:]
    if let v = getenv("DROVER_CONFIG") { environment["DROVER_CONFIG"] = String(cString: v) }
    return ConfigLoader.resolvePath(explicit: explicit ?? config, environment: environment)
  }

  /// A config error as one line: the first problem, and how many more `config check` lists.
  static func oneLine(_ error: ConfigError) -> String {
    let more = error.others.count
    guard more > 0 else { return error.description }
    return error.description
      + " (and \(more) more problem\(more == 1 ? "" : "s"): drover config check)"
  }

  /// Loads and validates the whole config, or fails with its one-line error.
  func load() throws(CLIError) -> DroverConfig {
    do {
      return try ConfigLoader.load(path: resolvedPath(), knownHandlers: DroverCLI.knownHandlers)
    } catch {
      throw CLIError(Self.oneLine(error))
    }
  }
}

/// What a jobs-side command works with: the validated config and the open store.
struct CommandContext {
  var config: DroverConfig
  var store: any JobStore

  /// Loads the config named by `options` and opens its store (creating it when missing).
  init(_ options: ConfigOptions) throws(CLIError) {
    try self.init(config: options.load())
  }

  /// Opens the store of an already loaded `config`.
  init(config: DroverConfig) throws(CLIError) {
    self.config = config
    // Created when missing, like the store file itself: the default `var/drover.db` just works.
    if config.store.url == nil { try Directories.makeParents(of: config.store.path) }
    do {
      // Refuses a PostgreSQL `store.url` with its one-line "store.url: …" error.
      store = try StoreFactory.open(config.store)
    } catch {
      throw CLIError(error.description)
    }
  }

  /// Refuses a config this build cannot serve: a PostgreSQL `store.url`.
  /// Prints the jobs `params` selects: a table, or a JSON array of `jobs show` objects.
  ///
  /// One row more than the limit is read to tell whether the page was cut; when it was, a note
  /// on stderr gives the total (from the store's counters, not a scan) and the `--after` that
  /// reads the next page, so stdout stays a clean table or JSON array.
  func printJobs(_ params: ListParams, json: Bool) throws(CLIError) {
    var wide = params
    wide.limit = params.limit + 1
    var jobs = try run { store throws(StoreError) in try store.list(wide) }
    let cut = jobs.count > params.limit
    if cut { jobs.removeLast() }
    Output.out(
      json ? JSONValue.array(jobs.map(JobJSON.job)).render() : JobRendering.table(jobs))
    guard cut, let last = jobs.last else { return }
    let counts = try run { store throws(StoreError) in try store.counts() }
    let total = counts.filter { params.type == nil || $0.key == params.type }.values
      .reduce(0) { sum, byState in
        sum + byState.filter { params.state == nil || $0.key == params.state }.values.reduce(0, +)
      }
    let of = params.beforeID == nil ? " of \(total)" : ""
    Output.err(
      "showing \(jobs.count)\(of) jobs (cut at --limit \(params.limit)); "
        + "the next page: --after \(last.id)")
  }

  /// Runs one store call, turning its error into the command's one-line error.
  func run<T>(_ body: (any JobStore) throws(StoreError) -> T) throws(CLIError) -> T {
    do {
      return try body(store)
    } catch {
      throw CLIError(error.description)
    }
  }

  /// Tells a running supervisor to look at the store now (best effort; see `SupervisorNudge`).
  func nudgeSupervisor() {
    SupervisorNudge.wake(socketPath: config.control.socket)
  }
}
