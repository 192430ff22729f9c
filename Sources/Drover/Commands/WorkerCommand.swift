import ArgumentParser
import DroverCore
import DroverSystem
import DroverWorker

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
  @Option(name: .customLong("arg"), parsing: .singleValue) var command: [String] = []
  @Option var fd: Int32 = 3

  func run() throws {
    // Die with the supervisor even if it is SIGKILLed (the socket EOF is the second net).
    let parent = getppid()
    _ = try? ParentDeath.arm(signal: SIGKILL, expectedParent: parent)
    WorkerRuntime.run(
      WorkerOptions(
        fd: fd, pool: pool, handler: handler, command: command, concurrency: concurrency,
        heartbeat: .milliseconds(heartbeatMS)),
      registry: DroverCLI.handlers)
  }
}
