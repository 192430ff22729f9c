import ArgumentParser
import DroverCore
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `drover events`: the supervisor's lifecycle events (after they are durable), one per line.
struct EventsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events",
    abstract: "Print lifecycle events: the recent ones, or follow them live.",
    discussion: """
      Without --follow, prints the recent events the running supervisor keeps (its last 1000 \
      failures, dead and cancelled jobs, rescues, worker exits and pool changes) and exits; \
      with --follow, prints them and then every new event, each job's start and completion \
      included, until interrupted. A subscriber that falls behind loses events and is told \
      how many (`events_lost`).
      """)

  @OptionGroup var options: ConfigOptions
  @Flag(name: .shortAndLong, help: "Keep printing new events as they happen.") var follow = false
  @Option(help: "Only events about jobs of this type.") var type: String?
  @Flag(help: "One JSON object per line.") var json = false

  func run() throws {
    let config = try options.load()
    var client = try ControlClient(socketPath: config.control.socket)
    defer { client.close() }
    let greeting = try client.call(.events(type: type, replay: true))
    guard greeting["ok"]?.boolValue == true else {
      throw CLIError(
        greeting["error"]?.stringValue ?? "the supervisor refused: \(greeting.render())")
    }
    var left = Int(greeting["replayed"]?.intValue ?? 0)
    while follow || left > 0 {
      guard let line = try client.readLine(timeout: follow ? nil : .seconds(10)) else {
        if follow { throw CLIError("the supervisor closed the event stream") }
        break
      }
      left -= 1
      if json {
        Output.out(line)
      } else if let v = try? JSONValue.parse(line) {
        Output.out(LifecycleEvent.line(v))
      }
      if follow { fflush(nil) }
    }
  }
}
