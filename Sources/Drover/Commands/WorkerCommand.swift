import ArgumentParser
import DroverCore
import DroverSystem
import DroverWorker
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `drover worker`: the child side of a pool, started by `drover serve` with its socket on
/// fd 3. Not for people: it exits at once when its supervisor goes away.
struct WorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker", abstract: "Internal: a pool's worker process, started by serve.",
    shouldDisplay: false)

  @Option var pool: String
  @Option var handler: String
  @Option var concurrency: Int = 1
  @Option(name: .customLong("heartbeat-ms")) var heartbeatMS: Int = 1000
  @Option(name: .customLong("idle-heartbeat-ms")) var idleHeartbeatMS: Int?
  @Option(name: .customLong("arg"), parsing: .singleValue) var command: [String] = []
  @Option var fd: Int32 = 3
  @Option(name: .customLong("log-level")) var logLevel: String = "info"

  func run() throws {
    // `ps` and `pgrep drover` find workers by their pool (exec'd through /proc/self/exe, the
    // kernel would name them "exe").
    ProcessTitle.set(name: "drover", title: "drover worker pool=\(pool)")
    // Die with the supervisor even if it is SIGKILLed (the socket EOF is the second net),
    // and take the commands we started along: as the leader of our own process group, a
    // SIGTERM (from the supervisor's staged kill, or as the parent-death signal) SIGKILLs the
    // whole group. A worker started by hand, inside someone else's group, just dies.
    let parent = getppid()
    let signal = OwnProcessGroup.killAllOn(signal: SIGTERM) ? SIGTERM : SIGKILL
    _ = try? ParentDeath.arm(signal: signal, expectedParent: parent)
    // Same stderr and line format as the supervisor's own log (handlers' loggers, exec output).
    LogSetup.bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
    WorkerRuntime.run(
      WorkerOptions(
        fd: fd, pool: pool, handler: handler, command: command, concurrency: concurrency,
        heartbeat: .milliseconds(heartbeatMS),
        idleHeartbeat: idleHeartbeatMS.map { .milliseconds($0) }),
      registry: DroverCLI.handlers)
  }
}
