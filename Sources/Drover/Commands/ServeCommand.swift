import ArgumentParser
import DroverCore
import DroverHTTP
import DroverSupervisor
import DroverSystem
import DroverTracing
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `drover serve`: the supervisor in the foreground (systemd's Type=notify main process).
struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the supervisor in the foreground.",
    discussion: """
      Spawns every pool's workers, dispatches jobs from the store, and answers on the control \
      socket. SIGTERM/SIGINT drain (running jobs finish within drain_timeout) and exit 0; \
      SIGHUP reloads the config; SIGUSR2 (like `ctl upgrade`) re-executes the binary on disk in place.
      """)

  @OptionGroup var options: ConfigOptions
  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: String = "info"
  @Option(help: .hidden) var workerExecutable: String?
  @Option(help: .hidden) var heartbeatMS: Int?
  @Option(help: .hidden) var heartbeatTimeoutMS: Int?
  @Option(help: .hidden) var stopGraceMS: Int?
  @Option(help: .hidden) var pruneIntervalMS: Int?
  @Option(help: .hidden) var clientStallMS: Int?

  func run() throws {
    // Before any other thread exists: signals are read from a signalfd by the loop.
    try Signals.blockForProcess([SIGTERM, SIGINT, SIGHUP, SIGUSR2])
    signal(SIGPIPE, SIG_IGN)
    let supervisor: Supervisor
    do {
      supervisor = try makeSupervisor()
    } catch {
      // The new image of an in-place upgrade that cannot start goes back to the old one
      // (same process, same state); an ordinary start just fails.
      Supervisor.rollBackFailedUpgrade(because: "could not start: \(error)")
      throw error
    }
    // The HTTP API binds before the loop starts: a taken port fails `serve` at once.
    let http: HTTPServer?
    do {
      http = try supervisor.currentConfig.http.map { _ in
        try HTTPServer(
          config: supervisor.currentConfig, supervisor: supervisor,
          thresholds: HealthThresholds(config: supervisor.currentConfig),
          logger: Logger(label: "drover.http"))
      }
    } catch {
      Supervisor.rollBackFailedUpgrade(because: "could not start the HTTP API: \(error)")
      throw CLIError("\(error)")
    }
    if let http { Output.note("http listening on \(http.boundAddress)") }
    let alerts = ServeAlerts(supervisor)
    defer { alerts.stop() }
    // `[tracing]` is read at start (a reload does not start, stop or move the exporter).
    let tracing = supervisor.currentConfig.tracing.map {
      TraceExporter(config: $0, events: supervisor.events, logger: Logger(label: "drover.tracing"))
    }
    tracing?.start()
    defer { tracing?.stop() }
    let code: Int32
    do { code = try supervisor.run() } catch { throw CLIError("\(error)") }
    http?.stop()
    throw ExitCode(code)
  }

  /// Loads the config and builds the supervisor (nothing runs yet).
  func makeSupervisor() throws -> Supervisor {
    let path = options.resolvedPath()
    let config = try options.load()
    try Directories.makeParents(for: config)
    guard let level = Logger.Level(rawValue: logLevel) else {
      throw CLIError.usage("--log-level: unknown level \"\(logLevel)\"")
    }
    LogSetup.bootstrap(level: level, format: config.log.format)
    var opts = SupervisorOptions(
      configPath: path,
      // The literal /proc/self/exe: after a package upgrade replaces the file, workers still
      // run the same binary as their supervisor (same protocol version).
      workerExecutable: workerExecutable ?? "/proc/self/exe")
    opts.lease = config.store.lease
    opts.leaseRenewal = config.store.heartbeat
    if let ms = heartbeatMS { opts.heartbeatInterval = .milliseconds(ms) }
    if let ms = heartbeatTimeoutMS { opts.heartbeatTimeout = .milliseconds(ms) }
    if let ms = stopGraceMS { opts.stopGrace = .milliseconds(ms) }
    if let ms = pruneIntervalMS { opts.pruneInterval = .milliseconds(ms) }
    opts.knownHandlers = DroverCLI.knownHandlers
    if let ms = clientStallMS { opts.clientStallLimit = .milliseconds(ms) }
    do {
      return try Supervisor(
        config: config, options: opts, logger: Logger(label: "drover.supervisor"))
    } catch {
      throw CLIError("\(error)")
    }
  }
}
