import ArgumentParser
import DroverCore
import DroverWire

/// `drover ctl …`: steer a running supervisor through its control socket.
struct CtlCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ctl", abstract: "Steer a running supervisor through its control socket.",
    subcommands: [Status.self, Scale.self, Drain.self, Resume.self, Reload.self, Upgrade.self])

  /// Sends one request; an `"ok": false` reply becomes the command's one-line error.
  static func send(_ request: ControlRequest, _ options: ConfigOptions) throws -> JSONValue {
    let config = try options.load()
    var client = try ControlClient(socketPath: config.control.socket)
    defer { client.close() }
    let reply = try client.call(request)
    guard reply["ok"]?.boolValue == true else {
      throw CLIError(reply["error"]?.stringValue ?? "the supervisor refused: \(reply.render())")
    }
    return reply
  }

  struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Supervisor state, pools, workers and job counts.")
    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print the JSON reply.") var json = false

    func run() throws {
      var reply = try CtlCommand.send(.status, options)
      if json {
        if case .object(let f) = reply { reply = .object(f.filter { $0.key != "ok" }) }
        Output.out(reply.render())
        return
      }
      Output.out("supervisor \(reply["pid"]?.intValue ?? 0): \(reply["state"]?.stringValue ?? "?")")
      for p in reply["pools"]?.arrayValue ?? [] {
        let workers = p["workers"]?.arrayValue ?? []
        let busy = workers.filter { $0["busy"]?.boolValue == true }.count
        var flags: [String] = [p["auto"]?.boolValue == true ? "auto" : "pinned"]
        if p["paused"]?.boolValue == true { flags.append("paused") }
        if p["crash_looping"]?.boolValue == true { flags.append("CRASH-LOOPING") }
        Output.out(
          "  pool \(p["name"]?.stringValue ?? "?"): \(workers.count) workers (\(busy) busy), "
            + "target \(p["target"]?.intValue ?? 0) [\(p["min"]?.intValue ?? 0)-\(p["max"]?.intValue ?? 0)] "
            + flags.joined(separator: " "))
        for w in workers { Output.out("    " + Self.workerLine(w)) }
      }
      let jobs = reply["jobs"]
      Output.out(
        "  jobs: "
          + JobState.allCases.map { "\($0.name) \(jobs?[$0.name]?.intValue ?? 0)" }
          .joined(separator: ", "))
    }

    /// `worker 4121: busy #17, 3 done, rss 24.1 MiB, cpu 0.42 s`.
    static func workerLine(_ w: JSONValue) -> String {
      let state =
        w["retiring"]?.boolValue == true
        ? "retiring"
        : w["ready"]?.boolValue != true
          ? "starting" : w["busy"]?.boolValue == true ? "busy" : "idle"
      var s = "worker \(w["pid"]?.intValue ?? 0): \(state)"
      if let job = w["job"]?.intValue { s += " #\(job)" }
      s += ", \(w["jobs_done"]?.intValue ?? 0) done"
      s +=
        ", rss " + (w["rss_bytes"]?.intValue.map { JobRendering.bytes(UInt64(max(0, $0))) } ?? "-")
      s += ", cpu " + (w["cpu_seconds"]?.doubleValue.map { JobRendering.seconds($0) } ?? "-")
      return s
    }
  }

  struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Pin a pool's worker count (min ≤ N ≤ max), or `auto` to autoscale again.")
    @OptionGroup var options: ConfigOptions
    @Argument var pool: String
    @Argument(help: "A worker count, or auto.") var workers: String

    func run() throws {
      let target: ScaleTarget
      if workers == "auto" {
        target = .auto
      } else if let n = Int(workers), n >= 0 {
        target = .count(n)
      } else {
        throw CLIError.usage("workers must be a whole number or \"auto\", got \"\(workers)\"")
      }
      let reply = try CtlCommand.send(.scale(pool: pool, target: target), options)
      Output.err(
        "pool \(pool): target \(reply["target"]?.intValue ?? 0)"
          + (reply["auto"]?.boolValue == true ? " (auto)" : " (pinned)"))
    }
  }

  struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Quiet mode: stop dispatching (one pool or all), let running jobs finish.")
    @OptionGroup var options: ConfigOptions
    @Argument var pool: String?

    func run() throws {
      _ = try CtlCommand.send(.drain(pool: pool), options)
      Output.err(pool.map { "pool \($0) drained" } ?? "all pools drained")
    }
  }

  struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "End quiet mode (one pool or all).")
    @OptionGroup var options: ConfigOptions
    @Argument var pool: String?

    func run() throws {
      _ = try CtlCommand.send(.resume(pool: pool), options)
      Output.err(pool.map { "pool \($0) resumed" } ?? "all pools resumed")
    }
  }

  struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Re-read the config file; a bad one is rejected and the old one kept.")
    @OptionGroup var options: ConfigOptions

    func run() throws {
      _ = try CtlCommand.send(.reload, options)
      Output.err("config reloaded")
    }
  }

  struct Upgrade: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Re-execute the drover binary now on disk in place (same pid), keeping jobs.",
      discussion: """
        The supervisor checks that the new binary starts, hands its listeners, store lock and \
        workers over to it and execs it; workers then roll onto it one at a time as each \
        finishes its job. A binary that cannot start is refused and the old one keeps running.
        """)
    @OptionGroup var options: ConfigOptions

    func run() throws {
      let reply = try CtlCommand.send(.upgrade, options)
      Output.err(
        "upgraded in place: \(reply["from"]?.stringValue ?? "?") → \(reply["to"]?.stringValue ?? "?") "
          + "(pid \(reply["pid"]?.intValue ?? 0), \(reply["took_ms"]?.render() ?? "?") ms)")
    }
  }
}
