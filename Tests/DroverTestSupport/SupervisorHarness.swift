public import DroverCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A harness failure: a bounded wait that ran out, a supervisor that died, a bad reply. The
/// text carries the tail of the supervisor's log.
public struct HarnessError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Runs the real `drover serve` in a temp folder for process-level tests, and cleans up after
/// it without leaks.
///
/// Every wait is bounded. When the harness goes away (test passed, failed or threw) it
/// SIGKILLs every supervisor it started, their process groups, and every worker it ever saw
/// (found in `status` replies and in `/proc/PID/task/*/children` of the supervisor), so even
/// workers that moved to a group of their own or outlived a killed supervisor die.
///
/// Not thread-safe: one test drives one harness.
public final class SupervisorHarness {
  /// Flags for fast tests: frequent heartbeats, a short hung-worker and stop grace, debug logs.
  public static let fastFlags = [
    "--heartbeat-ms", "200", "--heartbeat-timeout-ms", "3000", "--stop-grace-ms", "300",
    "--log-level", "debug",
  ]

  public let dir: TempDirectory
  /// The `drover` executable.
  public let binary: String
  public let configPath: String
  /// The supervisor now running (nil before `start` and after `stop`/`kill`).
  public private(set) var serve: RunningChild?
  /// Every supervisor started, oldest first (their logs, and cleanup).
  public private(set) var started: [RunningChild] = []
  /// Every worker pid ever seen.
  public private(set) var seenWorkers: Set<Int32> = []

  /// A folder with `drover.toml` made of `configText(pools:drainTimeout:store:)`.
  public init(pools: String, drainTimeout: String = "10s", store: String = "") throws {
    dir = try TempDirectory(prefix: "drover-sup")
    binary = try DroverBinary.path()
    configPath = dir.file("drover.toml")
    try writeConfig(Self.configText(pools: pools, drainTimeout: drainTimeout, store: store))
  }

  /// A harness whose store is the PostgreSQL database at `url` (`[store] url`), with more
  /// `[store]` lines (`heartbeat = "500ms"`) when given. Several harnesses on one URL are
  /// several supervisors ("hosts") sharing one queue, each with its own folder and socket.
  public convenience init(
    pools: String, postgresURL url: String, drainTimeout: String = "10s", store: String = ""
  ) throws {
    try self.init(
      pools: pools, drainTimeout: drainTimeout, store: "url = \"\(url)\"\n\(store)")
  }

  deinit { cleanup() }

  /// A whole config: store and socket under `var/`, the drain timeout, then `pools` verbatim;
  /// `store` adds lines to the `[store]` table.
  public static func configText(pools: String, drainTimeout: String = "10s", store: String = "")
    -> String
  {
    """
    [store]
    path = "var/drover.db"
    \(store)

    [control]
    socket = "var/control.sock"

    [supervisor]
    drain_timeout = "\(drainTimeout)"

    \(pools)
    """
  }

  public var storePath: String { dir.file("var/drover.db") }
  public var socketPath: String { dir.file("var/control.sock") }

  /// Replaces the config file (atomically: a reload never reads half a file).
  public func writeConfig(_ text: String) throws {
    try write("drover.toml", text)
  }

  /// Writes `text` to `name` in the folder (atomically) and returns its path.
  @discardableResult
  public func write(_ name: String, _ text: String, mode: Int? = nil) throws -> String {
    let path = dir.file(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    if let mode { chmod(path, mode_t(mode)) }
    return path
  }

  /// The environment of every child: this process's, minus what would change what drover
  /// does, plus `changes` (nil removes).
  public func environment(_ changes: [String: String?] = [:]) -> [String: String] {
    var all: [String: String?] = [
      "DROVER_CONFIG": nil, "NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil,
    ]
    for (k, v) in changes { all[k] = v }
    return ChildProcess.environment(all)
  }

  // MARK: Supervisor life

  /// Starts `drover serve --config … FLAGS` and, unless told otherwise, waits until its status
  /// says `running`. With `shellPrefix` (say `ulimit -n 64`) it runs behind that shell code.
  /// With `launcher` (say `systemd-socket-activate -l PATH`) that command runs it: the
  /// launcher must exec `drover serve …` in its own process, so the child's pid stays the
  /// supervisor's. Throws (with its log) if it exits or does not get there in time.
  @discardableResult
  public func start(
    flags: [String] = SupervisorHarness.fastFlags, environment changes: [String: String?] = [:],
    shellPrefix: String? = nil, launcher: [String] = [], waitUntilRunning: Bool = true,
    timeout: Duration = .seconds(20)
  ) throws -> RunningChild {
    precondition(serve == nil, "a supervisor is already running")
    var arguments = ["serve", "--config", configPath] + flags
    var binary = self.binary
    if let first = launcher.first {
      arguments = launcher.dropFirst() + [binary] + arguments
      binary = first
    }
    // `sh -c 'PREFIX; exec drover serve …'`: the shell execs, so the child's pid is the
    // supervisor's (a `ulimit` in the prefix applies to it alone).
    let child =
      try shellPrefix.map {
        try ChildProcess.start(
          "/bin/sh", ["-c", "\($0); exec \"$0\" \"$@\"", binary] + arguments,
          environment: environment(changes))
      }
      ?? ChildProcess.start(binary, arguments, environment: environment(changes))
    serve = child
    started.append(child)
    if waitUntilRunning {
      try waitUntil("the supervisor is running", timeout: timeout) {
        try state() == "running"
      }
    }
    return child
  }

  /// The running supervisor, or a failure naming what happened to it.
  public func supervisor() throws -> RunningChild {
    guard let serve else { throw HarnessError("no supervisor is running") }
    if let status = serve.poll() {
      throw HarnessError("the supervisor exited (\(status)); log:\n\(logTail())")
    }
    return serve
  }

  /// Sends `signal` (default 15, SIGTERM) to the supervisor only (not its group) and waits for
  /// it to exit.
  @discardableResult
  public func stop(signal: Int32 = 15, timeout: Duration = .seconds(20)) throws
    -> ProcessOutput
  {
    let child = try supervisor()
    child.kill(signal)
    return try waitForExit(timeout: timeout)
  }

  /// Waits for the supervisor to exit by itself; on timeout it is SIGKILLed (by
  /// `waitForExit`) and this throws.
  @discardableResult
  public func waitForExit(timeout: Duration) throws -> ProcessOutput {
    guard let child = serve else { throw HarnessError("no supervisor is running") }
    noteChildren()
    defer { serve = nil }
    return try child.waitForExit(timeout: timeout)
  }

  /// SIGKILLs everything this harness started: supervisors, their groups, every worker seen.
  /// Harmless when repeated.
  public func cleanup() {
    for child in started { noteChildren(of: child.pid) }
    for child in started {
      child.killGroup(SIGKILL)
      child.kill(SIGKILL)
    }
    for pid in seenWorkers where Self.isWorkerOf(binary: binary, pid: pid) {
      Glibc.kill(pid, SIGKILL)
    }
    for child in started { _ = try? child.waitForExit(timeout: .seconds(10)) }
    // What they started in groups of their own (a worker's group, an exec command): a group
    // id stays allocated while the group has members, so a group whose leader is gone, or is
    // still one of our workers, is ours. (pid_max may be small: never trust a bare pid.)
    let groups = Set(started.map(\.pid)).union(seenWorkers).filter {
      !Self.isAlive($0) || Self.isWorkerOf(binary: binary, pid: $0)
    }
    for pid in Self.processes(inGroups: groups) { Glibc.kill(pid, SIGKILL) }
    serve = nil
  }

  /// The current supervisor's stderr (its log) so far.
  public func log() -> String {
    String(decoding: serve?.stderrSoFar() ?? started.last?.stderrSoFar() ?? [], as: UTF8.self)
  }

  /// Every supervisor's log, oldest first.
  public func allLogs() -> String {
    started.map { String(decoding: $0.stderrSoFar(), as: UTF8.self) }.joined(
      separator: "\n----- next supervisor -----\n")
  }

  /// The last ~4000 characters of every log, for failure messages.
  public func logTail() -> String { String(allLogs().suffix(4000)) }

  // MARK: Control socket

  /// One request on a fresh connection; the reply parsed. Does not check `ok`.
  public func request(_ line: String, timeout: Duration = .seconds(10)) throws -> JSONValue {
    let client = try ControlSocket(path: socketPath)
    try client.send(line + "\n")
    guard let reply = try client.readLine(timeout: timeout) else {
      throw HarnessError("the supervisor hung up without answering \(line)")
    }
    do { return try JSONValue.parse(reply) } catch {
      throw HarnessError("the reply to \(line) is not JSON (\(error)): \(reply)")
    }
  }

  /// `{"cmd": "status"}`; remembers the workers it names.
  public func status() throws -> JSONValue {
    let s = try request(#"{"cmd":"status"}"#)
    guard s["ok"]?.boolValue == true else { throw HarnessError("status failed: \(s.render())") }
    for p in s["pools"]?.arrayValue ?? [] {
      for w in p["workers"]?.arrayValue ?? [] {
        if let pid = w["pid"]?.intValue { seenWorkers.insert(Int32(pid)) }
      }
    }
    noteChildren()
    return s
  }

  /// The supervisor's `state`.
  public func state() throws -> String? { try status()["state"]?.stringValue }

  /// One pool's object in `status`.
  public func pool(_ name: String) throws -> JSONValue {
    guard
      let p = try status()["pools"]?.arrayValue?.first(where: { $0["name"]?.stringValue == name })
    else { throw HarnessError("status has no pool \(name)") }
    return p
  }

  /// The workers of a pool in `status` (all of them: booting, ready and retiring).
  public func workers(_ pool: String) throws -> [JSONValue] {
    try self.pool(pool)["workers"]?.arrayValue ?? []
  }

  /// The pids of a pool's workers in `status`.
  public func workerPIDs(_ pool: String) throws -> [Int32] {
    try workers(pool).compactMap { $0["pid"]?.intValue.map { Int32($0) } }
  }

  /// Job counts by state from `status`.
  public func jobCounts() throws -> [String: Int64] {
    var counts: [String: Int64] = [:]
    for f in try status()["jobs"]?.objectValue ?? [] { counts[f.key] = f.value.intValue }
    return counts
  }

  /// `enqueue` over the control socket; returns the id.
  public func enqueueViaSocket(_ type: String, _ payload: String = "{}") throws -> JobID {
    let r = try request(#"{"cmd":"enqueue","type":"\#(type)","payload":\#(payload)}"#)
    guard r["ok"]?.boolValue == true, let id = r["id"]?.intValue else {
      throw HarnessError("enqueue failed: \(r.render())")
    }
    return id
  }

  // MARK: CLI

  /// Runs `drover ARGS --config CONFIG` to completion.
  public func drover(_ args: [String], timeout: Duration = .seconds(30)) throws -> ProcessOutput {
    try ChildProcess.run(
      binary, args + ["--config", configPath], environment: environment(), timeout: timeout)
  }

  /// `drover enqueue TYPE PAYLOAD ARGS`; returns the printed id.
  public func enqueue(_ type: String, _ payload: String = "{}", _ args: [String] = []) throws
    -> JobID
  {
    let r = try drover(["enqueue", type, payload] + args)
    guard r.exitCode == 0, let id = JobID(r.trimmedStdout) else {
      throw HarnessError("enqueue \(type) \(payload) failed (\(r.status)): \(r.stderrText)")
    }
    return id
  }

  /// `drover jobs show ID --json`, parsed.
  public func job(_ id: JobID) throws -> JSONValue {
    let r = try drover(["jobs", "show", String(id), "--json"])
    guard r.exitCode == 0 else { throw HarnessError("jobs show \(id) failed: \(r.stderrText)") }
    return try JSONValue.parse(r.stdoutText)
  }

  /// A job's state name.
  public func jobState(_ id: JobID) throws -> String? { try job(id)["state"]?.stringValue }

  /// The messages of a job's errors, oldest first.
  public func jobErrors(_ id: JobID) throws -> [String] {
    try job(id)["errors"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
  }

  /// `drover jobs stats --json`, as state name → count.
  public func stats() throws -> [String: Int64] {
    let r = try drover(["jobs", "stats", "--json"])
    guard r.exitCode == 0 else { throw HarnessError("jobs stats failed: \(r.stderrText)") }
    var counts: [String: Int64] = [:]
    for f in try JSONValue.parse(r.stdoutText).objectValue ?? [] {
      counts[f.key] = f.value.intValue
    }
    return counts
  }

  // MARK: Waiting and processes

  /// Polls `condition` every `every` until it is true; throws after `timeout`, naming `what`,
  /// the condition's last error, and the supervisor's log. An error thrown by the condition
  /// counts as "not yet".
  public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), every: Duration = .milliseconds(25),
    _ condition: () throws -> Bool
  ) throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
      do {
        if try condition() { return }
        lastError = nil
      } catch {
        lastError = error
      }
      if ContinuousClock.now >= deadline {
        throw HarnessError(
          "timed out after \(timeout) waiting until \(what)"
            + (lastError.map { " (last error: \($0))" } ?? "") + "; log:\n\(logTail())")
      }
      Self.pause(every)
    }
  }

  /// Records the current children of the supervisor (its workers) as seen.
  public func noteChildren() {
    if let serve { noteChildren(of: serve.pid) }
  }

  private func noteChildren(of pid: Int32) {
    for child in Self.children(of: pid) { seenWorkers.insert(child) }
  }

  /// The live children of `pid`, from `/proc/PID/task/*/children`.
  public static func children(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    var out: [Int32] = []
    for t in tasks {
      guard
        let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8)
      else { continue }
      out += text.split(separator: " ").compactMap {
        Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
      }
    }
    return out
  }

  /// Live processes whose process group is one of `groups`.
  static func processes(inGroups groups: Set<Int32>) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      // After "comm)": state, ppid, pgrp.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 2 && Int32(fields[2]).map(groups.contains) == true
    }
  }

  /// Whether `pid` is a live process (not gone, not a zombie waiting for its reaper).
  public static func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].dropFirst().first
    return state != "Z" && state != "X"
  }

  /// The argv of `pid`, or nil when it is gone.
  public static func commandLine(_ pid: Int32) -> [String]? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty
    else { return nil }
    return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Whether `pid` is alive and runs `BINARY worker …` (a booting worker, or a fake worker
  /// script) or titled itself `drover worker pool=NAME`.
  static func isWorkerOf(binary: String, pid: Int32) -> Bool {
    guard isAlive(pid), let argv = commandLine(pid) else { return false }
    return (argv.contains("worker") && argv.contains("--pool"))
      || argv.first?.hasPrefix("drover worker pool=") == true
  }

  /// Sleeps for `d` (a test's pause between polls).
  public static func pause(_ d: Duration) {
    let ns = max(
      Int64(d.components.seconds) * 1_000_000_000 + d.components.attoseconds / 1_000_000_000, 0)
    var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var left = timespec()
    while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
  }
}
