import ArgumentParser
import DroverCore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `drover demo`: a supervisor on the demo config, a mixed workload, and a live view, until
/// Ctrl-C (which drains) or `--seconds` have passed.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run a supervisor with a mixed workload and show what happens (Ctrl-C drains).",
    discussion: """
      Starts `drover serve` on the config (default config/demo.toml, whose pools use the \
      built-in handlers noop, sleep, fail and crash), enqueues jobs of every kind through the \
      control socket, and prints once a second: workers per pool, jobs by state, throughput. \
      Ctrl-C (or the end of --seconds) stops the workload and sends SIGINT to the supervisor, \
      which drains and exits; the supervisor's own log goes to var/serve.log beside the store.
      """)

  @Option(
    name: .long,
    help: ArgumentHelp("The config file (default: config/demo.toml).", valueName: "path"))
  var config: String = "config/demo.toml"
  @Option(help: "Stop after this many seconds (default: run until Ctrl-C).") var seconds: Int?
  @Option(help: "No-op jobs per second in the workload.") var rate: Int = 500

  /// What to run next to look at what happened: the demo's store stays behind.
  static func printNextSteps(config: String, log: String) {
    let c = "--config \(config)"
    Output.out(
      """

      Look at what happened (the store and the log stay):
        drover jobs stats \(c)
        drover jobs list --state dead \(c)     # the fail and crash jobs, with their errors
        drover jobs show ID \(c)               # one job: attempts, errors, times
        drover events \(c)                     # the recent lifecycle events
        less \(log)                            # the supervisor's log
      Run it again and watch it live from another terminal: drover top \(c)
      (drover is .build/release/drover)
      """)
  }

  func run() throws {
    try Signals.blockForProcess([SIGINT, SIGTERM])
    signal(SIGPIPE, SIG_IGN)
    let signals = try SignalFD(signals: [SIGINT, SIGTERM])
    let cfg: DroverConfig
    do { cfg = try ConfigLoader.load(path: config) } catch { throw CLIError(error.description) }
    try Directories.makeParents(for: cfg)
    let logPath =
      String(cfg.store.path[..<(cfg.store.path.lastIndex(of: "/") ?? cfg.store.path.startIndex)])
      + "/serve.log"
    let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard logFD >= 0 else { throw CLIError("cannot open \(logPath)") }
    // Its own process group: Ctrl-C reaches only the demo, which then asks the supervisor to
    // drain, so the two never race.
    let pid = try ProcessSpawner.spawn(
      executable: SelfExecutable.path(), arguments: ["serve", "--config", config],
      standardError: .fd(logFD), processGroup: .newGroup)
    FD.close(logFD)
    Output.err(
      "drover demo: supervisor \(pid) on \(config), log in \(logPath); Ctrl-C drains and exits")

    var client: ControlClient? = nil
    let bootDeadline = Monotonic.nanoseconds() + 15_000_000_000
    while client == nil {
      if let st = try? ProcessReaper.reap(pid) {
        throw CLIError("the supervisor exited at start-up (\(st)); see \(logPath)")
      }
      if let c = try? ControlClient(socketPath: cfg.control.socket, timeout: .seconds(1)) {
        client = c
      } else {
        guard Monotonic.nanoseconds() < bootDeadline else {
          try? Signals.send(signal: SIGKILL, to: pid)
          throw CLIError("the supervisor did not open its control socket; see \(logPath)")
        }
        usleep(50_000)
      }
    }
    var ctl = client!
    let started = Monotonic.nanoseconds()
    var lastPrint = started
    var lastCompleted: Int64 = 0
    var tick = 0
    var stopping = false
    var rng = SystemRandomNumberGenerator()
    while true {
      if let sig = try signals.next() {
        if !stopping {
          Output.err("drover demo: signal \(sig): draining the supervisor…")
          stopping = true
          try? Signals.send(signal: SIGINT, to: pid)
        } else {
          try? Signals.send(signal: SIGINT, to: pid)
        }
      }
      if let s = seconds, !stopping, Monotonic.nanoseconds() - started > Int64(s) * 1_000_000_000 {
        Output.err("drover demo: \(s) s are up: draining the supervisor…")
        stopping = true
        try? Signals.send(signal: SIGINT, to: pid)
      }
      if let st = try? ProcessReaper.reap(pid) {
        Output.out("supervisor exited: \(st)")
        Self.printNextSteps(config: config, log: logPath)
        return
      }
      if !stopping {
        tick += 1
        var requests: [ControlRequest] = []
        for _ in 0..<max(0, rate / 10) {
          requests.append(.enqueue(EnqueueRequest(type: "noop")))
        }
        if tick % 2 == 0 {
          let ms = Int64.random(in: 100...1500, using: &rng)
          requests.append(.enqueue(EnqueueRequest(type: "sleep", payload: ["ms": .int(ms)])))
        }
        if tick % 10 == 0 {
          requests.append(
            .enqueue(EnqueueRequest(type: "fail", payload: ["message": "demo failure"])))
        }
        if tick % 50 == 0 { requests.append(.enqueue(EnqueueRequest(type: "crash"))) }
        _ = try? ctl.pipeline(requests)
      }
      let now = Monotonic.nanoseconds()
      if now - lastPrint >= 1_000_000_000 {
        if let status = try? ctl.call(.status, timeout: .seconds(5)) {
          let jobs = status["jobs"]
          let completed = jobs?["completed"]?.intValue ?? 0
          let rate =
            lastCompleted == 0
            ? 0 : Double(completed - lastCompleted) * 1e9 / Double(now - lastPrint)
          lastCompleted = completed
          var pools: [String] = []
          for p in status["pools"]?.arrayValue ?? [] {
            let ws = p["workers"]?.arrayValue ?? []
            let busy = ws.filter { $0["busy"]?.boolValue == true }.count
            var s = "\(p["name"]?.stringValue ?? "?")=\(ws.count)(\(busy) busy)"
            if p["crash_looping"]?.boolValue == true { s += "!" }
            pools.append(s)
          }
          let t = (now - started) / 1_000_000_000
          Output.out(
            "t=\(t)s \(status["state"]?.stringValue ?? "?") | workers "
              + pools.joined(separator: " ") + " | "
              + JobState.allCases.map { "\($0.name) \(jobs?[$0.name]?.intValue ?? 0)" }.joined(
                separator: ", ")
              + " | \(Int(rate)) jobs/s")
        }
        lastPrint = now
      }
      usleep(100_000)
    }
  }
}
