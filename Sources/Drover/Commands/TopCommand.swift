import ArgumentParser
import DroverCore
import DroverStore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `drover top`: a live view of a running supervisor and its store, redrawn in place.
struct TopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "top",
    abstract: "A live view: pools, workers and their jobs, throughput, queues, recent failures.",
    discussion: """
      Redraws every --interval; q (or Ctrl-C) quits. Reads the supervisor's status over the \
      control socket and the store read-only; without a running supervisor it still shows \
      the store. With --once (or when standard input is not a terminal) it prints one frame.
      """)

  @OptionGroup var options: ConfigOptions
  @Option(help: "Seconds between frames.") var interval: Double = 1
  @Flag(help: "Print one frame and exit.") var once = false

  func run() throws {
    guard interval >= 0.1, interval <= 3600 else {
      throw CLIError.usage("--interval must be between 0.1 and 3600 seconds, not \(interval)")
    }
    let config = try options.load()
    let store: any JobStore
    do { store = try StoreFactory.open(config.store, access: .readOnly) } catch {
      throw CLIError(error.description)
    }
    var view = TopView(config: config, store: store)
    guard !once, let terminal = Terminal() else {
      Output.out(view.frame(width: 120).joined(separator: "\n"))
      return
    }
    terminal.enterRawMode()
    defer { terminal.restore() }
    let period = Duration.milliseconds(Int64(interval * 1000))
    while true {
      terminal.draw(view.frame(width: terminal.size.columns))
      let until = ContinuousClock.now + period
      while ContinuousClock.now < until {
        guard let key = terminal.key(within: until - ContinuousClock.now) else { continue }
        if key == UInt8(ascii: "q") || key == 3 { return }
      }
    }
  }
}

/// One frame of `drover top`, built from the supervisor's status and the store.
struct TopView {
  let config: DroverConfig
  let store: any JobStore
  /// Completed jobs at the previous frame, and when: for the throughput.
  var last: (completed: Int, at: ContinuousClock.Instant)?

  init(config: DroverConfig, store: any JobStore) {
    self.config = config
    self.store = store
  }

  mutating func frame(width: Int) -> [String] {
    var lines = ["drover top — \(Timestamp.now().rfc3339)   (q quits)", ""]
    let status = Self.status(config.control.socket)
    let counts = (try? store.counts()) ?? [:]
    var totals: [JobState: Int] = [:]
    for (_, byState) in counts { for (s, n) in byState { totals[s, default: 0] += n } }

    let completed = totals[.completed] ?? 0
    let now = ContinuousClock.now
    var rate = "—"
    if let last, now > last.at {
      let seconds =
        Double((now - last.at).components.attoseconds) / 1e18
        + Double((now - last.at).components.seconds)
      rate = String(Int((Double(completed - last.completed) / seconds).rounded())) + "/s"
    }
    last = (completed, now)

    if let status {
      lines.append(
        "supervisor \(status["pid"]?.intValue ?? 0): \(status["state"]?.stringValue ?? "?")"
          + "   completed \(rate)   worst loop turn "
          + String(format1(status["loop"]?["turn_max_ms"]?.doubleValue ?? 0)) + " ms")
    } else {
      lines.append("supervisor: not reachable at \(config.control.socket)   completed \(rate)")
    }
    lines.append(
      "jobs: " + JobState.allCases.map { "\($0.name) \(totals[$0] ?? 0)" }.joined(separator: "  "))
    lines.append("")

    lines.append("POOL / WORKER          STATE       JOBS DONE  RSS        CPU       JOB")
    for p in status?["pools"]?.arrayValue ?? [] {
      var flags = [p["auto"]?.boolValue == true ? "auto" : "pinned"]
      if p["paused"]?.boolValue == true { flags.append("paused") }
      if p["crash_looping"]?.boolValue == true { flags.append("CRASH-LOOPING") }
      let workers = p["workers"]?.arrayValue ?? []
      lines.append(
        "\(p["name"]?.stringValue ?? "?")  \(workers.count)/\(p["target"]?.intValue ?? 0) workers "
          + "[\(p["min"]?.intValue ?? 0)-\(p["max"]?.intValue ?? 0)] "
          + flags.joined(separator: " "))
      for w in workers {
        let state =
          w["retiring"]?.boolValue == true
          ? "retiring"
          : w["ready"]?.boolValue != true
            ? "starting" : w["busy"]?.boolValue == true ? "busy" : "idle"
        let ran = w["job_running_ms"]?.doubleValue.map { String(format: " for %.1fs", $0 / 1000) }
        let claimed = w["claimed"]?.arrayValue?.count ?? 0
        let job =
          (w["job"]?.intValue.map { "#\($0)" + (ran ?? "") } ?? "")
          + (claimed > 0 ? " (+\(claimed) claimed, not started)" : "")
        lines.append(
          "  pid " + pad("\(w["pid"]?.intValue ?? 0)", 17) + pad(state, 12)
            + pad("\(w["jobs_done"]?.intValue ?? 0)", 11)
            + pad(
              w["rss_bytes"]?.intValue.map { JobRendering.bytes(UInt64(max(0, $0))) } ?? "-", 11)
            + pad(w["cpu_seconds"]?.doubleValue.map { JobRendering.seconds($0) } ?? "-", 10)
            + job)
      }
    }
    lines.append("")

    lines.append("TYPE                    QUEUED  SCHEDULED  WAITING  RUNNING  DEAD")
    for type in counts.keys.sorted() {
      let c = counts[type] ?? [:]
      lines.append(
        pad(type, 24) + pad("\(c[.queued] ?? 0)", 8) + pad("\(c[.scheduled] ?? 0)", 11)
          + pad("\(c[.waiting] ?? 0)", 9) + pad("\(c[.running] ?? 0)", 9) + "\(c[.dead] ?? 0)")
    }
    lines.append("")

    lines.append("RECENT FAILURES")
    let dead = (try? store.list(ListParams(state: .dead, limit: 5))) ?? []
    if dead.isEmpty { lines.append("  none") }
    for job in dead {
      let error = job.errors.last.map { JobRendering.oneLine($0.message, limit: width) } ?? ""
      lines.append("  #\(job.id) \(job.type) dead after \(job.attempts): \(error)")
    }
    return lines
  }

  /// The supervisor's status reply, or nil when none answers.
  static func status(_ socket: String) -> JSONValue? {
    guard var client = try? ControlClient(socketPath: socket, timeout: .seconds(1)) else {
      return nil
    }
    defer { client.close() }
    guard let reply = try? client.call(.status, timeout: .seconds(2)),
      reply["ok"]?.boolValue == true
    else { return nil }
    return reply
  }

  func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
  }

  func format1(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}
